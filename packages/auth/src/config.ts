import { quoted } from "@imap-proxy/errors";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, importPKCS8, type JSONWebKeySet } from "jose";
import { AuthError } from "./errors.ts";
import {
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  type SignerConfig,
  type SigningAlgorithm,
  type VerifierConfig,
  hmacKeyFromSecret,
} from "./tokens.ts";

/*
 * Token settings from the environment:
 * - HS256 (default): JWT_SECRET, at least 32 bytes.
 * - EdDSA / ES256: JWT_ALGORITHM, JWT_PRIVATE_KEY_FILE (PKCS#8 PEM, to sign), JWT_KEY_ID (its
 *   `kid`), JWT_PUBLIC_JWKS_FILE (a JWK set, to verify; several keys allow rotation).
 * - JWT_ISSUER (default "imap-proxy"), JWT_AUDIENCE (default "imap-proxy").
 */
/** What signing and verifying share: the algorithm, `iss`/`aud`, and for HS256 the key itself. */
async function sharedConfig(env: NodeJS.ProcessEnv) {
  const algorithm = algorithmFromEnv(env);
  const common = {
    issuer: env.JWT_ISSUER || DEFAULT_ISSUER,
    audience: env.JWT_AUDIENCE || DEFAULT_AUDIENCE,
  };
  if (algorithm !== "HS256") return { algorithm, common, hmacKey: undefined };
  if (!env.JWT_SECRET) {
    throw new AuthError(
      "invalid_config",
      "JWT_SECRET is not set; it signs and verifies the tokens (at least 32 bytes).",
    );
  }
  return { algorithm, common, hmacKey: await hmacKeyFromSecret(env.JWT_SECRET) };
}

export async function signerFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<SignerConfig> {
  const { algorithm, common, hmacKey } = await sharedConfig(env);
  if (hmacKey !== undefined) return { algorithm, key: hmacKey, ...common };
  const file = env.JWT_PRIVATE_KEY_FILE;
  const keyId = env.JWT_KEY_ID;
  if (!file || !keyId) {
    throw new AuthError(
      "invalid_config",
      `JWT_ALGORITHM=${algorithm} needs JWT_PRIVATE_KEY_FILE and JWT_KEY_ID.`,
    );
  }
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch {
    throw new AuthError("invalid_config", `JWT_PRIVATE_KEY_FILE (${file}) cannot be read.`);
  }
  try {
    return { algorithm, key: await importPKCS8(pem, algorithm), keyId, ...common };
  } catch {
    throw new AuthError(
      "invalid_config",
      `JWT_PRIVATE_KEY_FILE (${file}) is not a PKCS#8 ${algorithm} private key.`,
    );
  }
}

export async function verifierFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<VerifierConfig> {
  const { algorithm, common, hmacKey } = await sharedConfig(env);
  if (hmacKey !== undefined) return { algorithm, key: hmacKey, ...common };
  const file = env.JWT_PUBLIC_JWKS_FILE;
  if (!file)
    throw new AuthError(
      "invalid_config",
      `JWT_ALGORITHM=${algorithm} needs JWT_PUBLIC_JWKS_FILE to verify.`,
    );
  try {
    const jwks = JSON.parse(readFileSync(file, "utf8")) as JSONWebKeySet;
    return { algorithm, key: createLocalJWKSet(jwks), ...common };
  } catch {
    throw new AuthError(
      "invalid_config",
      `JWT_PUBLIC_JWKS_FILE (${file}) is not a readable JWK set.`,
    );
  }
}

function algorithmFromEnv(env: NodeJS.ProcessEnv): SigningAlgorithm {
  const value = env.JWT_ALGORITHM || "HS256";
  if (value === "HS256" || value === "EdDSA" || value === "ES256") return value;
  throw new AuthError(
    "invalid_config",
    `JWT_ALGORITHM must be HS256, EdDSA or ES256 (got ${quoted(value)}).`,
  );
}
