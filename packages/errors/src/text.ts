/**
 * C0 and C1 controls, DEL, and the bidirectional controls (U+061C, U+200E/F, U+202A–E,
 * U+2066–9): characters that steer a terminal or reorder what it shows. No stored text field
 * holds them, and user input is printed with them escaped.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

export function hasUnsafeCharacters(text: string): boolean {
  return text.search(UNSAFE) !== -1;
}

const escapeOne = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` with every unsafe character written as `\uXXXX`, safe to print on a terminal. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** User input for a message: double-quoted and escaped like JSON, unsafe characters included. */
export function quoted(value: string): string {
  return printable(JSON.stringify(value));
}

/**
 * Removes a password, and the base64 forms AUTH PLAIN/LOGIN (SMTP) and AUTHENTICATE (IMAP) send,
 * from any text a server or library hands back, before it can reach a message or a log.
 */
export function credentialScrubber(credentials: {
  username: string;
  password: string;
}): (text: string) => string {
  const { username, password } = credentials;
  const forms = [
    password,
    Buffer.from(password).toString("base64"),
    Buffer.from(`\u0000${username}\u0000${password}`).toString("base64"),
  ]
    .filter((form) => form.length >= 3)
    // Longest first: one form can end with another (base64 of "\0user\0pw" ends with that of "pw").
    .sort((a, b) => b.length - a.length);
  return (text) => forms.reduce((out, form) => out.split(form).join("***"), text);
}
