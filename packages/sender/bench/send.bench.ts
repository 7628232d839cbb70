// End-to-end sending benchmark: messages/s from `queued` rows to accepted by a local sink SMTP
// server (smtp-server, its own process), through runWorker + SendHandler on Postgres; beside it,
// in the same run and against the same sink, the bare limit: nodemailer's own pool sending the
// same stored bytes over the same number of connections. Rounds interleave the two. Prints a
// table (rates, ratio, client CPU per message); asserts nothing.
//   pnpm --filter @imap-proxy/sender bench
// Env: BENCH_DATABASE_URL (default DATABASE_URL, then the local server), BENCH_MESSAGES (per run,
// default 2000), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (worker handlers; default
// max(10, 2 × mailboxes × connections)), BENCH_ONLY (one configuration, e.g. 10x4),
// BENCH_MARKER_COST=1 (also run the worker with the DATA marker answered without the database:
// not a mode anyone can run, only a measure of what the durable marker costs),
// BENCH_SINK_DELAY_MS (the sink answers each final dot that much later, like a remote server;
// default 0).

import { type ChildProcess, fork } from "node:child_process";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { openTestDatabase } from "@imap-proxy/testing/database";
import { peerMailbox } from "@imap-proxy/testing/mailbox";
import { makeTestPki } from "@imap-proxy/testing/pki";
import nodemailer, { type Transporter } from "nodemailer";
import { type Handler, SendHandler, runWorker } from "../src/index.ts";

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SINK_DELAY_MS = Number(process.env.BENCH_SINK_DELAY_MS ?? 0);
/** [mailboxes, connections per mailbox] */
const CONFIGS = (
  [
    [1, 1],
    [1, 4],
    [10, 1],
    [10, 4],
  ] as [number, number][]
).filter(
  ([m, c]) => process.env.BENCH_ONLY === undefined || process.env.BENCH_ONLY === `${m}x${c}`,
);
const concurrencyFor = (mailboxes: number, connections: number) =>
  Number(process.env.BENCH_CONCURRENCY ?? Math.max(10, 2 * mailboxes * connections));

const pki = makeTestPki();
const keyring = new Keyring([FernetKey.parse(FernetKey.generate())]);

async function startSink(): Promise<{
  child: ChildProcess;
  port: number;
  accepted(): Promise<number>;
}> {
  const child = fork(new URL("./sink.ts", import.meta.url).pathname, {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      SINK_TLS: JSON.stringify(pki.server),
      SINK_DELAY_MS: String(SINK_DELAY_MS),
    },
  });
  const port = await new Promise<number>((resolve) =>
    child.once("message", (m) => resolve((m as { port: number }).port)),
  );
  return {
    child,
    port,
    accepted: () =>
      new Promise((resolve) => {
        child.once("message", (m) => resolve((m as { accepted: number }).accepted));
        child.send("count");
      }),
  };
}

/** Empties the queue and mailboxes, then queues `MESSAGES` 2 KB messages over `mailboxes`. */
async function prepare(db: Database, port: number, mailboxes: number, connections: number) {
  await db.execute(sql`TRUNCATE outbound_messages, message_bodies, messages, mailboxes CASCADE`);
  for (let i = 0; i < mailboxes; i++) {
    await peerMailbox(db, keyring, {
      email: `bench${i}@example.com`,
      smtpPort: port,
      maxConnections: connections,
    });
  }
  // One statement: message, its stored bytes (about 2 KB, a unique Message-ID) and its row.
  await db.execute(sql`
    WITH src AS (
      SELECT s.id, g, mb.id AS mailbox_id, mb.email,
             convert_to('From: ' || mb.email || E'\r\nTo: r' || g || E'@example.net\r\nSubject: bench ' || g
               || E'\r\nMessage-ID: <' || s.id || E'@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n'
               || repeat(E'The quick brown fox jumps over the lazy dog, again and again.\r\n', 30), 'UTF8') AS raw
      FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(0, ${MESSAGES - 1}) g) s
      JOIN (SELECT id, email, (row_number() OVER (ORDER BY email) - 1)::int AS k FROM mailboxes) mb
        ON mb.k = s.g % ${mailboxes}
    ), m AS (
      INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
      SELECT id, mailbox_id, '<' || id || '@example.com>', email, 'bench' FROM src
    ), b AS (
      INSERT INTO message_bodies (message_id, raw, size_bytes, request_sha256)
      SELECT id, raw, length(raw), decode(repeat('00', 32), 'hex') FROM src
    )
    INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
    SELECT mailbox_id, id, 'r' || g || '@example.net', 'bench' FROM src`);
  await db.execute(sql`VACUUM ANALYZE outbound_messages`);
  // What the bare run sends: the same stored bytes, envelopes and mailboxes.
  return rowsOf<{ mailbox: string; to: string; raw: Uint8Array }>(
    await db.execute(sql`
      SELECT mb.email AS mailbox, o.recipient_email AS "to", b.raw
      FROM outbound_messages o JOIN mailboxes mb ON mb.id = o.mailbox_id
      JOIN message_bodies b ON b.message_id = o.message_id ORDER BY o.created_at`),
  ).map((r) => ({ ...r, raw: Buffer.from(r.raw) }));
}

