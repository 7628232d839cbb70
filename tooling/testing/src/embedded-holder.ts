import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// tsx's loader inside the child itself (tsx's CLI would put a second process in between, which
// signals sent to the child would not reach).
const tsxLoader = pathToFileURL(
  path.join(
    path.dirname(createRequire(import.meta.url).resolve("tsx/package.json")),
    "dist/loader.mjs",
  ),
).href;
const holderProcess = fileURLToPath(new URL("./embedded-holder-process.ts", import.meta.url));

/**
 * Starts a process that holds the embedded database in `dataDir`: `share` serves it on its
 * socket as `serve` does, `hold` only keeps it open. Resolves once it holds the directory. On
 * SIGTERM it stops sharing (letting clients finish), closes and exits 0.
 */
export async function startEmbeddedHolder(
  mode: "share" | "hold",
  dataDir: string,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", tsxLoader, holderProcess, mode, dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes('"ready":true')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  return child;
}

/** Resolves with the exit code once the process has exited. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}
