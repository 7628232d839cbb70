import { chmodSync, rmSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { type DatabaseHandle, embeddedInstanceOf } from "./client.ts";
import { connectablePath, embeddedChannelPath } from "./embedded-channel.ts";
import { DatabaseError } from "./errors.ts";

export interface ShareOptions {
  /** How long stop() lets connected clients finish before cutting them off (default 10 s). */
  graceMs?: number;
  /**
   * A client that holds the database inside a transaction and sends nothing for this long is
   * disconnected and its transaction rolled back, so a stopped client cannot stall the server
   * (default 60 s).
   */
  idleInTransactionMs?: number;
}

export interface SharedDatabase {
  /** The socket clients connect to. */
  readonly path: string;
  /** Stops accepting clients, lets connected ones finish (bounded by graceMs), then returns. */
  stop(): Promise<void>;
}

/**
 * Shares the embedded database a server process holds with the CLI: other processes opening the
 * same data directory connect here instead of waiting for the lock. PGlite is one session, so
 * isolation comes from a gate: a client holds PGlite's own transaction mutex — the one its
 * `query()` and `transaction()` take, so the server's in-process work waits too — from its first
 * message until the session is idle again (ReadyForQuery 'I'). Two transactions never interleave,
 * and neither do two clients' extended-protocol sequences (Parse…Sync).
 *
 * On Postgres (DATABASE_URL) there is nothing to share: stop() is a no-op.
 */
export async function shareEmbeddedDatabase(
  handle: DatabaseHandle,
  options: ShareOptions = {},
): Promise<SharedDatabase> {
  if (handle.kind === "postgres") return { path: "", stop: async () => {} };
  const embedded = embeddedInstanceOf(handle);
  if (embedded === undefined) {
    throw new DatabaseError(
      "database_busy",
      `The embedded database in ${handle.location} is already served by another imap-proxy process; stop it first.`,
    );
  }
  const { pglite, dataDir } = embedded;
  const socketPath = embeddedChannelPath(dataDir);
  const listenPath = connectablePath(socketPath);
  if (listenPath === undefined) {
    throw new DatabaseError(
      "invalid_input",
      `The data directory path ${dataDir} is too long for its socket; use a shorter IMAP_PROXY_DATA_DIR.`,
    );
  }
  const graceMs = options.graceMs ?? 10_000;
  const idleMs = options.idleInTransactionMs ?? 60_000;
  const sessions = new Set<ClientSession>();
  const server = createServer((socket) => {
    const session = new ClientSession(socket, pglite, idleMs);
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  });
  // We hold the directory's lock, so a socket file left here belongs to a server that died.
  rmSync(socketPath, { force: true });
  await listenPrivately(server, listenPath);
  chmodSync(socketPath, 0o600);

  let stopping: Promise<void> | undefined;
  return {
    path: socketPath,
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        rmSync(socketPath, { force: true });
        const finished = Promise.all([...sessions].map((session) => session.closed));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          finished,
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
        for (const session of sessions) session.disconnect();
        await Promise.all([finished, closed]);
      })()),
  };
}

