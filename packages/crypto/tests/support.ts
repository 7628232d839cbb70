import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The Fernet spec's official vectors, kept in shared/ beside the repository. */
export const vectorsDir =
  process.env.IMAP_PROXY_FERNET_VECTORS ?? path.resolve(here, "../../../../shared/fixtures/fernet");

export function readVectors<T>(name: string): T[] {
  const file = path.join(vectorsDir, name);
  if (!existsSync(file)) {
    throw new Error(`Fernet spec vectors not found at ${file}; set IMAP_PROXY_FERNET_VECTORS.`);
  }
  return JSON.parse(readFileSync(file, "utf8")) as T[];
}

export const seconds = (rfc3339: string) => Math.floor(Date.parse(rfc3339) / 1000);

export const python = process.env.PYTHON ?? "python3";
export const pythonHasCryptography =
  spawnSync(python, ["-c", "import cryptography.fernet"], { stdio: "ignore" }).status === 0;

/** Runs a Python snippet with JSON on stdin and returns its JSON stdout. */
export function runPython<T>(code: string, input: unknown): T {
  const result = spawnSync(python, ["-c", code], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
