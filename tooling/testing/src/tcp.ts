// Plain TCP harnesses: a relay that records what a client sends, a server that never speaks.
import type { ChildProcess } from "node:child_process";
import net from "node:net";

export interface RecordingRelay {
  port: number;
  clientBytes(): Buffer;
  clear(): void;
  close(): Promise<void>;
}

/** One relayed connection's view of its traffic. */
export interface RelayHooks {
  /** Sees each chunk the client sends (before it goes on unchanged). */
  fromClient?: (chunk: Buffer) => void;
  /** What the client receives for each chunk the server sends: it, a rewrite, or nothing. */
  fromServer?: (chunk: Buffer) => Buffer | undefined;
}

export interface RelayOptions {
  /** The target's host (default loopback). */
  host?: string;
  /** Hooks for each accepted connection (their closure holds its state). */
  hooks?: () => RelayHooks;
  /** Keep every client byte for clientBytes() (default true; off for long benchmarks). */
  record?: boolean;
}

/**
 * A loopback TCP relay to `target` that keeps every byte the client sends (server-side proof);
 * `hooks` may watch the client and rewrite or drop what the server answers.
 */
export async function startRelay(
  target: number,
  options: RelayOptions = {},
): Promise<RecordingRelay> {
  let chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(target, options.host ?? "127.0.0.1");
    sockets.add(client).add(upstream);
    const hooks = options.hooks?.() ?? {};
    client.on("data", (chunk: Buffer) => {
      if (options.record !== false) chunks.push(chunk);
      hooks.fromClient?.(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      const forward = hooks.fromServer ? hooks.fromServer(chunk) : chunk;
      if (forward !== undefined) client.write(forward);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    clientBytes: () => Buffer.concat(chunks),
    clear: () => {
      chunks = [];
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

/** A relay that only records (see startRelay). */
export const startRecordingRelay = (target: number) => startRelay(target);

/** A TCP server that accepts and never speaks (a wrong port that hangs). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port that was free a moment ago (for daemons that cannot listen on 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Waits until `child` (a daemon under test) accepts connections on `port`; kills it after 10 s. */
export async function waitForPort(port: number, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const probe = net.connect(port, "127.0.0.1");
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`server did not start: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
