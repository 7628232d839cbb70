import type { Mailbox } from "@imap-proxy/db";
import type { ImapSettings } from "@imap-proxy/imap";

/** What opens stored secrets (`@imap-proxy/crypto`'s Keyring is one). */
export interface SecretOpener {
  decryptSecret(token: string): string;
}

/** A mailbox row's IMAP settings, its password opened with the keyring. */
export function imapSettingsOf(mailbox: Mailbox, secrets: SecretOpener): ImapSettings {
  return {
    host: mailbox.imapHost,
    port: mailbox.imapPort,
    tlsMode: mailbox.imapTlsMode,
    username: mailbox.imapUsername,
    password: secrets.decryptSecret(mailbox.imapPasswordEncrypted),
  };
}
