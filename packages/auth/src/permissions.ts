import { quoted } from "@imap-proxy/errors";
import { AuthError } from "./errors.ts";

/** Everything a token can grant. Small on purpose: each entry is a promise the proxy keeps. */
export const PERMISSIONS = {
  "mailboxes:read": "Read the mailbox's settings (host, ports, TLS mode; never a password).",
  "messages:read": "List, search and fetch messages over the proxy's IMAP access.",
  "messages:modify": "Flag, move and delete messages in the mailbox.",
  "messages:send": "Queue outbound mail from this mailbox over its SMTP server.",
} as const satisfies Record<string, string>;

export type Permission = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[];

/** Old names and what replaced them. A token carrying an old name gains nothing from it. */
export const RENAMED_PERMISSIONS: Readonly<Record<string, Permission>> = {
  "messages:create": "messages:send",
};

/** What an old name became; own keys only, so `constructor` or `__proto__` is no old name. */
export function renamedPermission(name: string): Permission | undefined {
  return Object.hasOwn(RENAMED_PERMISSIONS, name) ? RENAMED_PERMISSIONS[name] : undefined;
}

export function isPermission(name: string): name is Permission {
  return Object.hasOwn(PERMISSIONS, name);
}

/** Validates requested permissions for issuance: unknown or renamed names are errors. */
export function parsePermissions(names: readonly string[]): Permission[] {
  if (names.length === 0) {
    throw new AuthError(
      "unknown_permission",
      `Grant at least one permission: ${PERMISSION_NAMES.join(", ")}.`,
    );
  }
  const result: Permission[] = [];
  for (const name of names) {
    const renamed = renamedPermission(name);
    if (renamed !== undefined) {
      throw new AuthError(
        "unknown_permission",
        `Permission ${quoted(name)} was renamed "${renamed}"; grant "${renamed}" instead.`,
      );
    }
    if (!isPermission(name)) {
      throw new AuthError(
        "unknown_permission",
        `Unknown permission ${quoted(name)}; valid permissions: ${PERMISSION_NAMES.join(", ")}.`,
      );
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}
