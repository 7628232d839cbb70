import { spawn } from "node:child_process";
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { DatabaseError } from "./errors.ts";

/** The file whose kernel lock (flock) says which process owns a data directory. */
export function lockFilePath(dataDir: string): string {
  return path.join(dataDir, "lock");
}

/** Releases a data-directory lock; safe to call twice. */
export type ReleaseLock = () => void;

/**
 * Takes the data directory's lock if it is free, without waiting; undefined if another process
 * holds it. The lock is an flock(2) on `<dataDir>/lock`, taken by util-linux `flock(1)` on this
 * process's open descriptor (Node has no flock of its own): the kernel keeps it for as long as
 * the descriptor is open, so it lasts the process's life (a stopped process keeps it) and ends
 * with the process however it dies. No timestamps, no takeover.
 */
export async function tryLockDataDir(
  dataDir: string,
  role: LockRole = "command",
): Promise<ReleaseLock | undefined> {
  const file = lockFilePath(dataDir);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  let locked = false;
  try {
    locked = await flockNonBlocking(fd, file);
    if (!locked) return undefined;
    // Who holds it and why, for the next process: its busy message, and whether to keep
    // waiting for a server that will share the database once it has started.
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid} ${role}\n`, 0);
    let open = true;
    return () => {
      if (open) closeSync(fd);
      open = false;
    };
  } finally {
    if (!locked) closeSync(fd);
  }
}

/**
 * `server`: the holder shares the database on its socket once started (`serve`), so a process
 * waiting for the lock keeps waiting for the socket; `command`: it holds it until it exits.
 */
export type LockRole = "server" | "command";

/** What the current holder wrote: its process id and role, when readable. */
export function lockHolder(dataDir: string): { pid: number; role: LockRole } | undefined {
  try {
    const [pidText, role] = readFileSync(lockFilePath(dataDir), "utf8").trim().split(" ");
    const pid = Number.parseInt(pidText ?? "", 10);
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return { pid, role: role === "server" ? "server" : "command" };
  } catch {
    return undefined;
  }
}

function flockNonBlocking(fd: number, file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    // The child gets the descriptor as its fd 3 and locks the shared open file description; the
    // lock stays with this process's descriptor when the child exits.
    const child = spawn("flock", ["--exclusive", "--nonblock", "3"], {
      stdio: ["ignore", "ignore", "ignore", fd],
    });
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "ENOENT"
          ? new DatabaseError(
              "lock_unavailable",
              "The embedded database needs the flock command (util-linux) to lock its data directory; install it, or set DATABASE_URL to use Postgres.",
            )
          : error,
      ),
    );
    child.once("exit", (code) => {
      if (code === 0) resolve(true);
      else if (code === 1) resolve(false);
      else
        reject(
          new DatabaseError("lock_unavailable", `flock could not lock ${file} (exit ${code}).`),
        );
    });
  });
}
