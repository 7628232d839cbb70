import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { describe, expect, test } from "vitest";
import {
  AuthError,
  issueToken,
  signerFromEnv,
  verifierFromEnv,
  verifyToken,
} from "../src/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-jwt-"));

describe("token configuration from the environment", () => {
  test("HS256 by default, with configurable issuer and audience", async () => {
    const env = { JWT_SECRET: "x".repeat(40), JWT_ISSUER: "proxy.example", JWT_AUDIENCE: "apps" };
    const issued = await issueToken(await signerFromEnv(env), {
      mailboxId: randomUUID(),
      permissions: ["messages:read"],
    });
    expect(
      (await verifyToken(await verifierFromEnv(env), issued.token)).permissions.has(
        "messages:read",
      ),
    ).toBe(true);
    const otherAudience = await verifierFromEnv({ ...env, JWT_AUDIENCE: "others" });
    await expect(verifyToken(otherAudience, issued.token)).rejects.toMatchObject({
      code: "wrong_audience",
    });
  });

  test("EdDSA: signs with a PKCS#8 file and kid, verifies from a JWK set holding old and new keys", async () => {
    const current = await generateKeyPair("EdDSA", { extractable: true });
    const previous = await generateKeyPair("EdDSA", { extractable: true });
    const keyFile = path.join(dir, "signing.pem");
    writeFileSync(keyFile, await exportPKCS8(current.privateKey));
    const jwksFile = path.join(dir, "jwks.json");
    writeFileSync(
      jwksFile,
      JSON.stringify({
        keys: [
          { ...(await exportJWK(current.publicKey)), kid: "2026-11", alg: "EdDSA" },
          { ...(await exportJWK(previous.publicKey)), kid: "2026-05", alg: "EdDSA" },
        ],
      }),
    );
    const env = {
      JWT_ALGORITHM: "EdDSA",
      JWT_PRIVATE_KEY_FILE: keyFile,
      JWT_KEY_ID: "2026-11",
      JWT_PUBLIC_JWKS_FILE: jwksFile,
    };
    const mailboxId = randomUUID();
    const issued = await issueToken(await signerFromEnv(env), {
      mailboxId,
      permissions: ["messages:send"],
    });
    expect(
      JSON.parse(Buffer.from(issued.token.split(".")[0]!, "base64url").toString()),
    ).toMatchObject({ alg: "EdDSA", kid: "2026-11" });
    const verifier = await verifierFromEnv({
      JWT_ALGORITHM: "EdDSA",
      JWT_PUBLIC_JWKS_FILE: jwksFile,
    });
    expect((await verifyToken(verifier, issued.token)).mailboxId).toBe(mailboxId);
  });

  test("bad configuration is a typed error naming the variable, never a secret", async () => {
    const cases: NodeJS.ProcessEnv[] = [
      {},
      { JWT_SECRET: "too-short-secret-value" },
      { JWT_ALGORITHM: "RS256", JWT_SECRET: "x".repeat(40) },
      { JWT_ALGORITHM: "EdDSA" },
      {
        JWT_ALGORITHM: "ES256",
        JWT_PRIVATE_KEY_FILE: path.join(dir, "missing.pem"),
        JWT_KEY_ID: "k",
      },
    ];
    for (const env of cases) {
      const error = await signerFromEnv(env).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe("invalid_config");
      expect((error as AuthError).message).toMatch(/JWT_/);
      expect((error as AuthError).message).not.toContain("too-short-secret-value");
    }
  });
});
