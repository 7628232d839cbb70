import { DatabaseError, checkMailboxSecrets } from "@imap-proxy/db";
import type { KeysCheckFlags } from "../commands/keys-check.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";

/** Reads every stored secret with the configured keys; writes nothing. */
export async function runKeysCheck(flags: KeysCheckFlags, io: Io): Promise<void> {
  const keyring = await keyringFor(io);
  const check = await withDatabase(io, ({ db }) => checkMailboxSecrets(db, keyring));
  if (check.undecryptable.length > 0) {
    throw new DatabaseError(
      "undecryptable_secret",
      `No configured key decrypts the secrets of ${check.undecryptable.length} of ${check.mailboxes} mailbox(es): ${check.undecryptable.join(", ")}; add the key that encrypted them to FERNET_KEY.`,
    );
  }
  if (flags.json) writeJson(io, check);
  else
    writeLine(
      io.stdout,
      `All ${check.mailboxes} mailbox(es) decrypt with the configured keys` +
        (check.underOlderKey === 0
          ? "; every secret is under the first key."
          : `; ${check.underOlderKey} still under an older key (run keys:rotate before dropping it).`),
    );
}
