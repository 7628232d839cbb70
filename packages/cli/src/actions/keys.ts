import { FernetKey } from "@imap-proxy/crypto";
import { rotateMailboxSecrets } from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import type { KeysRotateFlags } from "../commands/keys-rotate.ts";

export function runKeysGenerate(io: Io): void {
  writeLine(io.stdout, FernetKey.generate());
}

export async function runKeysRotate(flags: KeysRotateFlags, io: Io): Promise<void> {
  const keyring = await keyringFor(io);
  const batchSize = Math.max(1, Number.parseInt(flags.batchSize, 10) || 200);
  const report = await withDatabase(io, ({ db }) =>
    rotateMailboxSecrets(db, keyring, { batchSize }),
  );
  if (flags.json) writeJson(io, report);
  else
    writeLine(
      io.stdout,
      `Rotated the secrets of ${report.rewritten} of ${report.mailboxes} mailbox(es) to the current key.`,
    );
}
