import { quoted } from "@imap-proxy/errors";
import { verifierFromEnv } from "@imap-proxy/auth";
import {
  apiConfigFromEnv,
  buildApp,
  startServer,
  trackingConfigFromEnv,
  trustProxyFromEnv,
} from "@imap-proxy/api";
import { imapExtraCaFromEnv } from "@imap-proxy/imap";
import { startSender } from "@imap-proxy/sender";
import { extraCaFromEnv } from "@imap-proxy/smtp";
import {
  databaseTargetFromEnv,
  openDatabase,
  prepareSchema,
  shareEmbeddedDatabase,
} from "@imap-proxy/db";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";
import { keyringFor } from "../runtime.ts";
import { describeError } from "./common.ts";

export interface ServeFlags {
  host?: string;
  port?: string;
  worker?: true;
}

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = "8025";

function portOf(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw new CliError(
      "invalid_input",
      `The port must be a whole number 0–65535 (got ${quoted(text)}).`,
    );
  }
  return Number(text);
}

/**
 * Serves the HTTP API until SIGINT or SIGTERM; then stops accepting connections, lets in-flight
 * requests finish, lets CLI commands connected to the shared embedded database finish (bounded)
 * and closes the database. Logs are pino JSON lines on stdout.
 */
export async function runServe(flags: ServeFlags, io: Io): Promise<void> {
  const host = flags.host ?? (io.env.HOST || DEFAULT_HOST);
  const port = portOf(flags.port ?? (io.env.PORT || DEFAULT_PORT));
  // Configuration errors stop the start before the database is opened.
  const verifier = await verifierFromEnv(io.env);
  const config = apiConfigFromEnv(io.env);
  const tracking = trackingConfigFromEnv(io.env);
  const trustProxy = trustProxyFromEnv(io.env);
  const target = databaseTargetFromEnv(io.env);
  // The embedded database is one process: serve is the sender there. On Postgres, sending is
  // `imap-proxy worker`'s job unless --worker asks for it here too.
  const sends = target.kind !== "postgres" || flags.worker === true;
  // As a server: commands started while this one creates or migrates the database wait for
  // its socket rather than giving up after IMAP_PROXY_LOCK_WAIT_MS.
  const handle = await openDatabase(target, { role: "server" });
  try {
    await prepareSchema(handle);
    const keyring = sends ? await keyringFor(io, handle) : undefined;
    // On the embedded database, other CLI processes reach it through a private socket while this
    // process holds it (a no-op on Postgres).
    const shared = await shareEmbeddedDatabase(handle);
    try {
      const app = await buildApp({
        db: handle.db,
        verifier,
        config,
        ...(tracking === undefined ? {} : { tracking }),
        trustProxy,
        logger: { level: io.env.LOG_LEVEL || "info", stream: io.stdout },
      });
      const server = await startServer(app, { host, port });
      const sender = keyring
        ? startSender({
            db: handle.db,
            keyring,
            smtp: { extraCa: extraCaFromEnv(io.env) },
            imap: {
              imap: { extraCa: imapExtraCaFromEnv(io.env) },
              onError: (error, context) =>
                app.log.warn({ ...context, err: describeError(error) }, "IMAP work failed"),
            },
          })
        : undefined;
      if (sender)
        app.log.info("sending worker, Sent copier and bounce reader running in this process");
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          app.log.info({ signal }, "shutting down: finishing in-flight requests and sends");
          // Stop claiming and let running sends finish while the last requests complete.
          Promise.all([server.close(), sender?.stop()]).then(
            () => resolve(),
            () => resolve(),
          );
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    } finally {
      await shared.stop();
    }
  } finally {
    await handle.close();
  }
}
