import { type AuthErrorCode, CodedError } from "@imap-proxy/errors";

export type { AuthErrorCode };

/** Every auth failure, with a stable code; messages never contain a token or a secret. */
export class AuthError extends CodedError<AuthErrorCode> {
  override readonly name = "AuthError";
}
