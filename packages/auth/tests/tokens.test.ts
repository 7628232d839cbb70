import { randomUUID } from "node:crypto";
import {
  type CryptoKey,
  SignJWT,
  UnsecuredJWT,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
} from "jose";
import { describe, expect, test } from "vitest";
import {
  AuthError,
  type AuthErrorCode,
  PERMISSIONS,
  PERMISSION_NAMES,
  type SignerConfig,
  type VerifierConfig,
  hmacKeyFromSecret,
  issueToken,
  parseLifetime,
  parsePermissions,
  requirePermission,
  verifyToken,
} from "../src/index.ts";

const SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret-42";
const hs: SignerConfig & VerifierConfig = {
  algorithm: "HS256",
  key: await hmacKeyFromSecret(SECRET),
  issuer: "imap-proxy",
  audience: "imap-proxy",
};
const mailboxId = randomUUID();

async function rejection(promise: Promise<unknown>): Promise<AuthErrorCode> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return (error as AuthError).code;
  }
  throw new Error("expected a rejection");
}

function b64(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

describe("permission catalogue", () => {
  test("has messages:send with descriptions, and no messages:create", () => {
    expect(PERMISSION_NAMES).toContain("messages:send");
    expect(PERMISSION_NAMES).not.toContain("messages:create");
    for (const name of PERMISSION_NAMES) expect(PERMISSIONS[name].length).toBeGreaterThan(10);
  });

  test("issuing an unknown permission lists the valid ones; messages:create names its new name", async () => {
    await expect(issueToken(hs, { mailboxId, permissions: ["messages:teleport"] })).rejects.toThrow(
      /valid permissions: mailboxes:read, messages:read, messages:modify, messages:send/,
    );
    await expect(issueToken(hs, { mailboxId, permissions: ["messages:create"] })).rejects.toThrow(
      /renamed "messages:send"/,
    );
    expect(await rejection(issueToken(hs, { mailboxId, permissions: [] }))).toBe(
      "unknown_permission",
    );
  });
});

describe("lifetimes", () => {
  test("accepts a number with a unit", () => {
    expect(parseLifetime("15m")).toBe(900);
    expect(parseLifetime("24h")).toBe(86_400);
    expect(parseLifetime("30d")).toBe(30 * 86_400);
    expect(parseLifetime("90d")).toBe(90 * 86_400);
  });
  test.each(["never", "0", "-1h", "0s", "1", "1w", "1.5h", " 1h", "1H", "91d", ""])(
    "refuses %j",
    (text) => {
      expect(() => parseLifetime(text)).toThrow(AuthError);
    },
  );
});

describe("round trip", () => {
  test("HS256: claims come back typed", async () => {
    const issued = await issueToken(hs, {
      mailboxId,
      permissions: ["messages:send", "messages:read"],
      expiresIn: "15m",
    });
    expect(issued.exp - issued.iat).toBe(900);
    expect(issued.scope).toBe("messages:send messages:read");
    const verified = await verifyToken(hs, issued.token);
    expect(verified.mailboxId).toBe(mailboxId);
    expect([...verified.permissions].sort()).toEqual(["messages:read", "messages:send"]);
    expect(verified.jti).toBe(issued.jti);
    expect(() => requirePermission(verified, "messages:send")).not.toThrow();
    expect(() => requirePermission(verified, "messages:modify")).toThrow(
      /does not grant "messages:modify"/,
    );
    const header = JSON.parse(
      Buffer.from(issued.token.split(".")[0]!, "base64url").toString(),
    ) as object;
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
  });

  test("default lifetime is one hour", async () => {
    const issued = await issueToken(hs, { mailboxId, permissions: ["messages:read"] });
    expect(issued.exp - issued.iat).toBe(3600);
  });

  test.each(["EdDSA", "ES256"] as const)(
    "%s with a kid, verified from a public JWK set",
    async (algorithm) => {
      const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: "2026-11", alg: algorithm };
      const issued = await issueToken(
        {
          algorithm,
          key: privateKey,
          keyId: "2026-11",
          issuer: "imap-proxy",
          audience: "imap-proxy",
        },
        { mailboxId, permissions: ["messages:send"] },
      );
      const verifier: VerifierConfig = {
        algorithm,
        key: createLocalJWKSet({ keys: [jwk] }),
        issuer: "imap-proxy",
        audience: "imap-proxy",
      };
      expect((await verifyToken(verifier, issued.token)).mailboxId).toBe(mailboxId);
      // Another key pair under the same kid does not verify.
      const other = await generateKeyPair(algorithm, { extractable: true });
      const forged = await issueToken(
        {
          algorithm,
          key: other.privateKey,
          keyId: "2026-11",
          issuer: "imap-proxy",
          audience: "imap-proxy",
        },
        { mailboxId, permissions: ["messages:send"] },
      );
      expect(await rejection(verifyToken(verifier, forged.token))).toBe("bad_signature");
      // An HS256 token against an EdDSA/ES256 verifier is refused by the pinned algorithm list.
      const hsToken = (await issueToken(hs, { mailboxId, permissions: ["messages:send"] })).token;
      expect(await rejection(verifyToken(verifier, hsToken))).toBe("algorithm_not_allowed");
    },
  );
});

