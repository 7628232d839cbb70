import { PERMISSION_NAMES } from "@imap-proxy/auth/permissions";
import { type Command, Option } from "commander";
import type { CommonFlags } from "./actions/common.ts";
import type { MailboxFlags } from "./actions/mailbox-input.ts";
import type { IssueFlags } from "./actions/tokens.ts";
import type { Io } from "./io.ts";

type MailboxCommandFlags = MailboxFlags &
  CommonFlags & { verify?: boolean; saveAnyway?: boolean; smtpTimeout?: string };

/*
 * Command definitions only. Each action loads its implementation on demand, so a command pays
 * only for the modules it uses (start-up time is dominated by module compilation).
 */

function withCommonFlags(command: Command): Command {
  return command
    .option("--json", "print exactly one JSON document on stdout")
    .option("--no-input", "never prompt; take everything from flags and env")
    .option("--debug", "print stack traces for unexpected errors");
}

function withMailboxFlags(command: Command): Command {
  return (
    command
      .option("--email <address>", "the mailbox's email address (unique, case-insensitive)")
      .option("--imap-host <host>", "IMAP server hostname or IP")
      .option("--imap-port <port>", "IMAP port (default 993)")
      .option("--imap-username <name>", "IMAP login")
      .option(
        "--imap-password-file <path>",
        "read the IMAP password from a file ('-' = stdin); or set IMAP_PASSWORD",
      )
      .option("--smtp-host <host>", "SMTP server hostname or IP")
      .option(
        "--smtp-port <port>",
        "SMTP port (default 465 for implicit, 587 for starttls_required)",
      )
      .option("--smtp-username <name>", "SMTP login")
      .option(
        "--smtp-password-file <path>",
        "read the SMTP password from a file ('-' = stdin); or set SMTP_PASSWORD",
      )
      .option("--smtp-tls-mode <mode>", "implicit | starttls_required (default starttls_required)")
      .option("--allow-port-mismatch", "accept 465 with starttls_required, or 587/25 with implicit")
      .option(
        "--verify",
        "check the SMTP settings before saving (connect, TLS, log in, send nothing)",
      )
      .option("--save-anyway", "with --verify: save even if the check fails")
      .option(
        "--smtp-timeout <duration>",
        "bound for each SMTP wait during --verify, e.g. 15s (default)",
      )
      // Accepted only to refuse them with a clear message: argv leaks into `ps` and history.
      .addOption(new Option("--imap-password <value>").hideHelp())
      .addOption(new Option("--smtp-password <value>").hideHelp())
  );
}

const mailboxes = () => import("./actions/mailboxes.ts");

export function registerCommands(program: Command, io: Io): void {
  withCommonFlags(
    withMailboxFlags(
      program
        .command("mailboxes:create")
        .description("register a mailbox (prompts in a terminal; flags in scripts)"),
    ),
  ).action(async (flags: MailboxCommandFlags) => (await mailboxes()).runMailboxesCreate(flags, io));

  withCommonFlags(
    program.command("mailboxes:list").description("list mailboxes (never passwords)"),
  ).action(async (flags: CommonFlags) => (await mailboxes()).runMailboxesList(flags, io));

  withCommonFlags(
    program.command("mailboxes:show").description("show one mailbox").argument("<id|email>"),
  ).action(async (idOrEmail: string, flags: CommonFlags) =>
    (await mailboxes()).runMailboxesShow(idOrEmail, flags, io),
  );

  withCommonFlags(
    withMailboxFlags(
      program
        .command("mailboxes:update")
        .description("change IMAP or SMTP settings, passwords included")
        .argument("<id|email>"),
    ),
  ).action(async (idOrEmail: string, flags: MailboxCommandFlags) =>
    (await mailboxes()).runMailboxesUpdate(idOrEmail, flags, io),
  );

  withCommonFlags(
    program
      .command("mailboxes:delete")
      .description("delete a mailbox; refused while mail is queued or in flight")
      .argument("<id|email>")
      .option("-y, --yes", "do not ask for confirmation"),
  ).action(async (idOrEmail: string, flags: CommonFlags & { yes?: boolean }) =>
    (await mailboxes()).runMailboxesDelete(idOrEmail, flags, io),
  );

  withCommonFlags(
    program
      .command("mailboxes:verify-smtp")
      .description("connect to the mailbox's SMTP server, upgrade, log in and quit; sends nothing")
      .argument("<id|email>")
      .option("--smtp-timeout <duration>", "bound for each SMTP wait, e.g. 15s (default) or 500ms"),
  ).action(async (idOrEmail: string, flags: CommonFlags & { smtpTimeout?: string }) =>
    (await import("./actions/smtp.ts")).runMailboxesVerifySmtp(idOrEmail, flags, io),
  );

  withCommonFlags(
    program
      .command("mailboxes:verify-imap")
      .description(
        "connect to the mailbox's IMAP server, upgrade, log in, list folders and log out; changes nothing",
      )
      .argument("<id|email>")
      .option(
        "--imap-timeout <duration>",
        "bound for connecting and the greeting, e.g. 15s (default)",
      ),
  ).action(async (idOrEmail: string, flags: CommonFlags & { imapTimeout?: string }) =>
    (await import("./actions/imap.ts")).runMailboxesVerifyImap(idOrEmail, flags, io),
  );

  withCommonFlags(
    program
      .command("bounces")
      .description(
        "read bounce and complaint reports from INBOX (and Junk), read-only, and mark recipients bounced",
      )
      .option(
        "--mailbox <id|email>",
        "this mailbox (default: every mailbox with bounce reading on)",
      )
      .option("--watch", "keep reading with IDLE until interrupted"),
  ).action(async (flags: CommonFlags & { mailbox?: string; watch?: boolean }) =>
    (await import("./actions/imap.ts")).runBounces(flags, io),
  );

  program
    .command("keys:generate")
    .description("print a new Fernet key (and nothing else) for FERNET_KEY")
    .action(async () => (await import("./actions/keys.ts")).runKeysGenerate(io));

  withCommonFlags(
    program
      .command("keys:rotate")
      .description(
        "re-encrypt every stored secret under the first key of FERNET_KEY (FERNET_KEY=new,old)",
      )
      .option("--batch-size <n>", "mailboxes per transaction", "200"),
  ).action(async (flags: CommonFlags & { batchSize: string }) =>
    (await import("./actions/keys.ts")).runKeysRotate(flags, io),
  );

  withCommonFlags(
    program
      .command("tokens:issue")
      .description("issue a JWT granting permissions on one mailbox (needs JWT_SECRET)")
      .option("--mailbox <id|email>", "the mailbox the token is for")
      .option(
        "--permission <name>",
        `a permission to grant, repeatable: ${PERMISSION_NAMES.join(", ")}`,
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option(
        "--expires-in <duration>",
        "lifetime such as 15m, 24h, 30d (default 1h, at most 90d)",
      ),
  ).action(async (flags: IssueFlags) =>
    (await import("./actions/tokens.ts")).runTokensIssue(flags, io),
  );

  withCommonFlags(
    program
      .command("db:migrate")
      .description("apply pending migrations to DATABASE_URL (or the embedded database)"),
  ).action(async (flags: CommonFlags) => (await import("./actions/db.ts")).runDbMigrate(flags, io));
}
