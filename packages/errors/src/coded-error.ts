import type { ErrorCode } from "./codes.ts";

/**
 * The base of every typed error in the workspace: a stable `code` from the registry and a
 * message written for operators (never a secret, a token or a query parameter). Callers branch
 * on `code`, never on the class name.
 */
export class CodedError<Code extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof CodedError;
}
