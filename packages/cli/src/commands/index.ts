import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { bounces } from "./bounces.ts";
import { dbMigrate } from "./db-migrate.ts";
import { keysCheck } from "./keys-check.ts";
import { keysGenerate } from "./keys-generate.ts";
import { keysRotate } from "./keys-rotate.ts";
import { mailboxesCreate } from "./mailboxes-create.ts";
import { mailboxesDelete } from "./mailboxes-delete.ts";
import { mailboxesList } from "./mailboxes-list.ts";
import { mailboxesResume } from "./mailboxes-resume.ts";
import { mailboxesShow } from "./mailboxes-show.ts";
import { mailboxesUpdate } from "./mailboxes-update.ts";
import { mailboxesVerifyImap } from "./mailboxes-verify-imap.ts";
import { mailboxesVerifySmtp } from "./mailboxes-verify-smtp.ts";
import { messagesRetry } from "./messages-retry.ts";
import { serve } from "./serve.ts";
import { tokensIssue } from "./tokens-issue.ts";
import { worker } from "./worker.ts";

/*
 * Every command, in `--help` order. One file per command holds its options and its action; the
 * action loads its implementation (src/actions/) on demand, so a command pays only for the
 * modules it uses (start-up time is dominated by module compilation). To add a command: a file
 * here exporting `(io) => Command`, its implementation under actions/, and one line below.
 */
const COMMANDS: ((io: Io) => CommandUnknownOpts)[] = [
  mailboxesCreate,
  mailboxesList,
  mailboxesShow,
  mailboxesUpdate,
  mailboxesDelete,
  mailboxesVerifySmtp,
  mailboxesVerifyImap,
  mailboxesResume,
  messagesRetry,
  worker,
  bounces,
  keysGenerate,
  keysRotate,
  keysCheck,
  tokensIssue,
  serve,
  dbMigrate,
];

export function registerCommands(program: CommandUnknownOpts, io: Io): void {
  for (const command of COMMANDS) program.addCommand(command(io));
}
