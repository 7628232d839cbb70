import { credentialScrubber } from "@imap-proxy/errors";
import { Readable } from "node:stream";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { SmtpError } from "./errors.ts";
import { type SendOutcome, type SendPhase, classifySendError, parseReply } from "./outcome.ts";
import { type SmtpPolicyOptions, type SmtpSettings, smtpConnectionOptions } from "./policy.ts";

export interface SmtpPoolOptions extends SmtpPolicyOptions {
  /** Connections open at once (the mailbox's `smtp_max_connections`). */
  maxConnections: number;
  /** A connection is closed after this many messages (default 100). */
  maxMessagesPerConnection?: number;
  /** An unused connection is closed after this long (default 5 minutes). */
  idleMs?: number;
}

export interface OutgoingMessage {
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** The one envelope recipient (RCPT TO). */
  to: string;
  /** The stored RFC 5322 bytes, sent unchanged. */
  raw: Buffer;
  /** Aborts before the body is sent (the lease was lost); ignored once the body started. */
  signal?: AbortSignal;
  /**
   * Awaited after the server accepted DATA and before the first byte of the body: the place to
   * record durably that the message may now be delivered. Returning false aborts the send
   * (nothing of the body is sent; the connection is dropped, so the server discards it).
   */
  beforeData?: () => Promise<boolean>;
}

interface Pooled {
  connection: SMTPConnection;
  messages: number;
  idleTimer: NodeJS.Timeout | undefined;
  broken: boolean;
}

const abortedOutcome = (detail: string): SendOutcome => ({
  kind: "aborted",
  reply: undefined,
  detail,
});

/**
 * SMTP connections to one mailbox's server, built only by `smtpConnectionOptions` (the one TLS
 * policy). nodemailer's own pool transport hides how far a failed send got (a drop after the
 * final `.` and a drop after MAIL FROM surface alike) and re-sends entries whose connection
 * closed; here each send knows its phase, and nothing is ever re-sent behind the caller's back.
 */
export class SmtpConnectionPool {
  readonly #settings: SmtpSettings;
  readonly #options: SmtpPoolOptions;
  readonly #scrub: (text: string) => string;
  readonly #idle: Pooled[] = [];
  readonly #waiting: (() => void)[] = [];
  #open = 0;
  #closed = false;

  constructor(settings: SmtpSettings, options: SmtpPoolOptions) {
    this.#settings = settings;
    this.#options = options;
    this.#scrub = credentialScrubber(settings);
  }

  get openConnections(): number {
    return this.#open;
  }