/** Binds with a umask that leaves the socket owner-only from its first instant. */
async function listenPrivately(server: Server, listenPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const umask = process.umask(0o177);
    try {
      server.listen(listenPath, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
}

// Frontend messages after which the client waits for an answer, so the batch runs.
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const FLUSH = 0x48; // 'H'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const FUNCTION_CALL = 0x46; // 'F'
const TERMINATE = 0x58; // 'X'
const RUNS_BATCH = new Set([SYNC, QUERY, FLUSH, COPY_DONE, COPY_FAIL, FUNCTION_CALL]);
// Untyped messages before the session starts.
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I'

/** What a client left behind is undone by: abort, end an extended sequence, abort again. */
const CLEANUP = [
  simpleQuery("ROLLBACK"),
  new Uint8Array([SYNC, 0, 0, 0, 4]),
  simpleQuery("ROLLBACK"),
];

function simpleQuery(text: string): Uint8Array {
  const body = Buffer.from(`${text}\0`);
  const message = Buffer.alloc(5 + body.length);
  message[0] = QUERY;
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

/** Holds PGlite's transaction mutex until the returned function is called. */
function holdGate(pglite: PGlite): Promise<() => void> {
  return new Promise((resolve, reject) => {
    pglite
      ._runExclusiveTransaction(() => new Promise<void>((release) => resolve(release)))
      .catch(reject);
  });
}

/** One client connection: frames its messages and runs them through the gate, in order. */
class ClientSession {
  readonly closed: Promise<void>;
  #input: Buffer = Buffer.alloc(0);
  #started = false;
  #batch: Uint8Array[] = [];
  #work: Promise<void> = Promise.resolve();
  #releaseGate: (() => void) | undefined;
  #tail: Buffer = Buffer.alloc(0);
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly pglite: PGlite,
    private readonly idleInTransactionMs: number,
  ) {
    let markClosed!: () => void;
    this.closed = new Promise((resolve) => (markClosed = resolve));
    socket.on("data", (chunk) => this.#receive(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(this.#idleTimer);
      this.#work = this.#work.then(() => this.#cleanUp()).finally(markClosed);
    });
  }

  /** Cuts the client off; a transaction it held is rolled back. */
  disconnect(): void {
    this.socket.destroy();
  }

  #receive(chunk: Buffer): void {
    if (this.#releaseGate !== undefined) this.#armIdleTimer();
    this.#input = this.#input.length === 0 ? chunk : Buffer.concat([this.#input, chunk]);
    for (;;) {
      const message = this.#started ? this.#nextTyped() : this.#nextUntyped();
      if (message === undefined) return;
    }
  }

  /** Startup-phase messages: a length, then a code. Returns undefined when incomplete. */
  #nextUntyped(): true | undefined {
    if (this.#input.length < 8) return undefined;
    const length = this.#input.readInt32BE(0);
    if (this.#input.length < length) return undefined;
    const message = this.#input.subarray(0, length);
    this.#input = this.#input.subarray(length);
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      // Nothing to encrypt on a private socket: "N" tells the client to go on in the clear.
      this.socket.write("N");
    } else if (code === CANCEL_REQUEST) {
      this.socket.end();
    } else {
      this.#started = true;
      this.#schedule([Uint8Array.from(message)]);
    }
    return true;
  }

  #nextTyped(): true | undefined {
    if (this.#input.length < 5) return undefined;
    const length = 1 + this.#input.readInt32BE(1);
    if (this.#input.length < length) return undefined;
    const type = this.#input[0]!;
    const message = Uint8Array.from(this.#input.subarray(0, length));
    this.#input = this.#input.subarray(length);
    if (type === TERMINATE) {
      this.socket.end();
      return true;
    }
    this.#batch.push(message);
    if (RUNS_BATCH.has(type)) {
      const batch = this.#batch;
      this.#batch = [];
      this.#schedule(batch, type === FLUSH);
    }
    return true;
  }

  #schedule(batch: Uint8Array[], awaitsMore = false): void {
    this.#work = this.#work.then(() => this.#run(batch, awaitsMore)).catch(() => this.disconnect());
  }

  async #run(batch: Uint8Array[], awaitsMore: boolean): Promise<void> {
    if (this.socket.destroyed) return;
    this.#releaseGate ??= await holdGate(this.pglite);
    // Gone while waiting for the gate: #cleanUp (queued behind this) releases it.
    if (this.socket.destroyed) return;
    this.#tail = Buffer.alloc(0);
    for (const message of batch) {
      await this.pglite.runExclusive(() =>
        this.pglite.execProtocolRawStream(message, { onRawData: (data) => this.#send(data) }),
      );
    }
    // A batch ending in Sync/Query answers with ReadyForQuery last; 'I' = no transaction open.
    const tail = this.#tail;
    const idle =
      !awaitsMore &&
      tail.length === 6 &&
      tail[0] === READY_FOR_QUERY &&
      tail.readInt32BE(1) === 5 &&
      tail[5] === IDLE;
    if (idle) this.#letGo();
    else this.#armIdleTimer();
  }

  #send(data: Uint8Array): void {
    const copy = Buffer.from(data);
    this.#tail = Buffer.concat([this.#tail, copy]).subarray(-6);
    if (!this.socket.destroyed) this.socket.write(copy);
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.disconnect(), this.idleInTransactionMs);
    this.#idleTimer.unref();
  }

  #letGo(): void {
    clearTimeout(this.#idleTimer);
    this.#releaseGate?.();
    this.#releaseGate = undefined;
  }

  /** The client is gone: undo whatever it left open before anyone else gets the database. */
  async #cleanUp(): Promise<void> {
    if (this.#releaseGate === undefined) return;
    try {
      for (const message of CLEANUP) {
        await this.pglite.runExclusive(() => this.pglite.execProtocolRaw(message));
      }
    } finally {
      this.#letGo();
    }
  }
}
