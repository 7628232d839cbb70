import path from "node:path";

const TEMP_ROOT = path.join(import.meta.dirname, "temp-root.js");

/**
 * Shared vitest settings. When VITEST_JSON_DIR is set (by .ci/run), each package also writes
 * vitest's JSON report there so the totals of every package and database can be summed.
 * @param {string} packageName
 * @returns {import("vitest/config").ViteUserConfig}
 */
export function packageTestConfig(packageName) {
  const jsonDir = process.env.VITEST_JSON_DIR;
  const backend = process.env.DATABASE_URL ? "postgres" : "pglite";
  /** @type {any[]} */
  const reporters = ["default"];
  if (jsonDir) {
    reporters.push([
      "json",
      { outputFile: path.join(jsonDir, `${packageName.replace(/\W+/g, "_")}-${backend}.json`) },
    ]);
  }
  return {
    test: {
      include: ["tests/**/*.test.ts"],
      globalSetup: [TEMP_ROOT],
      reporters,
      testTimeout: 120_000,
      hookTimeout: 120_000,
      // Two cores: files in parallel already saturate them; Postgres and PGlite are per file.
      maxWorkers: 2,
    },
  };
}
