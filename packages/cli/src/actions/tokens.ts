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
  const issued = await withDatabase(io, async ({ db }) => {
    let mailboxId: string;
    let permissions = flags.permission ?? [];
    let expiresIn = flags.expiresIn;
    if (flags.mailbox === undefined || permissions.length === 0) {
      if (!canPrompt(io, flags)) {
        const missing = [
          flags.mailbox === undefined && "--mailbox",
          permissions.length === 0 && "--permission",
        ].filter(Boolean);
        throw new CliError("missing_input", `Missing required input: ${missing.join(", ")}.`);
      }
      const prompts = promptsFor(io);
      prompts.intro("Issue an access token");
      if (flags.mailbox === undefined) {
        const all = await listMailboxes(db);
        if (all.length === 0)
          throw new CliError(
            "no_mailboxes",
            "No mailboxes yet; create one with `imap-proxy mailboxes:create`.",
          );
        mailboxId = await prompts.select<string>({
          message: "Mailbox",
          options: all.map((m) => ({ value: m.id, label: m.email, hint: m.id })),
        });
      } else {
        mailboxId = (await getMailbox(db, flags.mailbox)).id;
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
    } else {
      mailboxId = (await getMailbox(db, flags.mailbox)).id;
    }
    return issueToken(signer, {
      mailboxId,
      permissions,
      ...(expiresIn === undefined ? {} : { expiresIn }),
    });
  });
  if (flags.json) writeJson(io, issued);
  else writeLine(io.stdout, issued.token);
}
