import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { DatabaseError, openDatabase, pgliteDirectory, sql } from "../src/index.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "imap-proxy-perms-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every path under `dir` (itself included) whose mode lets group or others in. */
function reachableByOthers(dir: string): string[] {
  const found: string[] = [];
  const visit = (at: string) => {
    const stat = lstatSync(at);
    if (!stat.isSymbolicLink() && (stat.mode & 0o077) !== 0)
      found.push(`${(stat.mode & 0o777).toString(8)} ${at}`);
    if (stat.isDirectory()) for (const name of readdirSync(at)) visit(path.join(at, name));
  };
  visit(dir);
  return found;
}

// The embedded database only (run once, on the PGlite pass): a server keeps its own files.
describe.runIf(!process.env.DATABASE_URL)("the embedded database's files are private", () => {
  test("a fresh data directory: every directory and file is owner-only", async () => {
    const dataDir = path.join(scratch, "fresh");
    const handle = await openDatabase({ kind: "pglite", dataDir });
    try {
      await handle.db.execute(sql`CREATE TABLE probe (x int)`);
    } finally {
      await handle.close();
    }
    expect(existsSync(pgliteDirectory(dataDir))).toBe(true);
    expect(reachableByOthers(dataDir)).toEqual([]);
  });

  test("a data directory group or others can reach is refused, naming chmod; nothing is created", async () => {
    const dataDir = path.join(scratch, "shared");
    mkdirSync(dataDir);
    for (const mode of [0o755, 0o750, 0o701]) {
      chmodSync(dataDir, mode);
      const open = openDatabase({ kind: "pglite", dataDir });
      await expect(open).rejects.toThrow(DatabaseError);
      await expect(open).rejects.toThrow(
        new RegExp(`${dataDir} can be read or entered by other users .*chmod 700 ${dataDir}`),
      );
    }
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
