import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";

// A copy of this package without dist/ (its node_modules linked), so rebuilding never touches
// the bundle the other test files run.
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const copy = mkdtempSync(path.join(tmpdir(), "imap-proxy-start-"));
for (const entry of ["start.mjs", "build.mjs", "package.json", "src"])
  cpSync(path.join(packageDir, entry), path.join(copy, entry), { recursive: true });
symlinkSync(path.join(packageDir, "node_modules"), path.join(copy, "node_modules"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const bundle = path.join(copy, "dist", "imap-proxy.js");
const start = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(copy, "start.mjs"), ...args], {
    cwd: copy,
    encoding: "utf8",
    env: { PATH: process.env.PATH },
    timeout: 120_000,
  });

test("start builds a missing bundle, reuses a fresh one, and rebuilds a stale one", () => {
  expect(existsSync(bundle)).toBe(false);
  const first = start("keys:generate");
  expect(first.status, first.stderr).toBe(0);
  // stdout is the command's alone (TOKEN=$(… start …) keeps working); the build talks on stderr.
  expect(first.stdout).toMatch(/^[A-Za-z0-9_-]{43}=\n$/);
  expect(first.stderr).toMatch(/Building the CLI bundle/);
  expect(existsSync(bundle)).toBe(true);
  const builtAt = statSync(bundle).mtimeMs;

  const second = start("keys:generate");
  expect(second.status).toBe(0);
  expect(second.stderr).toBe("");
  expect(statSync(bundle).mtimeMs).toBe(builtAt);

  // An edited source is newer than the bundle: the next start rebuilds before running.
  const future = new Date(Date.now() + 60_000);
  utimesSync(path.join(copy, "src", "main.ts"), future, future);
  const third = start("keys:generate");
  expect(third.status, third.stderr).toBe(0);
  expect(third.stderr).toMatch(/Rebuilding the CLI bundle/);
  expect(statSync(bundle).mtimeMs).not.toBe(builtAt);
});
