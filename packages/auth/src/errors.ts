export type AuthErrorCode =
  | "invalid_config"
  | "unknown_permission"
  | "invalid_expiry"
  | "malformed_token"
  | "algorithm_not_allowed"
  | "bad_signature"
  | "token_expired"
  | "token_not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "invalid_claims"
  | "permission_denied"
  | "permission_renamed";

/** Every auth failure, with a stable code; messages never contain a token or a secret. */
export class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}
