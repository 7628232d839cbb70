// `pnpm --filter cli start <command>`: runs the bundle, first rebuilding it when it is missing or
// older than any source it is built from, so a fresh `pnpm install` needs no separate build and
// an edit is never run stale. The check is a walk of the workspace's src/ trees (a few ms); the
// build (esbuild, a few seconds) writes to stderr only, so stdout stays the command's own.
import { spawnSync } from "node:child_process";
import { readdirSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, "dist", "imap-proxy.js");

function newestMtime(entry) {
  let stat;
  try {
    stat = statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file changes its directory
  for (const name of readdirSync(entry))
    newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

/** Every workspace package's src/ (the bundle inlines them all), this package's build script. */
function sourcesMtime() {
  const packages = path.dirname(realpathSync(path.join(here, "node_modules", "@imap-proxy", "db")));
  let newest = Math.max(
    newestMtime(path.join(here, "src")),
    newestMtime(path.join(here, "build.mjs")),
  );
  for (const name of readdirSync(packages))
    newest = Math.max(newest, newestMtime(path.join(packages, name, "src")));
  return newest;
}

let built = 0;
try {
  built = statSync(bundle).mtimeMs;
} catch {
  // missing: built below
}
if (built === 0 || sourcesMtime() > built) {
  process.stderr.write(
    built === 0 ? "Building the CLI bundle (first run)…\n" : "Rebuilding the CLI bundle…\n",
  );
  const result = spawnSync(process.execPath, [path.join(here, "build.mjs")], {
    cwd: here,
    stdio: ["ignore", process.stderr, process.stderr],
  });
  if (result.status !== 0) {
    process.stderr.write(`error: building the CLI bundle failed (exit ${result.status}).\n`);
    process.exit(1);
  }
}
await import(pathToFileURL(bundle).href);
