/**
 * Takes credentials out of text on its way into `error_log` (and the stored SMTP reply and
 * pause detail): every transition that takes a handler's text (fail, finish, pause, the reply
 * columns) passes it through here. The queue never knows a mailbox's
 * password, so this works from shapes alone, after whatever the SMTP layer scrubbed with the
 * password in hand (which misses partial or re-encoded echoes):
 * - the arguments of an echoed `AUTH <mechanism> …` command;
 * - anything that looks like base64 (a SASL PLAIN blob is `\0user\0password`), whole or a
 *   fragment of one: a run of 8+ base64 characters that is not a plain word, number or hex id.
 * Diagnostic text (reply codes, enhanced status, host names, ordinary words) stays readable.
 */
export function scrubErrorText(text: string): string {
  return text.replace(AUTH_ARGUMENTS, "$1 ***").replace(BASE64_RUN, (run) =>
    run
      .replace(/=+$/, "")
      .split("/")
      .every((part) => part === "" || PLAIN_TOKEN.test(part))
      ? run
      : "***",
  );
}

/** `AUTH PLAIN xyz`, `AUTH LOGIN xyz`, `AUTH XOAUTH2 xyz`: keep the mechanism, drop the rest of the line. */
const AUTH_ARGUMENTS = /\b(AUTH\s+[A-Za-z0-9_-]+)[ \t]+[^\r\n]*/gi;

/** Base64 (standard or url-safe) runs of 8+ characters, padding included. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * What may stand as is: words (`Authentication`, `SubmissionQuotaExceeded`, `STARTTLS`),
 * numbers, lowercase hex ids, names with a number (`exim4`, `mx10`), words joined by `-` or `_`
 * (`outcome_unknown`).
 */
const PLAIN_TOKEN =
  /^(?:[A-Z]?[a-z]+|[A-Z]+|(?:[A-Z][a-z]+)+|[0-9]+|[0-9a-f]+|[a-z]+[0-9]+)(?:[-_](?:[A-Z]?[a-z]+|[A-Z]+|[0-9]+))*$/;
