import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { startRelay } from "@imap-proxy/testing/tcp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ImapError, type ImapSettings, appendSentCopy, connectImap } from "../src/index.ts";
import {
  IMAP_PASSWORD,
  IMAP_USERNAME,
  dovecotBinary,
  startDovecot,
  type RunningDovecot,
} from "@imap-proxy/testing/dovecot";

const hasDovecot = dovecotBinary() !== undefined;
let pki: TestPki;
let dovecot: RunningDovecot;

beforeAll(async () => {
  pki = makeTestPki();
  if (hasDovecot) dovecot = await startDovecot(pki);
}, 30_000);
afterAll(async () => {
  await dovecot?.close();
});

const settings = (port: number): ImapSettings => ({
  host: "localhost",
  port,
  tlsMode: "implicit",
  username: IMAP_USERNAME,
  password: IMAP_PASSWORD,
});

function message(id: string, bodyBytes = 100): { raw: Buffer; messageIdHeader: string } {
  const messageIdHeader = `<${id}@example.test>`;
  const raw = Buffer.from(
    [
      "From: owner@example.test",
      "To: someone@example.net",
      "Subject: a sent message",
      `Message-ID: ${messageIdHeader}`,
      "Date: Thu, 26 Nov 2026 00:00:00 +0000",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "x".repeat(bodyBytes),
      "",
    ].join("\r\n"),
  );
  return { raw, messageIdHeader };
}

/** Server-side count of copies with this Message-ID in Sent, and their flags. */
function copiesInSent(d: RunningDovecot, messageIdHeader: string): string[] {
  const out = d.doveadm(
    "fetch",
    "-u",
    IMAP_USERNAME,
    "flags",
    "mailbox",
    "Sent",
    "header",
    "Message-ID",
    messageIdHeader,
  );
  return out.split("\n").filter((line) => line.startsWith("flags:"));
}

/**
 * A relay to the implicit-TLS port that, once the client has sent `after` bytes, stops passing
 * the server's answers on: the APPEND arrives, its OK never does (an ambiguous failure).
 */
function startAnswerSwallowingRelay(target: number, after: number) {
  return startRelay(target, {
    hooks: () => {
      let sent = 0;
      return {
        fromClient: (chunk) => void (sent += chunk.length),
        fromServer: (chunk) => (sent < after ? chunk : undefined),
      };
    },
  });
}

describe.skipIf(!hasDovecot)("the Sent copy against a private Dovecot", () => {
  const options = () => ({ extraCa: pki.caPem, timeoutMs: 3_000 });

  test("appears once, flagged \\Seen, with its UID; a second attempt finds it", async () => {
    const mail = message("once-1");
    const client = await connectImap(settings(dovecot.implicitPort), options());
    try {
      const first = await appendSentCopy(client, mail);
      expect(first).toMatchObject({ folder: "Sent", alreadyPresent: false });
      expect(first.uid).toBeGreaterThan(0);
      expect(first.uidValidity).toBeGreaterThan(0);
      const second = await appendSentCopy(client, mail);
      expect(second).toEqual({ ...first, alreadyPresent: true });
    } finally {
      await client.logout();
    }
    const copies = copiesInSent(dovecot, mail.messageIdHeader);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toContain("\\Seen");
  });

  test("a timeout after the APPEND reached the server, then a retry: still one copy", async () => {
    const mail = message("timeout-1", 200_000);
    const relay = await startAnswerSwallowingRelay(dovecot.implicitPort, mail.raw.length * 0.9);
    try {
      const client = await connectImap(settings(relay.port), {
        ...options(),
        socketTimeoutMs: 1_500,
      });
      const error = await appendSentCopy(client, mail).then(
        () => undefined,
        (e: unknown) => e,
      );
      client.close();
      expect(error).toBeDefined(); // the caller sees a failure and will retry later
    } finally {
      await relay.close();
    }
    // The server did store it: the ambiguity is real.
    expect(copiesInSent(dovecot, mail.messageIdHeader)).toHaveLength(1);
    const client = await connectImap(settings(dovecot.implicitPort), options());
    try {
      const retry = await appendSentCopy(client, mail);
      expect(retry.alreadyPresent).toBe(true);
    } finally {
      await client.logout();
    }
    expect(copiesInSent(dovecot, mail.messageIdHeader)).toHaveLength(1);
  });
});

describe.skipIf(!hasDovecot)("Sent folder choice and APPENDLIMIT", () => {
  let plain: RunningDovecot;
  beforeAll(async () => {
    plain = await startDovecot(pki, { sentSpecialUse: false, appendLimit: 1_000 });
  }, 30_000);
  afterAll(async () => {
    await plain?.close();
  });

  test("without a \\Sent flag the configured name is used; a missing one is a typed error", async () => {
    const client = await connectImap(settings(plain.implicitPort), { extraCa: pki.caPem });
    try {
      const missing = await appendSentCopy(client, {
        ...message("folder-1"),
        configuredFolder: "Gesendet",
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(missing).toBeInstanceOf(ImapError);
      expect((missing as ImapError).code).toBe("sent_folder_missing");
      const copy = await appendSentCopy(client, {
        ...message("folder-2"),
        configuredFolder: "Sent",
      });
      expect(copy.folder).toBe("Sent");
    } finally {
      await client.logout();
    }
  });

  test("over APPENDLIMIT: message_too_large, nothing appended", async () => {
    const mail = message("big-1", 5_000);
    const client = await connectImap(settings(plain.implicitPort), { extraCa: pki.caPem });
    try {
      const error = await appendSentCopy(client, { ...mail, configuredFolder: "Sent" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as ImapError).code).toBe("message_too_large");
    } finally {
      await client.logout();
    }
    expect(copiesInSent(plain, mail.messageIdHeader)).toHaveLength(0);
  });
});
