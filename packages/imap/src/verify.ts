import { ImapFlow } from "imapflow";
import { credentialScrubber } from "@imap-proxy/errors";
import { ImapError, classifyImapError } from "./errors.ts";
import { type ImapPolicyOptions, type ImapSettings, imapConnectionOptions } from "./policy.ts";

export interface ImapVerification {
  tlsProtocol: string | undefined;
  tlsCipher: string | undefined;
  /** The server's ID name, when it answers ID. */
  serverName: string | undefined;
  /** The folder marked `\Sent`, if any. */
  sentFolder: string | undefined;
  /** The folder marked `\Junk`, if any. */
  junkFolder: string | undefined;
  idle: boolean;
  /** Bytes, when the server advertises APPENDLIMIT=N. */
  appendLimit: number | undefined;
}

/** Opens a connection under the policy; every failure becomes a typed ImapError. */
export async function connectImap(
  settings: ImapSettings,
  options: ImapPolicyOptions = {},
): Promise<ImapFlow> {
  const scrub = credentialScrubber(settings);
  const client = new ImapFlow(imapConnectionOptions(settings, options));
  // imapflow emits 'error' once per connection; without a listener Node would throw it.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    client.close();
    throw classifyImapError(error, scrub);
  }
  if (!client.secureConnection) {
    // Unreachable under the policy; refuse rather than trust it silently.
    client.close();
    throw new ImapError("tls_unavailable", "the connection is not encrypted");
  }
  return client;
}

/** APPENDLIMIT=N from the capability list (RFC 7889), in bytes. */
export function appendLimitOf(client: ImapFlow): number | undefined {
  const value = client.capabilities.get("APPENDLIMIT");
  return typeof value === "number" && value > 0 ? value : undefined;
}

/**
 * Connects under the policy, logs in, lists folders and logs out: reads only, changes nothing on
 * the server (no SELECT, no APPEND, no flags).
 */
export async function verifyImap(
  settings: ImapSettings,
  options: ImapPolicyOptions = {},
): Promise<ImapVerification> {
  const scrub = credentialScrubber(settings);
  const client = await connectImap(settings, options);
  try {
    const folders = await client.list();
    const tls = client.tls || undefined;
    return {
      tlsProtocol: tls?.version,
      tlsCipher: tls?.name,
      serverName: client.serverInfo?.name || undefined,
      sentFolder: folders.find((f) => f.specialUse === "\\Sent")?.path,
      junkFolder: folders.find((f) => f.specialUse === "\\Junk")?.path,
      idle: client.capabilities.has("IDLE"),
      appendLimit: appendLimitOf(client),
    };
  } catch (error) {
    throw classifyImapError(error, scrub);
  } finally {
    await client.logout().catch(() => client.close());
  }
}
