// Submit benchmark over a real socket, on Postgres: POST /v1/messages with a 2 KB text message,
// autocannon at 1, 16 and 64 connections against the app served as `imap-proxy serve` does
// (buildApp + startServer, pino logs at info, in a child process so the load generator does not
// share its event loop). Then what one submission costs the database: round trips counted on
// the wire by a proxy in front of Postgres. Prints tables; asserts nothing.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres pnpm --filter @imap-proxy/api bench
// Env: DATABASE_URL (default the local server; a fresh database is made and dropped),
// BENCH_DURATION (seconds per connection count, default 10), BENCH_CONNECTIONS (e.g. "16",
// default "1,16,64"), BENCH_CPU_PROF (a directory: the server writes a V8 CPU profile there).

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import autocannon, { type Options, type Request } from "autocannon";
import { hmacKeyFromSecret, issueToken, verifierFromEnv } from "@imap-proxy/auth";
import { openDatabase } from "@imap-proxy/db";
import { openTestDatabase } from "@imap-proxy/testing/database";
import { peerMailbox, storeOnlySealer } from "@imap-proxy/testing/mailbox";
import { startRoundTripCounter } from "@imap-proxy/testing/postgres-wire";
import { apiConfigFromEnv, buildApp, startServer } from "../src/index.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "1,16,64").split(",").map(Number);
/** Requests whose database round trips are counted (after a warm-up). */
const COUNTED = 500;

/** The server side: the app as `serve` builds it, on the database in the environment. */
async function serve(): Promise<void> {
  const handle = await openDatabase({ kind: "postgres", url: process.env.BENCH_SERVER_DB! });
  const app = await buildApp({
    db: handle.db,
    verifier: await verifierFromEnv(process.env),
    config: apiConfigFromEnv(process.env),
    logger: { level: "info", stream: createWriteStream("/dev/null") },
  });
  const server = await startServer(app, { host: "127.0.0.1", port: 0 });
  process.once("message", () => {
    void (async () => {
      await server.close();
      await handle.close();
      process.exit(0);
    })();
  });
  process.send!({ url: server.url });
}

interface Server {
  url: string;
  child: ChildProcess;
}

function startChild(databaseUrl: string, secret: string): Promise<Server> {
  const profile = process.env.BENCH_CPU_PROF;
  const child = fork(import.meta.filename, ["--serve"], {
    execArgv: [
      ...process.execArgv,
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
    ],
    env: {
      ...process.env,
      BENCH_SERVER_DB: databaseUrl,
      // The secret travels in the environment, never in argv.
      JWT_SECRET: secret,
      // The per-token rate limit would turn most of the load into 429s.
      RATE_LIMIT_PER_SECOND: "1000000000",
      RATE_LIMIT_BURST: "1000000000",
    },
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ url: (message as { url: string }).url, child }));
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
}

async function stopChild(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.send("stop");
  await exited;
}

/** About 2 KB of plain text: the body of a typical transactional email. */
const TEXT = Array.from(
  { length: 32 },
  (_, i) => `Line ${String(i).padStart(2, "0")}: your order has shipped and will arrive soon.`,
)
  .join("\n")
  .padEnd(2048, ".");

async function main(): Promise<void> {
  process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";
  const database = await openTestDatabase();
  const secret = randomBytes(32).toString("base64url");
  try {
    // The benchmark never sends: the credentials only have to be stored.
    const mailbox = await peerMailbox(database.db, storeOnlySealer, { email: "bench@example.com" });
    const { token } = await issueToken(
      {
        algorithm: "HS256",
        key: await hmacKeyFromSecret(secret),
        issuer: "imap-proxy",
        audience: "imap-proxy",
      },
      { mailboxId: mailbox.id, permissions: ["messages:send"] },
    );
    const body = JSON.stringify({
      to: ["customer@example.net"],
      subject: "Your order has shipped",
      text: TEXT,
    });
    const request = (url: string, connections: number, extra: Partial<Options> = {}) =>
      autocannon({
        url: `${url}/v1/messages`,
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
        connections,
        ...extra,
      });
    const withKey = [
      {
        setupRequest: (r: Request) => ({
          ...r,
          headers: { ...r.headers, "idempotency-key": randomUUID() },
        }),
      },
    ];

    // Throughput and latency.
    const rows: string[] = [];
    const server = await startChild(database.url!, secret);
    try {
      await request(server.url, 16, { duration: 3 }); // warm-up: JIT, pool, mailbox cache
      for (const connections of CONNECTIONS) {
        const result = await request(server.url, connections, { duration: DURATION });
        const failed = result.non2xx + result.errors + result.timeouts;
        rows.push(
          `| ${connections} | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p99} | ${failed} |`,
        );
      }
    } finally {
      await stopChild(server);
    }

    // Database round trips per submission, counted on the wire.
    const counter = await startRoundTripCounter(database.url!);
    const counted = await startChild(counter.url, secret);
    const costs: string[] = [];
    try {
      for (const [label, requests] of [
        ["no Idempotency-Key", undefined],
        ["a new Idempotency-Key each", withKey],
      ] as const) {
        // Warm-up: the mailbox lookup (cached 10 s), and each pooled connection prepares the
        // statement on its first use.
        const shape = requests ? { requests: [...requests] } : {};
        await request(counted.url, 16, { amount: 200, ...shape });
        counter.reset();
        const result = await request(counted.url, 16, { amount: COUNTED, ...shape });
        costs.push(
          `| ${label} | ${result["2xx"]} | ${counter.count()} | ${(counter.count() / result["2xx"]).toFixed(2)} |`,
        );
      }
    } finally {
      await stopChild(counted);
      await counter.close();
    }

    console.log(
      `\nPOST /v1/messages, 2 KB text, 1 recipient, Postgres, ${DURATION} s per row (autocannon)`,
    );
    console.log("| connections | req/s | p50 ms | p99 ms | failed |\n|---:|---:|---:|---:|---:|");
    console.log(rows.join("\n"));
    console.log(`\nDatabase round trips per submission (16 connections, counted on the wire)`);
    console.log("| requests | accepted | round trips | per request |\n|---|---:|---:|---:|");
    console.log(costs.join("\n"));
  } finally {
    await database.close();
  }
}

if (process.argv[2] === "--serve") await serve();
else await main();
