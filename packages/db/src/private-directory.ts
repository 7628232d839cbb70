import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { DatabaseError } from "./errors.ts";

const GROUP_OR_OTHER = 0o077;

/**
 * Creates the embedded data directory owner-only, or refuses one that group or others can
 * reach: whoever can write the database files can point a mailbox's SMTP host at their own
 * server and collect its password.
 */
export function ensurePrivateDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & GROUP_OR_OTHER) !== 0) {
    throw new DatabaseError(
      "unsafe_permissions",
      `The data directory ${dataDir} can be read or entered by other users (mode ${mode.toString(8)}); run \`chmod 700 ${dataDir}\` first.`,
    );
  }
}

/**
 * Takes group and other permissions off everything under `dir`. PGlite creates its files 0666
 * whatever the umask; the private data directory already shuts others out, and this keeps
 * each file private too should the directory's mode ever be loosened.
 */
export function makeTreePrivate(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    const mode = lstatSync(full).mode & 0o777;
    if ((mode & GROUP_OR_OTHER) !== 0) chmodSync(full, mode & ~GROUP_OR_OTHER);
    if (entry.isDirectory()) makeTreePrivate(full);
  }
  const mode = statSync(dir).mode & 0o777;
  if ((mode & GROUP_OR_OTHER) !== 0) chmodSync(dir, mode & ~GROUP_OR_OTHER);
}
