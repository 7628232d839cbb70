// smtp-server (the Nodemailer project's server) behind a recording relay, for fault injection.
import type net from "node:net";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { PASSWORD, USERNAME } from "./credentials.ts";
import { startRecordingRelay } from "./tcp.ts";

export interface RunningServer {
  /** The port clients connect to: a recording relay in front of the SMTP server. */
  port: number;
  /** Every byte the client sent, in order (plaintext, then TLS records once encrypted). */
  clientBytes(): Buffer;
  /** AUTH attempts the server itself saw (username, whether the password matched). */
  authAttempts: { username: string; accepted: boolean }[];
  /** The smtp-server itself, for fault injection (its live connections). */
  server: SMTPServer;
  close(): Promise<void>;
}

/** An smtp-server on 127.0.0.1 behind a relay that records what the client sends. */
export async function startSmtpServer(options: SMTPServerOptions): Promise<RunningServer> {
  const authAttempts: RunningServer["authAttempts"] = [];
  const server = new SMTPServer({
    banner: "test-mta ready",
    name: "mx.test.example",
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onAuth(auth, _session, callback) {
      const accepted = auth.username === USERNAME && auth.password === PASSWORD;
      authAttempts.push({ username: auth.username ?? "", accepted });
      if (accepted) callback(null, { user: auth.username });
      else
        callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    ...options,
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const target = (server.server.address() as net.AddressInfo).port;

  const relay = await startRecordingRelay(target);
  return {
    port: relay.port,
    clientBytes: () => relay.clientBytes(),
    authAttempts,
    server,
    async close() {
      await relay.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
