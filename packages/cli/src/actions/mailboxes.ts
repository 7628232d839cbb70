import {
  type MailboxSettings,
  createMailbox,
  deleteMailbox,
  findMailboxRow,
  getMailbox,
  listMailboxes,
  updateMailbox,
} from "@imap-proxy/db";
import type { Keyring } from "@imap-proxy/crypto";
import { CancelledError, CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { promptsFor } from "../prompts/clack.ts";
import { MAILBOX_FIELDS, promptField } from "../prompts/fields.ts";
import { askSmtpModeAndPort, promptMailboxSettings, summary } from "../prompts/mailbox.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { DEFAULT_IMAP_PORT, defaultSmtpPort, portMismatch } from "../validation.ts";
import { type MailboxFlags, REQUIRED_FOR_CREATE, mailboxFieldsFromFlags } from "./mailbox-input.ts";
import { type CommonFlags, canPrompt } from "./common.ts";

export type CreateFlags = MailboxFlags &
  CommonFlags & { verify?: boolean; saveAnyway?: boolean; smtpTimeout?: string };

/**
 * Verifies SMTP and IMAP before saving when asked (--verify) or, interactively, when the operator agrees.
 * A failed check blocks saving unless the operator explicitly saves anyway. True = go on saving.
 */
async function verifyBeforeSaving(
  settings: MailboxSettings,
  flags: CreateFlags,
  io: Io,
): Promise<boolean> {
  const interactive = canPrompt(io, flags);
  const prompts = interactive ? promptsFor(io) : undefined;
  let wanted = flags.verify === true;
  if (!wanted && prompts) {
    wanted = await prompts.confirm({
      message: "Verify the SMTP and IMAP settings now (connect, upgrade, log in, change nothing)?",
      initialValue: true,
    });
  }
  if (!wanted) return true;
  const { checkSmtp, describeVerification, smtpSettingsOf, timeoutFromFlag } =
    await import("./smtp.ts");
  const { checkImap, describeImapVerification, imapSettingsOfInput } = await import("./imap.ts");
  const smtp = await checkSmtp(smtpSettingsOf(settings), io, timeoutFromFlag(flags.smtpTimeout));
  const imap = await checkImap(
    imapSettingsOfInput(settings),
    io,
    timeoutFromFlag(flags.smtpTimeout),
  );
  const ok = smtp.ok && imap.ok;
  // In scripts a blocking failure is reported once, as the error line below.
  if (interactive || ok || flags.saveAnyway) {
    const out = interactive ? io.stdout : io.stderr;
    writeLine(out, describeVerification(smtp));
    writeLine(out, describeImapVerification(imap));
  }
  if (ok || flags.saveAnyway) return true;
  if (prompts)
    return prompts.confirm({
      message: `${smtp.ok ? "IMAP" : imap.ok ? "SMTP" : "SMTP and IMAP"} verification failed. Save anyway?`,
      initialValue: false,
    });
  const failure = !smtp.ok ? smtp.error : !imap.ok ? imap.error : undefined;
  throw new CliError(
    failure!.code,
    `${failure!.message} Nothing was saved; fix the settings, or pass --save-anyway to keep them.`,
  );
}

function refuseMismatch(
  settings: Pick<MailboxSettings, "smtpTlsMode" | "smtpPort">,
  allowed: boolean,
): void {
  const mismatch = portMismatch(settings.smtpTlsMode, settings.smtpPort);
  if (mismatch !== undefined && !allowed) {
    throw new CliError(
      "port_mode_mismatch",
      `${mismatch}; pass --allow-port-mismatch if that is really right.`,
    );
  }
}

export async function runMailboxesCreate(flags: CreateFlags, io: Io): Promise<void> {
  const known = await mailboxFieldsFromFlags(flags, io);
  let settings: MailboxSettings;
  if (canPrompt(io, flags)) {
    settings = await promptMailboxSettings(promptsFor(io), known, {
      allowPortMismatch: flags.allowPortMismatch === true,
      verify: (complete) => verifyBeforeSaving(complete, flags, io),
    });
  } else {
    const missing = REQUIRED_FOR_CREATE.filter(([field]) => known[field] === undefined).map(
      ([, name]) => name,
    );
    if (missing.length > 0) {
      throw new CliError("missing_input", `Missing required input: ${missing.join(", ")}.`);
    }
    const smtpTlsMode = known.smtpTlsMode ?? "starttls_required";
    settings = {
      ...(known as Omit<MailboxSettings, "imapPort" | "smtpPort" | "smtpTlsMode">),
      imapPort: known.imapPort ?? DEFAULT_IMAP_PORT,
      smtpTlsMode,
      smtpPort: known.smtpPort ?? defaultSmtpPort(smtpTlsMode),
    };
    refuseMismatch(settings, flags.allowPortMismatch === true);
    await verifyBeforeSaving(settings, flags, io);
  }
  const keyring = await keyringFor(io);
  const mailbox = await withDatabase(io, ({ db }) => createMailbox(db, keyring, settings));
  if (flags.json) writeJson(io, mailbox);
  else writeLine(io.stdout, `Created mailbox ${mailbox.email} (id ${mailbox.id}).`);
}

export async function runMailboxesList(flags: CommonFlags, io: Io): Promise<void> {
  const mailboxes = await withDatabase(io, ({ db }) => listMailboxes(db));
  if (flags.json) return writeJson(io, mailboxes);
  if (mailboxes.length === 0)
    return writeLine(io.stdout, "No mailboxes yet; add one with `imap-proxy mailboxes:create`.");
  for (const m of mailboxes) {
    writeLine(
      io.stdout,
      `${m.id}  ${m.email}  imap ${m.imapHost}:${m.imapPort}  smtp ${m.smtpHost}:${m.smtpPort} ${m.smtpTlsMode}`,
    );
  }
}

export async function runMailboxesShow(
  idOrEmail: string,
  flags: CommonFlags,
  io: Io,
): Promise<void> {
  const mailbox = await withDatabase(io, ({ db }) => getMailbox(db, idOrEmail));
  if (flags.json) return writeJson(io, mailbox);
  writeLine(
    io.stdout,
    `id             ${mailbox.id}\n${summary(mailbox)}\ncreated        ${mailbox.createdAt}\nupdated        ${mailbox.updatedAt}`,
  );
}

const SMTP_FIELDS = [
  "smtpHost",
  "smtpPort",
  "smtpUsername",
  "smtpPassword",
  "smtpTlsMode",
] as const;

export async function runMailboxesUpdate(
  idOrEmail: string,
  flags: CreateFlags,
  io: Io,
): Promise<void> {
  const changes = await mailboxFieldsFromFlags(flags, io);
  let keyring: Keyring | undefined;
  const updated = await withDatabase(io, async (handle) => {
    const { db } = handle;
    const secrets = async () => (keyring ??= await keyringFor(io, handle));
    const current = await getMailbox(db, idOrEmail);
    let prompted = false;
    if (Object.keys(changes).length === 0) {
      if (!canPrompt(io, flags)) {
        throw new CliError(
          "missing_input",
          "Nothing to update: pass at least one field flag (see --help).",
        );
      }
      Object.assign(changes, await promptUpdates(io, current, flags.allowPortMismatch === true));
      prompted = true;
    }
    if (changes.smtpTlsMode !== undefined || changes.smtpPort !== undefined) {
      refuseMismatch(
        {
          smtpTlsMode: changes.smtpTlsMode ?? current.smtpTlsMode,
          smtpPort: changes.smtpPort ?? current.smtpPort,
        },
        flags.allowPortMismatch === true || canPrompt(io, flags),
      );
    }
    const smtpChanged = SMTP_FIELDS.some((field) => changes[field] !== undefined);
    if (flags.verify === true || (canPrompt(io, flags) && smtpChanged)) {
      const row = (await findMailboxRow(db, current.id))!;
      const merged: MailboxSettings = {
        ...current,
        imapPassword: "",
        smtpPassword:
          changes.smtpPassword ?? (await secrets()).decryptSecret(row.smtpPasswordEncrypted),
        ...changes,
      };
      if (!(await verifyBeforeSaving(merged, flags, io))) throw new CancelledError();
    }
    // Like create: check first (above), then one last confirmation before writing.
    if (prompted) {
      const save = await promptsFor(io).confirm({
        message: "Save these changes?",
        initialValue: true,
      });
      if (!save) throw new CancelledError();
    }
    // Loaded only if a secret is touched: a non-secret edit needs no key.
    if (changes.imapPassword !== undefined || changes.smtpPassword !== undefined) await secrets();
    const sealer = { encryptSecret: (plaintext: string) => keyring!.encryptSecret(plaintext) };
    return updateMailbox(db, sealer, current.id, changes);
  });
  if (flags.json) writeJson(io, updated);
  else writeLine(io.stdout, `Updated mailbox ${updated.email} (id ${updated.id}).`);
}

async function promptUpdates(
  io: Io,
  current: Awaited<ReturnType<typeof getMailbox>>,
  allowPortMismatch: boolean,
): Promise<Partial<MailboxSettings>> {
  const prompts = promptsFor(io);
  prompts.intro(`Update ${current.email}`);
  const fields = await prompts.multiselect<keyof MailboxSettings>({
    message: "Which settings change?",
    options: Object.entries(MAILBOX_FIELDS).map(([field, { label }]) => ({
      value: field as keyof MailboxSettings,
      label,
    })),
    required: true,
  });
  // Reuse the create flow's prompts for exactly the chosen fields, current values as answers for the rest.
  const changes: Partial<MailboxSettings> = {};
  for (const field of fields.filter(
    (f): f is Exclude<keyof MailboxSettings, "smtpTlsMode" | "smtpPort"> =>
      f !== "smtpTlsMode" && f !== "smtpPort",
  )) {
    Object.assign(changes, { [field]: await promptField(prompts, field, current) });
  }
  if (fields.includes("smtpTlsMode") || fields.includes("smtpPort")) {
    const { mode, port } = await askSmtpModeAndPort(
      prompts,
      {
        mode: fields.includes("smtpTlsMode") ? undefined : current.smtpTlsMode,
        port: fields.includes("smtpPort") ? undefined : current.smtpPort,
      },
      allowPortMismatch,
    );
    changes.smtpTlsMode = mode;
    changes.smtpPort = port;
  }
  return changes;
}

export async function runMailboxesDelete(
  idOrEmail: string,
  flags: CommonFlags & { yes?: boolean },
  io: Io,
): Promise<void> {
  const result = await withDatabase(io, async ({ db }) => {
    const mailbox = await getMailbox(db, idOrEmail);
    if (!flags.yes) {
      if (!canPrompt(io, flags))
        throw new CliError("confirmation_required", "Deleting needs confirmation: pass --yes.");
      const sure = await promptsFor(io).confirm({
        message: `Delete ${mailbox.email} and its finished message records? Queued mail blocks deletion.`,
        initialValue: false,
      });
      if (!sure) throw new CancelledError();
    }
    return deleteMailbox(db, mailbox.id);
  });
  if (flags.json)
    writeJson(io, {
      deleted: result.mailbox,
      finishedMessagesDeleted: result.finishedMessagesDeleted,
    });
  else
    writeLine(
      io.stdout,
      `Deleted mailbox ${result.mailbox.email} (id ${result.mailbox.id}) and ${result.finishedMessagesDeleted} finished message record(s).`,
    );
}
