import { existsSync } from "node:fs";
import path from "node:path";
import { loadKeyring, type Keyring } from "@imap-proxy/crypto";
import {
  type DatabaseHandle,
  databaseTargetFromEnv,
  openDatabase,
  prepareSchema,
  storedSecretsExist,
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
 * A key is generated only while the database is open (holding its lock) and stores no secret,
 * so a lost key file is never silently replaced. `held`: the caller's open database.
 */
export async function keyringFor(io: Io, held?: DatabaseHandle): Promise<Keyring> {
  const target = databaseTargetFromEnv(io.env);
  const keyFile = target.kind === "pglite" ? path.join(target.dataDir, "fernet.key") : undefined;
  const load = (handle: DatabaseHandle | undefined) =>
    loadKeyring({
      fernetKey: io.env.FERNET_KEY,
      generatedKeyFile: keyFile,
      // Without an open database, assume there are secrets: never mint a key unchecked.
      storedSecretsExist: () => (handle ? storedSecretsExist(handle.db) : Promise.resolve(true)),
      notice: (message) => writeLine(io.stderr, message),
    });
  const mayGenerate = keyFile !== undefined && !io.env.FERNET_KEY?.trim() && !existsSync(keyFile);
  if (!mayGenerate) return load(undefined);
  return held ? load(held) : withDatabase(io, load);
}
