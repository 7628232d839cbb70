import {
  AuthError,
  type Permission,
  type VerifiedToken,
  type VerifierConfig,
  requirePermission,
  verifyToken,
} from "@imap-proxy/auth";
import { type Database, eq, mailboxes } from "@imap-proxy/db";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { ApiProblem } from "./problems.ts";

/** Who is calling: the token's mailbox, resolved. */
export interface AuthContext {
  mailboxId: string;
  /** The mailbox's address as last read (the submit statement re-checks it). */
  mailboxEmail: string;
  /** The token's `jti`: the rate limit's key. */
  tokenId: string;
}

declare module "fastify" {
  interface FastifyRequest {
    auth: AuthContext | undefined;
  }
}

/** The request's auth context; only routes guarded by `authenticate` may call this. */
export function authOf(request: FastifyRequest): AuthContext {
  if (request.auth === undefined) throw new Error("route is not authenticated");
  return request.auth;
}

/**
 * Mailbox id → address (and tracking defaults), read once and kept for `ttlMs`, so a submission costs one statement.
 * Staleness is bounded: the submit statement writes only while the address still matches, and
 * a deleted mailbox's tokens stop working within `ttlMs` on reads.
 */
export class MailboxDirectory {
  readonly #entries = new Map<string, { mailbox: DirectoryEntry | undefined; expires: number }>();
  constructor(
    private readonly db: Database,
    private readonly ttlMs = 10_000,
  ) {}

  async #read(id: string): Promise<DirectoryEntry | undefined> {
    const now = Date.now();
    const cached = this.#entries.get(id);
    if (cached !== undefined && cached.expires > now) return cached.mailbox;
    const [row] = await this.db
      .select({
        email: mailboxes.email,
        trackOpens: mailboxes.trackOpens,
        trackClicks: mailboxes.trackClicks,
      })
      .from(mailboxes)
      .where(eq(mailboxes.id, id));
    // Bounded: forget everything rather than grow without limit.
    if (this.#entries.size >= 10_000) this.#entries.clear();
    this.#entries.set(id, { mailbox: row, expires: now + this.ttlMs });
    return row;
  }

  async emailOf(id: string): Promise<string | undefined> {
    return (await this.#read(id))?.email;
  }

  /** The mailbox's tracking defaults, for submissions that do not say. */
  async trackingDefaultsOf(id: string): Promise<{ opens: boolean; clicks: boolean }> {
    const mailbox = await this.#read(id);
    return { opens: mailbox?.trackOpens ?? false, clicks: mailbox?.trackClicks ?? false };
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}

interface DirectoryEntry {
  email: string;
  trackOpens: boolean;
  trackClicks: boolean;
}

/**
 * Tokens whose signature and claims verified, kept by their exact text for up to `ttlMs` and
 * never past their `exp`: a client sends the same token with every request, and checking its
 * signature each time was a tenth of a submission's CPU. Identical bytes verify identically; the
 * time-bound claims are what the bound on each entry respects.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, { token: VerifiedToken; until: number }>();
  constructor(
    private readonly verifier: VerifierConfig,
    private readonly ttlMs = 60_000,
    /** Milliseconds since the epoch (tests move it). */
    private readonly now: () => number = Date.now,
  ) {}

  async verify(text: string): Promise<VerifiedToken> {
    const now = this.now();
    const cached = this.#entries.get(text);
    if (cached !== undefined && cached.until > now) return cached.token;
    const token = await verifyToken(this.verifier, text, { now: Math.floor(now / 1000) });
    // Bounded: forget everything rather than grow without limit.
    if (this.#entries.size >= 10_000) this.#entries.clear();
    this.#entries.set(text, { token, until: Math.min(now + this.ttlMs, token.expiresAt * 1000) });
    return token;
  }
}

const REALM = 'realm="imap-proxy"';
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

function invalidToken(detail: string): ApiProblem {
  return new ApiProblem("invalid_token", detail, {
    headers: { "www-authenticate": `Bearer ${REALM}, error="invalid_token"` },
  });
}

/**
 * An onRequest hook (RFC 6750): a valid bearer token granting any of `permissions`, for a
 * mailbox that exists. Fails with 401 `invalid_token` or 403 `insufficient_scope` /
 * `permission_renamed`; the token never appears in a response or a log.
 */
export function authenticate(
  tokens: VerifiedTokens,
  directory: MailboxDirectory,
  permissions: readonly [Permission, ...Permission[]],
): onRequestAsyncHookHandler {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) throw invalidToken("Send Authorization: Bearer <token>.");
    const match = BEARER.exec(header);
    if (match === null) throw invalidToken("The Authorization header is not a bearer token.");
    let token;
    try {
      token = await tokens.verify(match[1]!);
    } catch (error) {
      if (error instanceof AuthError) throw invalidToken(error.message);
      throw error;
    }
    if (!permissions.some((permission) => token.permissions.has(permission))) {
      const scope = permissions.join(" ");
      const headers = {
        "www-authenticate": `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`,
      };
      try {
        requirePermission(token, permissions[0]);
      } catch (error) {
        if (error instanceof AuthError && error.code === "permission_renamed") {
          throw new ApiProblem("permission_renamed", error.message, { headers });
        }
      }
      throw new ApiProblem(
        "insufficient_scope",
        `This token does not grant ${permissions.map((p) => `"${p}"`).join(" or ")}.`,
        { headers },
      );
    }
    const email = await directory.emailOf(token.mailboxId);
    if (email === undefined) throw invalidToken("The token's mailbox no longer exists.");
    request.auth = {
      mailboxId: token.mailboxId,
      mailboxEmail: email,
      tokenId: token.jti ?? token.mailboxId,
    };
  };
}