interface Measure {
  perSecond: number;
  cpuMicrosPerMessage: number;
}

async function measure(work: () => Promise<void>): Promise<Measure> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return {
    perSecond: (MESSAGES / ms) * 1000,
    cpuMicrosPerMessage: (used.user + used.system) / MESSAGES,
  };
}

const MARKER_COST = process.env.BENCH_MARKER_COST === "1";
type Runner = "ours" | "bare" | "unmarked";

async function ours(
  db: Database,
  mailboxes: number,
  connections: number,
  marked = true,
): Promise<Measure> {
  const handler = new SendHandler({ db, keyring, smtp: { extraCa: pki.caPem } });
  const handle: Handler = marked
    ? handler.handle
    : (message, context) =>
        handler.handle(message, { ...context, beginData: () => Promise.resolve(true) });
  try {
    return await measure(async () => {
      const report = await runWorker({
        db,
        owner: "bench",
        concurrency: concurrencyFor(mailboxes, connections),
        handler: handle,
        stopWhenEmpty: true,
      });
      if (report.processed !== MESSAGES) throw new Error(`handled ${report.processed}`);
    });
  } finally {
    handler.close();
  }
}

async function bare(
  port: number,
  messages: { mailbox: string; to: string; raw: Buffer }[],
  connections: number,
): Promise<Measure> {
  const transports = new Map<string, Transporter>();
  for (const { mailbox } of messages)
    if (!transports.has(mailbox))
      transports.set(
        mailbox,
        nodemailer.createTransport({
          pool: true,
          maxConnections: connections,
          maxMessages: 100,
          host: "localhost",
          port,
          requireTLS: true,
          auth: { user: USERNAME, pass: PASSWORD },
          tls: { ca: pki.caPem },
        }),
      );
  try {
    return await measure(async () => {
      await Promise.all(
        messages.map(({ mailbox, to, raw }) =>
          transports.get(mailbox)!.sendMail({ envelope: { from: mailbox, to }, raw }),
        ),
      );
    });
  } finally {
    for (const transport of transports.values()) transport.close();
  }
}

const median = (values: number[]) => {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

const sink = await startSink();
// A fresh Postgres database, dropped at the end.
process.env.DATABASE_URL = ADMIN_URL;
const handle = await openTestDatabase();
const results = new Map<string, Record<Runner, Measure[]>>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mailboxes, connections] of CONFIGS) {
      const key = `${mailboxes}×${connections}`;
      const entry = results.get(key) ?? { ours: [], bare: [], unmarked: [] };
      results.set(key, entry);
      const runners: Runner[] = MARKER_COST ? ["ours", "bare", "unmarked"] : ["ours", "bare"];
      // Rotate which goes first, so none always meets a warmer machine.
      const order = runners.map((_, i) => runners[(i + round) % runners.length]!);
      for (const which of order) {
        const messages = await prepare(handle.db, sink.port, mailboxes, connections);
        const before = await sink.accepted();
        const result =
          which === "bare"
            ? await bare(sink.port, messages, connections)
            : await ours(handle.db, mailboxes, connections, which === "ours");
        const accepted = (await sink.accepted()) - before;
        if (accepted !== MESSAGES) throw new Error(`${which}: the sink accepted ${accepted}`);
        entry[which].push(result);
        console.error(
          `round ${round + 1} ${key} ${which}: ${fmt(result.perSecond)} msg/s, ${fmt(result.cpuMicrosPerMessage)} µs CPU/msg`,
        );
      }
    }
  }
} finally {
  await handle.close();
  sink.child.disconnect();
}

console.log(
  `\n${MESSAGES} messages of ~2 KB per run, median of ${ROUNDS} interleaved rounds; Postgres; sink: smtp-server (STARTTLS + AUTH) in its own process, answering the final dot after ${SINK_DELAY_MS} ms; CPU: this process only.\n`,
);
console.log(
  "| mailboxes × connections | worker concurrency | imap-proxy msg/s | nodemailer pool msg/s | ratio | CPU µs/msg imap-proxy | CPU µs/msg nodemailer |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [mailboxes, connections] of CONFIGS) {
  const { ours: o, bare: b, unmarked: u } = results.get(`${mailboxes}×${connections}`)!;
  const oursRate = median(o.map((m) => m.perSecond));
  const bareRate = median(b.map((m) => m.perSecond));
  console.log(
    `| ${mailboxes} × ${connections} | ${concurrencyFor(mailboxes, connections)} | ${fmt(oursRate)} | ${fmt(bareRate)} | ${Math.round((oursRate / bareRate) * 100)} % | ${fmt(median(o.map((m) => m.cpuMicrosPerMessage)))} | ${fmt(median(b.map((m) => m.cpuMicrosPerMessage)))} |` +
      (MARKER_COST
        ? ` without the DATA marker: ${fmt(median(u.map((m) => m.perSecond)))} msg/s |`
        : ""),
  );
}
