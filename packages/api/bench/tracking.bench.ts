// Tracking endpoints over a real socket, on Postgres: GET /t/o/{token} (the pixel) and
// GET /t/c/{token} (the redirect) at 64 connections with autocannon, against the app as `serve`
// builds it (in a child process, pino at info), beside GET /healthz (one trivial statement per
// request) as the same-run reference. Also a forged pixel token, which must cost no database
// work. Prints a table; asserts nothing.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres pnpm --filter @imap-proxy/api bench:tracking
// Env: DATABASE_URL (default the local server; a fresh database is made and dropped),
// BENCH_DURATION (seconds per row, default 10), BENCH_CONNECTIONS (default 64).

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import autocannon, { type Request } from "autocannon";
import { verifierFromEnv } from "@imap-proxy/auth";
import { openDatabase, rowsOf, sql, submitMessage } from "@imap-proxy/db";
import { openTestDatabase } from "@imap-proxy/testing/database";
import { peerMailbox, storeOnlySealer } from "@imap-proxy/testing/mailbox";
import { TrackingKeys } from "@imap-proxy/tracking";
import { apiConfigFromEnv, buildApp, startServer, trackingConfigFromEnv } from "../src/index.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const LINK = "https://shop.example.com/landing?id=7";
/** Hits are spread over this many recipient rows, as real readers' are. */
const RECIPIENTS = 1000;

/** The server side: the app as `serve` builds it, with tracking configured. */
async function serve(): Promise<void> {
  const handle = await openDatabase({ kind: "postgres", url: process.env.BENCH_SERVER_DB! });
  const app = await buildApp({
    db: handle.db,
    verifier: await verifierFromEnv(process.env),
    config: apiConfigFromEnv(process.env),
    tracking: trackingConfigFromEnv(process.env)!,
    logger: { level: "info", stream: createWriteStream("/dev/null") },
  });
  const server = await startServer(app, { host: "127.0.0.1", port: 0 });
  process.once("message", () => {
    void (async () => {
      await server.close(); // flushes the opens still waiting
      await handle.close();
      process.exit(0);
    })();
  });
  process.send!({ url: server.url });
}

function startChild(
  databaseUrl: string,
  trackingSecret: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(import.meta.filename, ["--serve"], {
    env: {
      ...process.env,
      BENCH_SERVER_DB: databaseUrl,
      // Secrets travel in the environment, never in argv.
      JWT_SECRET: randomBytes(32).toString("base64url"),
      TRACKING_SECRET: trackingSecret,
      PUBLIC_URL: "https://track.example.org",
    },
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ url: (message as { url: string }).url, child }));
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
}

async function main(): Promise<void> {
  process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";
  const database = await openTestDatabase();
  const secret = randomBytes(32).toString("base64url");
  const keys = TrackingKeys.parse(secret);
  try {
    // The benchmark never sends: the credentials only have to be stored.
    const mailbox = await peerMailbox(database.db, storeOnlySealer, { email: "bench@example.com" });
    // One tracked message to RECIPIENTS readers, sent an hour ago (hits set opened_at/clicked_at).
    const id = randomUUID();
    const recipients = Array.from({ length: RECIPIENTS }, (_, i) => ({
      id: randomUUID(),
      email: `reader${i}@example.net`,
    }));
    const raw = Buffer.from("Subject: bench\r\n\r\nHello\r\n");
    await submitMessage(database.db, {
      id,
      mailboxId: mailbox.id,
      envelopeFrom: "bench@example.com",
      messageIdHeader: `<${id}@example.com>`,
      subject: "bench",
      raw,
      requestSha256: Buffer.alloc(32),
      recipients,
      tracking: { opens: true, clicks: true, links: [LINK], bodies: [] },
    });
    await database.db.execute(sql`
      UPDATE outbound_messages SET status = 'processing', attempts = 1, processing_started_at = now(),
        lease_renewed_at = now(), lease_owner = 'bench' WHERE message_id = ${id}::uuid`);
    await database.db.execute(sql`
      UPDATE outbound_messages SET status = 'sent', processing_started_at = NULL, lease_renewed_at = NULL,
        lease_owner = NULL, sent_at = now() - interval '1 hour' WHERE message_id = ${id}::uuid`);

    const other = TrackingKeys.parse(randomBytes(32).toString("base64url"));
    const paths = {
      open: recipients.map((r) => `/t/o/${keys.sign({ kind: "open", recipientId: r.id })}`),
      click: recipients.map(
        (r) => `/t/c/${keys.sign({ kind: "click", recipientId: r.id, link: 0 })}`,
      ),
      forged: recipients.map((r) => `/t/o/${other.sign({ kind: "open", recipientId: r.id })}`),
      healthz: ["/healthz"],
    };
    let turn = 0;
    const rotating = (list: string[]): Request[] => [
      { setupRequest: (request) => ({ ...request, path: list[turn++ % list.length]! }) },
    ];
    const headers = { "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Firefox/130.0" };
    const server = await startChild(database.url!, secret);
    const rows: string[] = [];
    const events = async () =>
      rowsOf<{ n: number }>(
        await database.db.execute(sql`SELECT count(*)::int AS n FROM tracking_events`),
      )[0]!.n;
    let healthP99 = 0;
    try {
      // Warm-up (JIT, pool); its opens are written before the first row counts.
      await autocannon({
        url: server.url,
        connections: 16,
        duration: 2,
        headers,
        requests: rotating(paths.open),
      });
      await new Promise((r) => setTimeout(r, 1000));
      for (const [label, list] of [
        ["GET /healthz (reference)", paths.healthz],
        ["GET /t/o (valid tokens)", paths.open],
        ["GET /t/o (forged tokens)", paths.forged],
        ["GET /t/c (valid tokens)", paths.click],
      ] as const) {
        const before = await events();
        const result = await autocannon({
          url: server.url,
          connections: CONNECTIONS,
          duration: DURATION,
          headers,
          requests: rotating(list),
        });
        await new Promise((r) => setTimeout(r, 1000)); // the last batches of opens
        const written = (await events()) - before;
        if (list === paths.healthz) healthP99 = result.latency.p99;
        const answered = result.requests.total - result.errors - result.timeouts;
        rows.push(
          `| ${label} | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p99} | ${healthP99 ? (result.latency.p99 / healthP99).toFixed(2) : "–"} | ${written} / ${answered} |`,
        );
      }
    } finally {
      const exited = new Promise((resolve) => server.child.once("exit", resolve));
      server.child.send("stop");
      await exited;
    }
    console.log(
      `\nTracking endpoints, Postgres, ${CONNECTIONS} connections, ${DURATION} s per row, hits spread over ${RECIPIENTS} recipients (autocannon)`,
    );
    console.log(
      "| route | req/s | p50 ms | p99 ms | p99 ÷ healthz p99 | events written / answered |\n|---|---:|---:|---:|---:|---:|",
    );
    console.log(rows.join("\n"));
  } finally {
    await database.close();
  }
}

if (process.argv[2] === "--serve") await serve();
else await main();