describe("permission names are looked up as own keys only", () => {
  test.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("%s is unknown", (name) => {
    let caught: unknown;
    try {
      parsePermissions([name]);
    } catch (error) {
      caught = error;
    }
    expect((caught as AuthError).code).toBe("unknown_permission");
    expect((caught as AuthError).message).toBe(
      `Unknown permission "${name}"; valid permissions: ${PERMISSION_NAMES.join(", ")}.`,
    );
  });
});

describe("rejections", () => {
  const now = Math.floor(Date.now() / 1000);

  async function signRaw(
    payload: Record<string, unknown>,
    key: CryptoKey | Uint8Array = hs.key as CryptoKey,
  ) {
    return new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(key);
  }
  const base = () => ({
    iss: "imap-proxy",
    aud: "imap-proxy",
    sub: mailboxId,
    scope: "messages:send",
    iat: now,
    exp: now + 600,
  });

  test("a lifetime beyond the issuance maximum, an iat in the future, or none at all", async () => {
    const century = await signRaw({ ...base(), exp: now + 100 * 365 * 86_400 });
    expect(await rejection(verifyToken(hs, century))).toBe("invalid_claims");
    const justOver = await signRaw({ ...base(), exp: now + 90 * 86_400 + 1 });
    expect(await rejection(verifyToken(hs, justOver))).toBe("invalid_claims");
    const future = await signRaw({ ...base(), iat: now + 3600, exp: now + 7200 });
    expect(await rejection(verifyToken(hs, future))).toBe("token_not_yet_valid");
    const { iat: _iat, ...noIat } = base();
    expect(await rejection(verifyToken(hs, await signRaw(noIat)))).toBe("invalid_claims");
    const longest = await signRaw({ ...base(), exp: now + 90 * 86_400 });
    await expect(verifyToken(hs, longest)).resolves.toMatchObject({ mailboxId });
  });

  test("alg none", async () => {
    const token = new UnsecuredJWT(base()).encode();
    expect(await rejection(verifyToken(hs, token))).toBe("algorithm_not_allowed");
  });

  test("a different algorithm (HS512 with the same secret)", async () => {
    const token = await new SignJWT(base())
      .setProtectedHeader({ alg: "HS512" })
      .sign(new TextEncoder().encode(SECRET));
    expect(await rejection(verifyToken(hs, token))).toBe("algorithm_not_allowed");
  });

  test("a wrong key", async () => {
    const token = await signRaw(
      base(),
      new TextEncoder().encode("another-secret-another-secret-another"),
    );
    expect(await rejection(verifyToken(hs, token))).toBe("bad_signature");
  });

  test("tampered header and payload", async () => {
    const token = await signRaw(base());
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const morePower = b64({ ...base(), scope: "messages:send messages:modify" });
    expect(await rejection(verifyToken(hs, `${header}.${morePower}.${signature}`))).toBe(
      "bad_signature",
    );
    const otherHeader = b64({ alg: "HS256", typ: "JWT", kid: "x" });
    expect(await rejection(verifyToken(hs, `${otherHeader}.${payload}.${signature}`))).toBe(
      "bad_signature",
    );
  });

  test("expired, beyond the clock tolerance", async () => {
    const token = await signRaw({ ...base(), iat: now - 3600, exp: now - 31 });
    expect(await rejection(verifyToken(hs, token))).toBe("token_expired");
    const justExpired = await signRaw({ ...base(), iat: now - 3600, exp: now - 5 });
    expect((await verifyToken(hs, justExpired)).mailboxId).toBe(mailboxId);
  });

  test("a future nbf", async () => {
    const token = await signRaw({ ...base(), nbf: now + 600 });
    expect(await rejection(verifyToken(hs, token))).toBe("token_not_yet_valid");
  });

  test("wrong iss and aud", async () => {
    expect(await rejection(verifyToken(hs, await signRaw({ ...base(), iss: "evil" })))).toBe(
      "wrong_issuer",
    );
    expect(await rejection(verifyToken(hs, await signRaw({ ...base(), aud: "other-api" })))).toBe(
      "wrong_audience",
    );
  });

  test("missing required claims", async () => {
    for (const claim of ["iss", "aud", "sub", "exp"] as const) {
      const payload: Record<string, unknown> = base();
      delete payload[claim];
      const code = await rejection(verifyToken(hs, await signRaw(payload)));
      expect(["invalid_claims", "wrong_issuer", "wrong_audience"]).toContain(code);
    }
    expect(await rejection(verifyToken(hs, await signRaw({ ...base(), sub: "not-a-uuid" })))).toBe(
      "invalid_claims",
    );
    expect(await rejection(verifyToken(hs, await signRaw({ ...base(), scope: 7 })))).toBe(
      "invalid_claims",
    );
  });

  test.each(["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30.", "\u0000"])(
    "malformed input %j",
    async (token) => {
      expect(["malformed_token", "bad_signature"]).toContain(
        await rejection(verifyToken(hs, token)),
      );
    },
  );

  test("non-string input never throws anything untyped", async () => {
    expect(await rejection(verifyToken(hs, undefined as unknown as string))).toBe(
      "malformed_token",
    );
    expect(await rejection(verifyToken(hs, {} as unknown as string))).toBe("malformed_token");
  });

  test("a legacy messages:create token does not grant messages:send, and says why", async () => {
    const legacy = await signRaw({ ...base(), scope: "messages:create messages:read" });
    const verified = await verifyToken(hs, legacy);
    expect(verified.permissions.has("messages:send")).toBe(false);
    let caught: unknown;
    try {
      requirePermission(verified, "messages:send");
    } catch (error) {
      caught = error;
    }
    expect((caught as AuthError).code).toBe("permission_renamed");
    expect((caught as AuthError).message).toMatch(/predates the rename.*re-issue/);
    expect(() => requirePermission(verified, "messages:read")).not.toThrow();
  });

  test("unknown permissions grant nothing", async () => {
    const token = await signRaw({ ...base(), scope: "admin:* messages:everything" });
    const verified = await verifyToken(hs, token);
    expect(verified.permissions.size).toBe(0);
    expect(() => requirePermission(verified, "messages:send")).toThrow(AuthError);
  });
});

describe("configuration", () => {
  test("a short JWT_SECRET is refused without printing it", async () => {
    const short = "tooshort-secret";
    let message = "";
    try {
      await hmacKeyFromSecret(short);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/at least 32 bytes/);
    expect(message).not.toContain(short);
  });
});
