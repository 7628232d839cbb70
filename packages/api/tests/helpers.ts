import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { SignJWT } from "jose";
import { type SignerConfig, hmacKeyFromSecret, issueToken } from "@imap-proxy/auth";
import { createMailbox } from "@imap-proxy/db";
import { type TestDatabase, openTestDatabase } from "@imap-proxy/testing/database";
import { storeOnlySealer } from "@imap-proxy/testing/mailbox";
import { type ApiConfig, type ApiInstance, type AppOptions, buildApp } from "../src/index.ts";

export const JWT_SECRET = "test-secret-for-the-api-tests-0123456789";

export interface TestApi {
  database: TestDatabase;
  app: ApiInstance;
  signer: SignerConfig;
  /** Every log line the app wrote, as text. */
  logs: string[];
  mailbox(email?: string): Promise<string>;
  token(mailboxId: string, permissions?: string[], expiresIn?: string): Promise<string>;
  close(): Promise<void>;
}

/** An app on an isolated test database, with helpers for mailboxes and tokens. */
export async function openTestApi(
  config: Partial<ApiConfig> = {},
  database?: TestDatabase,
  options: Pick<AppOptions, "tracking" | "trustProxy"> = {},
): Promise<TestApi> {
  const db = database ?? (await openTestDatabase());
  const key = await hmacKeyFromSecret(JWT_SECRET);
  const signer: SignerConfig = {
    algorithm: "HS256",
    key,
    issuer: "imap-proxy",
    audience: "imap-proxy",
  };
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const app = await buildApp({
    db: db.db,
    verifier: signer,
    config,
    ...options,
    logger: { level: "info", stream },
  });
  await app.ready();
  return {
    database: db,
    app,
    signer,
    logs,
    async mailbox(email = `ops-${Math.random().toString(36).slice(2)}@Example.COM`) {
      const created = await createMailbox(db.db, storeOnlySealer, {
        email,
        imapHost: "imap.example.com",
        imapPort: 993,
        imapUsername: "ops",
        imapPassword: "imap-secret",
        smtpHost: "smtp.example.com",
        smtpPort: 587,
        smtpUsername: "ops",
        smtpPassword: "smtp-secret",
        smtpTlsMode: "starttls_required",
      });
      return created.id;
    },
    async token(mailboxId, permissions = ["messages:send"], expiresIn) {
      if (!permissions.includes("messages:create")) {
        const issued = await issueToken(signer, {
          mailboxId,
          permissions,
          ...(expiresIn === undefined ? {} : { expiresIn }),
        });
        return issued.token;
      }
      // A legacy name (messages:create) can no longer be issued: sign that token by hand.
      return new SignJWT({ scope: permissions.join(" ") })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer("imap-proxy")
        .setAudience("imap-proxy")
        .setSubject(mailboxId)
        .setIssuedAt()
        .setExpirationTime("1h")
        .setJti(randomUUID())
        .sign(key);
    },
    async close() {
      await app.close();
      if (database === undefined) await db.close();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A minimal valid submission. */
export const minimal = (overrides: Record<string, unknown> = {}) => ({
  to: ["ann@example.net"],
  subject: "Hello",
  text: "Hi Ann",
  ...overrides,
});