  /** Sends one message to one recipient and says what happened; never throws for SMTP errors. */
  async send(message: OutgoingMessage): Promise<SendOutcome> {
    if (message.signal?.aborted) return abortedOutcome("stopped before connecting");
    let pooled: Pooled | undefined;
    try {
      pooled = await this.#acquire(message.signal);
    } catch (error) {
      if (message.signal?.aborted) return abortedOutcome("stopped while connecting");
      return classifySendError(error, "connect", this.#scrub);
    }
    if (pooled === undefined) return abortedOutcome("stopped while waiting for a connection");
    const result = await this.#sendOn(pooled, message);
    this.#release(pooled, result.reusable);
    return result.outcome;
  }

  /** Closes every connection; waiting sends end `aborted`. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
    for (const pooled of this.#idle.splice(0)) this.#drop(pooled, true);
  }

  #sendOn(
    pooled: Pooled,
    message: OutgoingMessage,
  ): Promise<{ outcome: SendOutcome; reusable: boolean }> {
    const { connection } = pooled;
    let phase: SendPhase = "envelope";
    let abortedBeforeBody = false;
    let asked = false;
    const body = new Readable({
      read() {
        // First read = the server answered DATA with 354. Record, then release the bytes.
        if (asked) return;
        asked = true;
        (message.beforeData ?? (() => Promise.resolve(true)))()
          .then((go) => {
            if (!go || message.signal?.aborted) {
              abortedBeforeBody = true;
              this.destroy(new Error("the lease was lost before DATA"));
              return;
            }
            phase = "data";
            this.push(message.raw);
            this.push(null);
          })
          .catch((error: unknown) => {
            abortedBeforeBody = true;
            this.destroy(error instanceof Error ? error : new Error(String(error)));
          });
      },
    });
    return new Promise((resolve) => {
      connection.send(
        {
          from: message.from,
          to: [message.to],
          size: message.raw.length,
        },
        body,
        (error, info) => {
          if (!error) {
            pooled.messages += 1;
            resolve({
              outcome: { kind: "sent", reply: parseReply(info.response) },
              reusable: true,
            });
            return;
          }
          if (abortedBeforeBody) {
            // The server is inside DATA without a final `.`: dropping the connection discards it.
            pooled.broken = true;
            resolve({ outcome: abortedOutcome(this.#scrub(error.message)), reusable: false });
            return;
          }
          const outcome = classifySendError(error, phase, this.#scrub);
          // A refused envelope or message leaves the session usable once reset.
          const refused =
            (error as { responseCode?: number }).responseCode !== undefined &&
            (error as { responseCode?: number }).responseCode !== 421 &&
            !(connection as unknown as { _destroyed?: boolean })._destroyed;
          if (!refused) {
            pooled.broken = true;
            resolve({ outcome, reusable: false });
            return;
          }
          connection.reset((resetError) => {
            if (resetError) pooled.broken = true;
            resolve({ outcome, reusable: !resetError });
          });
        },
      );
    });
  }

  async #acquire(signal: AbortSignal | undefined): Promise<Pooled | undefined> {
    for (;;) {
      if (this.#closed || signal?.aborted) return undefined;
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        clearTimeout(idle.idleTimer);
        return idle;
      }
      if (this.#open < this.#options.maxConnections) {
        this.#open += 1;
        try {
          return await this.#connect();
        } catch (error) {
          this.#open -= 1;
          this.#wakeOne();
          throw error;
        }
      }
      // Full: wait until a connection is idle or a slot frees, then look again.
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const index = this.#waiting.indexOf(wake);
          if (index !== -1) this.#waiting.splice(index, 1);
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
  }

  #wakeOne(): void {
    this.#waiting.shift()?.();
  }

  #release(pooled: Pooled, reusable: boolean): void {
    const limit = this.#options.maxMessagesPerConnection ?? 100;
    if (this.#closed || !reusable || pooled.broken || pooled.messages >= limit) {
      this.#drop(pooled, reusable && !pooled.broken);
      this.#wakeOne();
      return;
    }
    pooled.idleTimer = setTimeout(
      () => {
        const index = this.#idle.indexOf(pooled);
        if (index !== -1) this.#idle.splice(index, 1);
        this.#drop(pooled, true);
      },
      this.#options.idleMs ?? 5 * 60_000,
    );
    pooled.idleTimer.unref();
    this.#idle.push(pooled);
    this.#wakeOne();
  }

  #drop(pooled: Pooled, polite: boolean): void {
    clearTimeout(pooled.idleTimer);
    this.#open -= 1;
    const { connection } = pooled;
    connection.removeAllListeners("end");
    try {
      if (polite) connection.quit();
      else connection.close();
    } catch {
      connection.close();
    }
  }

  /** Connects, checks the connection is encrypted and offers AUTH, and logs in. */
  #connect(): Promise<Pooled> {
    const connection = new SMTPConnection(smtpConnectionOptions(this.#settings, this.#options));
    const pooled: Pooled = { connection, messages: 0, idleTimer: undefined, broken: false };
    return new Promise<Pooled>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        connection.close();
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      connection.on("error", (error: unknown) => {
        pooled.broken = true;
        fail(error);
      });
      connection.once("end", () => {
        pooled.broken = true;
        fail(new SmtpError("connection_failed", "the server closed the connection"));
        // An idle connection the server closed leaves the pool.
        const index = this.#idle.indexOf(pooled);
        if (index !== -1) {
          this.#idle.splice(index, 1);
          clearTimeout(pooled.idleTimer);
          this.#open -= 1;
          this.#wakeOne();
        }
      });
      connection.connect((error) => {
        if (error) return fail(error);
        if (!connection.secure) {
          return fail(new SmtpError("tls_unavailable", "the connection is not encrypted"));
        }
        if (!connection.allowsAuth) {
          return fail(new SmtpError("auth_unavailable", "no AUTH in the EHLO reply"));
        }
        connection.login(
          { user: this.#settings.username, pass: this.#settings.password },
          (loginError) => {
            if (loginError) return fail(loginError);
            settled = true;
            resolve(pooled);
          },
        );
      });
    });
  }
}
