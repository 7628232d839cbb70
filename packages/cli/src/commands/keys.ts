import { FernetKey } from "@imap-proxy/crypto";
import { rotateMailboxSecrets } from "@imap-proxy/db";
import type { Command } from "commander";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { type CommonFlags, addCommonFlags } from "./common.ts";

export function registerKeyCommands(program: Command, io: Io): void {
  program
    .command("keys:generate")
    .description("print a new Fernet key (and nothing else) for FERNET_KEY")
    .action(() => writeLine(io.stdout, FernetKey.generate()));

  addCommonFlags(
    program
      .command("keys:rotate")
      .description(
        "re-encrypt every stored secret under the first key of FERNET_KEY (FERNET_KEY=new,old)",
      )
      .option("--batch-size <n>", "mailboxes per transaction", "200"),
  ).action(async (flags: CommonFlags & { batchSize: string }) => {
    const keyring = keyringFor(io);
    const batchSize = Math.max(1, Number.parseInt(flags.batchSize, 10) || 200);
    const report = await withDatabase(io, ({ db }) =>
      rotateMailboxSecrets(db, keyring, { batchSize }),
    );
    if (flags.json) writeJson(io, report);
    else
      writeLine(
        io.stdout,
        `Rotated secrets of ${report.rewritten} of ${report.mailboxes} mailbox(es) to the current key.`,
      );
  });
}
