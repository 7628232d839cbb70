import { type Database, createMailbox, sql } from "@imap-proxy/db";
import { PASSWORD, USERNAME } from "./credentials.ts";

/** Seals secrets recognisably but not really: for tests and benchmarks that never send. */
export const storeOnlySealer = {
  encryptSecret: (plain: string) => `gAAAA${Buffer.from(plain).toString("hex")}`,
};

/**
 * A mailbox whose SMTP server is the test peer on localhost:`smtpPort` (STARTTLS, the test
 * credentials of credentials.ts), sealed with `sealer` (a real keyring when something sends).
 */
export async function peerMailbox(
  db: Database,
  sealer: { encryptSecret(plain: string): string },
  options: { email: string; smtpPort?: number; maxConnections?: number },
): Promise<{ id: string; email: string }> {
  const mailbox = await createMailbox(db, sealer, {
    email: options.email,
    imapHost: "localhost",
    imapPort: 993,
    imapUsername: USERNAME,
    imapPassword: PASSWORD,
    smtpHost: "localhost",
    smtpPort: options.smtpPort ?? 587,
    smtpUsername: USERNAME,
    smtpPassword: PASSWORD,
    smtpTlsMode: "starttls_required",
  });
  if (options.maxConnections !== undefined)
    await db.execute(
      sql`UPDATE mailboxes SET smtp_max_connections = ${options.maxConnections} WHERE id = ${mailbox.id}`,
    );
  return mailbox;
}
