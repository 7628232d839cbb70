import {
  PERMISSIONS,
  PERMISSION_NAMES,
  type Permission,
  issueToken,
  signerFromEnv,
} from "@imap-proxy/auth";
import { getMailbox, listMailboxes } from "@imap-proxy/db";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { promptsFor } from "../prompts/clack.ts";
import { withDatabase } from "../runtime.ts";
import type { TokensIssueFlags } from "../commands/tokens-issue.ts";
import { canPrompt } from "./common.ts";

export async function runTokensIssue(flags: TokensIssueFlags, io: Io): Promise<void> {
  // Fail on configuration before touching the database.
  const signer = await signerFromEnv(io.env);
  let permissions = flags.permission ?? [];
  let expiresIn = flags.expiresIn;
  let mailboxRef = flags.mailbox;
  if (mailboxRef === undefined || permissions.length === 0) {
    if (!canPrompt(io, flags)) {
      const missing = [
        mailboxRef === undefined && "--mailbox",
        permissions.length === 0 && "--permission",
      ].filter(Boolean);
      throw new CliError("missing_input", `Missing required input: ${missing.join(", ")}.`);
    }
    // What the prompts offer is read first; the database is closed again while a person answers.
    const choices = await withDatabase(io, ({ db }) =>
      mailboxRef === undefined ? listMailboxes(db) : getMailbox(db, mailboxRef).then(() => []),
    );
    const prompts = promptsFor(io);
    prompts.intro("Issue an access token");
    if (mailboxRef === undefined) {
      if (choices.length === 0)
        throw new CliError(
          "no_mailboxes",
          "No mailboxes yet; create one with `imap-proxy mailboxes:create`.",
        );
      mailboxRef = await prompts.select<string>({
        message: "Mailbox",
        options: choices.map((m) => ({ value: m.id, label: m.email, hint: m.id })),
      });
    }
    if (permissions.length === 0) {
      permissions = await prompts.multiselect<Permission>({
        message: "Permissions",
        options: PERMISSION_NAMES.map((name) => ({
          value: name,
          label: name,
          hint: PERMISSIONS[name],
        })),
        required: true,
      });
    }
    expiresIn ??= await prompts.text({ message: "Expires in", initialValue: "1h" });
  }
  const mailbox = mailboxRef;
  // Looked up (again) right before issuing: the mailbox may have gone while the prompts waited.
  const { id: mailboxId } = await withDatabase(io, ({ db }) => getMailbox(db, mailbox));
  const issued = await issueToken(signer, {
    mailboxId,
    permissions,
    ...(expiresIn === undefined ? {} : { expiresIn }),
  });
  if (flags.json) writeJson(io, issued);
  else writeLine(io.stdout, issued.token);
}
