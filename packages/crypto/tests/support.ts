import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The Fernet spec's official vectors, committed byte for byte (see fixtures/fernet/README.md). */
export const vectorsDir = path.join(here, "fixtures", "fernet");

export function readVectors<T>(name: string): T[] {
  return JSON.parse(readFileSync(path.join(vectorsDir, name), "utf8")) as T[];
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
