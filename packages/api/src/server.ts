import type { ApiInstance } from "./app.ts";

export interface RunningServer {
  /** e.g. http://127.0.0.1:8025 */
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Listens on host:port (port 0 = any free port) and reports the URL it got. */
export async function startServer(
  app: ApiInstance,
  options: { host: string; port: number },
): Promise<RunningServer> {
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}
