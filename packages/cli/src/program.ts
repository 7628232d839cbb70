import { Command, CommanderError } from "@commander-js/extra-typings";
import { registerCommands } from "./commands/index.ts";
import { addDeferredOptions } from "./commands/options.ts";
import { isCodedError, printable } from "@imap-proxy/errors";
import { debugReport } from "./debug-report.ts";
import { EXIT_FAILURE, EXIT_USAGE, exitCodeFor } from "./errors.ts";
import { type Io, processIo, writeLine } from "./io.ts";

const ENVIRONMENT_HELP = `
Environment:
  DATABASE_URL          Postgres URL; unset = the embedded database (PGlite) in IMAP_PROXY_DATA_DIR
  IMAP_PROXY_DATA_DIR   embedded database and its generated key (default: ./.data where you run)
  IMAP_PROXY_LOCK_WAIT_MS  how long to wait for another process holding the embedded database (5000)
  FERNET_KEY            Fernet key(s) for stored passwords, comma-separated: first encrypts, any decrypts
                        (required with DATABASE_URL; generated into the data directory otherwise)
  JWT_SECRET            HS256 signing secret for tokens:issue (at least 32 bytes)
  JWT_ALGORITHM, JWT_PRIVATE_KEY_FILE, JWT_KEY_ID, JWT_PUBLIC_JWKS_FILE, JWT_ISSUER, JWT_AUDIENCE
  IMAP_PASSWORD, SMTP_PASSWORD   mailbox passwords for scripts (never pass them as flags)
  SMTP_CA_FILE, IMAP_CA_FILE   extra trusted CA certificates (PEM), added to Node's default trust
  HOST, PORT, MAX_MESSAGE_BYTES, RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST, LOG_LEVEL,
  PUBLIC_URL, TRACKING_SECRET, TRUST_PROXY   serve's settings (see the README)
  CI                    when set, never prompt

Without a terminal (or with --no-input) nothing is prompted: give every field as a flag.`;

export function buildProgram(io: Io): Command {
  const program = new Command()
    .name("imap-proxy")
    .description("Operate imap-proxy: mailboxes, keys, tokens and the database.")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander's own usage errors: one line, no help dump, the echoed argument escaped.
      outputError: (text) => io.stderr.write(printable(text.split("\n")[0]!) + "\n"),
    });
  registerCommands(program, io);
  program.hook("preSubcommand", (_program, command) => addDeferredOptions(command));
  program.addHelpText("after", ENVIRONMENT_HELP);
  for (const command of program.commands) {
    command
      .exitOverride()
      .configureOutput(program.configureOutput())
      .addHelpText("after", ENVIRONMENT_HELP);
  }
  return program;
}

/** Runs one command line and returns the exit code; errors become one line on stderr. */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const debug = argv.includes("--debug");
  try {
    await buildProgram(io).parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit through here too, with code 0.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (isCodedError(error)) {
      // Messages quote user input escaped already; this is the guard for any that does not.
      writeLine(
        io.stderr,
        error.code === "cancelled" ? "Cancelled" : `error: ${printable(error.message)}`,
      );
      if (debug) writeLine(io.stderr, printableLines(debugReport(error)));
      return exitCodeFor(error.code);
    }
    // Unexpected: a generic line. Raw driver messages can embed query parameters (ciphertexts).
    writeLine(
      io.stderr,
      `error: unexpected failure (${(error as Error)?.name ?? "unknown"}); rerun with --debug for details.`,
    );
    if (debug) writeLine(io.stderr, printableLines(debugReport(error)));
    return EXIT_FAILURE;
  }
}

const printableLines = (text: string) => text.split("\n").map(printable).join("\n");
