import path from "node:path";
import { loadKeyring, type Keyring } from "@imap-proxy/crypto";
import {
  type DatabaseHandle,
  databaseTargetFromEnv,
  openDatabase,
  prepareSchema,
} from "@imap-proxy/db";
import { type Io, writeLine } from "./io.ts";

/**
 * Opens the configured database ready for use (the embedded one migrates itself; a server is
 * only checked), runs `work`, and always closes it so the process exits promptly.
 */
export async function withDatabase<T>(
  io: Io,
  work: (handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const handle = await openDatabase(databaseTargetFromEnv(io.env));
  try {
    await prepareSchema(handle);
    return await work(handle);
  } finally {
    await handle.close();
  }
}

/**
 * The keys for stored secrets: FERNET_KEY, or for the embedded database a key generated once
 * into its data directory. With DATABASE_URL and no FERNET_KEY this throws (fail closed).
 */
export function keyringFor(io: Io): Keyring {
  const target = databaseTargetFromEnv(io.env);
  return loadKeyring({
    fernetKey: io.env.FERNET_KEY,
    generatedKeyFile:
      target.kind === "pglite" ? path.join(target.dataDir, "fernet.key") : undefined,
    notice: (message) => writeLine(io.stderr, message),
  });
}
