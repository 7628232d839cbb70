// Side-by-side queue benchmark on one Postgres, in one run: @imap-proxy/db's queue against
// graphile-worker and pg-boss, with no-op handlers. Prints tables; asserts nothing.
//   pnpm --filter @imap-proxy/queue-bench bench
// Env: BENCH_ONLY (enqueue | throughput | pgboss | latency), BENCH_DATABASE_URL (default
// DATABASE_URL, then the local server), BENCH_JOBS (claim + complete jobs per run, default
// 20000), BENCH_ROUNDS (interleaved throughput rounds, default 5), BENCH_FINISHED (finished rows
// for the latency test, default 1000000), BENCH_SAMPLES (claims timed per latency scenario,
// default 1000), BENCH_WORKERS (concurrencies, default 1,4,16).

import {
  type Database,
  type DatabaseHandle,
  migrate,
  openDatabase,
  rowsOf,
  sql,
} from "@imap-proxy/db";
import { claim, enqueue, markSentMany } from "@imap-proxy/db/queue";
import { runWorker } from "@imap-proxy/sender";
import { Logger, makeWorkerUtils, run as runGraphile } from "graphile-worker";
import PgBoss from "pg-boss";
import postgres from "postgres";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const FINISHED = Number(process.env.BENCH_FINISHED ?? 1_000_000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/**
 * The tuned run's lease: short enough that renewal (every leaseMs / 3) and recovery (every
 * leaseMs) run several times while 20,000 jobs drain, as they would in production.
 */
const RENEWING_LEASE_MS = 1500;
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? "1,4,16").split(",").map(Number);
const CLAIM_BATCH = 50;
/** Run one section only: enqueue, throughput or latency (default: all). */
const ONLY = process.env.BENCH_ONLY;
const runs = (section: string) => ONLY === undefined || ONLY === section;

const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

async function freshDatabase(name: string): Promise<string> {
  await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** WAL bytes and transactions consumed by `work` in database `url`. */
async function serverCost(
  url: string,
  work: () => Promise<void>,
): Promise<{ walBytes: number; xacts: number }> {
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  const read = async () => {
    const [row] = await probe<{ lsn: string; xacts: string }[]>`
      SELECT pg_current_wal_lsn()::text AS lsn,
             (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database())::text AS xacts`;
    return row!;
  };
  await probe`SELECT pg_stat_clear_snapshot()`;
  const before = await read();
  await work();
  await new Promise((r) => setTimeout(r, 600)); // stats are flushed at most every 500 ms
  await probe`SELECT pg_stat_clear_snapshot()`;
  const after = await read();
  const [wal] = await probe<
    { bytes: string }[]
  >`SELECT pg_wal_lsn_diff(${after.lsn}, ${before.lsn})::text AS bytes`;
  await probe.end();
  return { walBytes: Number(wal!.bytes), xacts: Number(after.xacts) - Number(before.xacts) };
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

// ---------------------------------------------------------------- @imap-proxy/db
async function oursSetup(url: string): Promise<{ handle: DatabaseHandle; mailboxId: string }> {
  const handle = await openDatabase({ kind: "postgres", url, maxConnections: 4 });
  await migrate(handle);
  const [row] = rowsOf<{ id: string }>(
    await handle.db.execute(sql`
      INSERT INTO mailboxes (email, imap_host, imap_username, imap_password_encrypted, smtp_host, smtp_username, smtp_password_encrypted)
      VALUES ('bench@example.com', 'imap.example.com', 'b', 'x'::bytea, 'smtp.example.com', 'b', 'x'::bytea) RETURNING id`),
  );
  return { handle, mailboxId: row!.id };
}

async function oursEnqueue(db: Database, mailboxId: string, n: number, batch: number) {
  const start = performance.now();
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    await enqueue(
      db,
      mailboxId,
      Array.from({ length: size }, (_, i) => ({
        recipientEmail: "r@example.net",
        subject: `m${done + i}`,
      })),
    );
  }
  return performance.now() - start;
}

/**
 * One process: one claimer feeding `workers` no-op handlers, finishes coalesced (runWorker).
 * Tuned: the prefetch depth set explicitly to graphile-worker's, and a short lease so renewal
 * and recovery run during the drain. Default: nothing but what a caller must say.
 */
async function oursDrain(url: string, workers: number, tuned: boolean): Promise<number> {
  const handle = await openDatabase({ kind: "postgres", url });
  const start = performance.now();
  const report = await runWorker({
    db: handle.db,
    owner: "bench",
    concurrency: workers,
    ...(tuned ? { batchSize: 10 * workers, leaseMs: RENEWING_LEASE_MS } : {}),
    stopWhenEmpty: true,
    handler: async () => "sent",
    onError: (error) => console.error(`ours: ${error.message}`),
  });
  const ms = performance.now() - start;
  await handle.close();
  if (report.processed !== JOBS) throw new Error(`ours processed ${report.processed} of ${JOBS}`);
  return ms;
}

async function oursFill(url: string): Promise<void> {
  const handle = await openDatabase({ kind: "postgres", url, maxConnections: 1 });
  const [row] = rowsOf<{ id: string }>(await handle.db.execute(sql`SELECT id FROM mailboxes`));
  await oursEnqueue(handle.db, row!.id, JOBS, 1000);
  await handle.db.execute(sql`VACUUM ANALYZE outbound_messages`);
  await handle.close();
}

async function oursClaimLatency(db: Database): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    const [message] = await claim(db, { limit: 1, owner: "latency" });
    times.push(performance.now() - start);
    if (!message) throw new Error("queue ran dry during the latency test");
    await markSentMany(db, [message.lease]);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

// ---------------------------------------------------------------- graphile-worker
/** graphile-worker at the same prefetch depth as ours: localQueue.size = 10 × concurrency. */
async function graphileDrain(url: string, workers: number): Promise<number> {
  let done = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const start = performance.now();
  const runner = await runGraphile({
    connectionString: url,
    concurrency: workers,
    pollInterval: 100,
    noHandleSignals: true,
    logger: silentGraphileLogger(),
    taskList: { noop: async () => {} },
    preset: {
      worker: { localQueue: { size: 10 * workers }, completeJobBatchDelay: 0 },
    },
  } as Parameters<typeof runGraphile>[0]);
  runner.events.on("job:success", () => {
    if (++done === JOBS) resolveDone();
  });
  await finished;
  const ms = performance.now() - start;
  await runner.stop();
  return ms;
}

async function graphileFill(url: string): Promise<void> {
  const utils = await makeWorkerUtils({ connectionString: url });
  await utils.migrate();
  for (let done = 0; done < JOBS; done += 1000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1000, JOBS - done) }, () => ({
        identifier: "noop",
        payload: {},
      })),
    );
  }
  await utils.release();
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  await probe`VACUUM ANALYZE graphile_worker._private_jobs`;
  await probe.end();
}

function silentGraphileLogger() {
  // A no-op log factory keeps the output readable.
  return new Logger(() => () => {});
}

// ---------------------------------------------------------------- pg-boss
async function bossDrain(
  boss: PgBoss,
  url: string,
  queue: string,
  workers: number,
): Promise<number> {
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  const start = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < workers; i++) {
    ids.push(
      await boss.work(
        queue,
        { batchSize: CLAIM_BATCH, pollingIntervalSeconds: 0.5 },
        async () => {},
      ),
    );
  }
  for (;;) {
    const [row] = await probe<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${queue} AND state <> 'completed'`;
    if (row!.n === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - start;
  await boss.offWork(queue);
  void ids;
  await probe.end();
  return ms;
}

// ---------------------------------------------------------------- one drain, one process
/*
 * Each drain runs in a process of its own (this file again, with `--drain`), so what one
 * contender leaves in a process (pools, timers, garbage) never weighs on the next: sharing one
 * process, ours drained 25–45 % slower after graphile's runs than without them.
 */
const DRAIN = "--drain";

function drainInOwnProcess(contender: string, url: string, workers: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), DRAIN, contender, url, String(workers)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve((JSON.parse(out) as { ms: number }).ms)
        : reject(new Error(`the ${contender} drain exited with ${code}`)),
    );
  });
}

async function drainHere([contender, url, workers]: string[]): Promise<void> {
  const ms =
    contender === "graphile"
      ? await graphileDrain(url!, Number(workers))
      : await oursDrain(url!, Number(workers), contender === "tuned");
  process.stdout.write(JSON.stringify({ ms }));
}

// ---------------------------------------------------------------- the run
async function main() {
  const enqueueRows: string[] = [];
  const throughputRows: string[] = [];
  const costRows: string[] = [];
  const latencyRows: string[] = [];
  const bossRows: string[] = [];

  // Enqueue throughput.
  if (runs("enqueue")) {
    const url = await freshDatabase("bench_ours_enqueue");
    const { handle, mailboxId } = await oursSetup(url);
    const single = rate(2000, await oursEnqueue(handle.db, mailboxId, 2000, 1));
    const batched = rate(50_000, await oursEnqueue(handle.db, mailboxId, 50_000, 1000));
    enqueueRows.push(`| @imap-proxy/db | ${single} | ${batched} |`);
    await handle.close();

    const gUrl = await freshDatabase("bench_graphile_enqueue");
    const utils = await makeWorkerUtils({ connectionString: gUrl });
    await utils.migrate();
    let start = performance.now();
    for (let i = 0; i < 2000; i++) await utils.addJob("noop", { i });
    const gSingle = rate(2000, performance.now() - start);
    start = performance.now();
    for (let done = 0; done < 50_000; done += 1000) {
      await utils.addJobs(
        Array.from({ length: 1000 }, (_, i) => ({ identifier: "noop", payload: { i: done + i } })),
      );
    }
    const gBatched = rate(50_000, performance.now() - start);
    enqueueRows.push(`| graphile-worker 0.17 | ${gSingle} | ${gBatched} |`);
    await utils.release();

    const bUrl = await freshDatabase("bench_pgboss_enqueue");
    const boss = new PgBoss({ connectionString: bUrl, max: 4, supervise: false, schedule: false });
    await boss.start();
    await boss.createQueue("noop");
    start = performance.now();
    for (let i = 0; i < 2000; i++) await boss.send("noop", { i });
    const bSingle = rate(2000, performance.now() - start);
    start = performance.now();
    for (let done = 0; done < 50_000; done += 1000) {
      await boss.insert(
        Array.from({ length: 1000 }, (_, i) => ({ name: "noop", data: { i: done + i } })),
      );
    }
    const bBatched = rate(50_000, performance.now() - start);
    enqueueRows.push(`| pg-boss 10 | ${bSingle} | ${bBatched} |`);
    await boss.stop({ graceful: false, wait: true });
  }

  // Claim + complete throughput, interleaved: each round drains 20,000 jobs with every
  // contender at every concurrency, in a rotating order, so whatever else loads the machine
  // falls on all of them alike; ratios are taken within a round.
  const contenders = ["graphile", "tuned", "default"] as const;
  type Contender = (typeof contenders)[number];
  const measured = new Map<string, { rate: number; walBytes: number; xacts: number }[]>();
  const key = (contender: Contender, workers: number) => `${contender}@${workers}`;
  if (runs("throughput")) {
    const oursUrl = await freshDatabase("bench_ours_drain");
    await (await oursSetup(oursUrl)).handle.close();
    const graphileUrl = await freshDatabase("bench_graphile_drain");
    for (let round = 0; round < ROUNDS; round++) {
      const line: string[] = [];
      for (const workers of WORKER_COUNTS) {
        const cells: string[] = [];
        for (let i = 0; i < contenders.length; i++) {
          const contender = contenders[(round + i) % contenders.length]!;
          const url = contender === "graphile" ? graphileUrl : oursUrl;
          await (contender === "graphile" ? graphileFill(url) : oursFill(url));
          let ms = 0;
          const cost = await serverCost(url, async () => {
            ms = await drainInOwnProcess(contender, url, workers);
          });
          const list = measured.get(key(contender, workers)) ?? [];
          list.push({ rate: rate(JOBS, ms), ...cost });
          measured.set(key(contender, workers), list);
          cells.push(`${contender} ${rate(JOBS, ms)}`);
        }
        line.push(`${workers}: ${cells.join(", ")}`);
      }
      console.error(`round ${round + 1}/${ROUNDS} (jobs/s) — ${line.join("; ")}`);
    }
    for (const workers of WORKER_COUNTS) {
      const of = (contender: Contender) => measured.get(key(contender, workers))!;
      const [graphile, tuned, ours] = [of("graphile"), of("tuned"), of("default")];
      const ratios = (a: typeof tuned, b: typeof tuned) =>
        median(a.map((x, round) => x.rate / b[round]!.rate));
      throughputRows.push(
        `| ${workers} | ${median(graphile.map((x) => x.rate))} | ${median(tuned.map((x) => x.rate))} | ${ratios(tuned, graphile).toFixed(2)}× | ${median(ours.map((x) => x.rate))} | ${ratios(ours, tuned).toFixed(2)}× |`,
      );
      const perJob = (runs: typeof tuned) =>
        `${(mean(runs.map((x) => x.walBytes)) / JOBS).toFixed(0)} B, ${(mean(runs.map((x) => x.xacts)) / JOBS).toFixed(3)} tx`;
      costRows.push(`| ${workers} | ${perJob(tuned)} | ${perJob(graphile)} |`);
    }
  }

  // pg-boss drains far slower; it runs once per concurrency, outside the interleaved rounds.
  for (const workers of runs("pgboss") ? WORKER_COUNTS : []) {
    const bUrl = await freshDatabase(`bench_pgboss_${workers}`);
    const boss = new PgBoss({
      connectionString: bUrl,
      max: workers + 2,
      supervise: false,
      schedule: false,
    });
    await boss.start();
    await boss.createQueue("noop");
    for (let done = 0; done < JOBS; done += 1000) {
      await boss.insert(
        Array.from({ length: Math.min(1000, JOBS - done) }, () => ({ name: "noop", data: {} })),
      );
    }
    let ms = 0;
    const bCost = await serverCost(bUrl, async () => {
      ms = await bossDrain(boss, bUrl, "noop", workers);
    });
    await boss.stop({ graceful: false, wait: true });
    bossRows.push(
      `| ${workers} | ${rate(JOBS, ms)} | ${(bCost.walBytes / JOBS).toFixed(0)} B, ${(bCost.xacts / JOBS).toFixed(3)} tx |`,
    );
  }

  // Claim latency: does a claim's cost grow with finished rows, or with dead tuples?
  if (runs("latency")) {
    const url = await freshDatabase("bench_ours_latency");
    const { handle, mailboxId } = await oursSetup(url);
    const db = handle.db;
    await oursEnqueue(db, mailboxId, 10_000 + SAMPLES, 1000);
    await db.execute(sql`VACUUM ANALYZE outbound_messages`);
    const empty = await oursClaimLatency(db);
    // Set-up only: finished history written directly, past the trigger that has every row
    // born queued (replica mode skips triggers for this transaction).
    await db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL session_replication_role = replica`);
      await tx.execute(sql`
        INSERT INTO outbound_messages (mailbox_id, recipient_email, subject, status, attempts, sent_at)
        SELECT ${mailboxId}, 'r@example.net', 'done', 'sent', 1, now() FROM generate_series(1, ${FINISHED})`);
    });
    await db.execute(sql`VACUUM ANALYZE outbound_messages`);
    const withFinished = await oursClaimLatency(db);
    // Dead tuples: complete 100k in bulk with autovacuum off, then claim at once.
    await db.execute(sql`ALTER TABLE outbound_messages SET (autovacuum_enabled = false)`);
    await oursEnqueue(db, mailboxId, 100_000, 1000);
    for (;;) {
      const batch = await claim(db, { limit: 1000, owner: "bulk" });
      if (batch.length === 0) break;
      await markSentMany(
        db,
        batch.map((m) => m.lease),
      );
    }
    await oursEnqueue(db, mailboxId, 10_000, 1000);
    const deadTuples = await oursClaimLatency(db);
    const fmt = (l: { p50: number; p99: number }) => `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)}`;
    latencyRows.push(
      `| @imap-proxy/db | ${fmt(empty)} | ${fmt(withFinished)} | ${fmt(deadTuples)} |`,
    );
    await handle.close();

    // pg-boss: fetch(1) is its claim.
    const bUrl = await freshDatabase("bench_pgboss_latency");
    const boss = new PgBoss({ connectionString: bUrl, max: 4, supervise: false, schedule: false });
    await boss.start();
    await boss.createQueue("noop");
    const bossLatency = async () => {
      const times: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const start = performance.now();
        const jobs = await boss.fetch("noop");
        times.push(performance.now() - start);
        if (jobs.length === 0) throw new Error("pg-boss ran dry");
        await boss.complete("noop", jobs[0]!.id);
      }
      times.sort((a, b) => a - b);
      return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
    };
    const fill = async (n: number) => {
      for (let done = 0; done < n; done += 5000) {
        await boss.insert(
          Array.from({ length: Math.min(5000, n - done) }, () => ({ name: "noop", data: {} })),
        );
      }
    };
    const bProbe = postgres(bUrl, { max: 1, onnotice: () => {} });
    await fill(10_000 + SAMPLES);
    const bEmpty = await bossLatency();
    await fill(FINISHED);
    await bProbe.unsafe(
      `UPDATE pgboss.job SET state = 'completed', completed_on = now() WHERE name = 'noop' AND state = 'created' AND id IN (SELECT id FROM pgboss.job WHERE name = 'noop' AND state = 'created' ORDER BY created_on DESC LIMIT ${FINISHED})`,
    );
    await bProbe.unsafe("VACUUM ANALYZE pgboss.job");
    const bFinished = await bossLatency();
    latencyRows.push(`| pg-boss 10 | ${fmt(bEmpty)} | ${fmt(bFinished)} | n/a |`);
    await bProbe.end();
    await boss.stop({ graceful: false, wait: true });
    latencyRows.push("| graphile-worker 0.17 | n/a | n/a | n/a |");
  }

  if (enqueueRows.length > 0) {
    console.log(`\nEnqueue throughput (messages/s)`);
    console.log("| queue | single (1 per call) | batched (1000 per call) |\n|---|---:|---:|");
    console.log(enqueueRows.join("\n"));
  }
  if (throughputRows.length > 0) {
    console.log(
      `\nClaim + complete throughput, ${JOBS} no-op jobs, median of ${ROUNDS} interleaved rounds (jobs/s)`,
    );
    console.log(
      "graphile-worker 0.17.3: localQueue.size = 10 × concurrency, completeJobBatchDelay 0; " +
        `ours tuned: batchSize = 10 × concurrency, leaseMs ${RENEWING_LEASE_MS} (renewal every ${RENEWING_LEASE_MS / 3} ms); ours default: runWorker's defaults.`,
    );
    console.log(
      "| concurrency | graphile-worker 0.17 | @imap-proxy/db tuned | tuned ÷ graphile | @imap-proxy/db default | default ÷ tuned |\n|---:|---:|---:|---:|---:|---:|",
    );
    console.log(throughputRows.join("\n"));
    console.log(
      `\nServer cost per message while draining (WAL bytes, transactions; mean of rounds)`,
    );
    console.log("| concurrency | @imap-proxy/db tuned | graphile-worker 0.17 |\n|---:|---:|---:|");
    console.log(costRows.join("\n"));
  }
  if (bossRows.length > 0) {
    console.log(
      `\npg-boss 10: work() × concurrency, batchSize ${CLAIM_BATCH}, ${JOBS} no-op jobs, one run`,
    );
    console.log("| concurrency | jobs/s | server cost per message |\n|---:|---:|---:|");
    console.log(bossRows.join("\n"));
  }
  if (latencyRows.length > 0) {
    console.log(`\nClaim latency p50 / p99 (ms), 10,000 queued, ${SAMPLES} single claims`);
    console.log(
      `| queue | no finished rows | beside ${FINISHED.toLocaleString("en")} finished | right after bulk completion (dead tuples, no vacuum) |\n|---|---:|---:|---:|`,
    );
    console.log(latencyRows.join("\n"));
    console.log(
      "\ngraphile-worker deletes completed jobs and exposes no single-claim API, so its claim latency is not measured here.",
    );
  }
}

if (process.argv[2] === DRAIN) {
  await drainHere(process.argv.slice(3));
  await admin.end();
  // Whatever a contender left running must not keep its process, or the run, alive.
  process.exit(0);
} else {
  await runAll();
}

async function runAll() {
  try {
    await main();
  } finally {
    for (const name of [
      "bench_ours_enqueue",
      "bench_graphile_enqueue",
      "bench_pgboss_enqueue",
      "bench_ours_latency",
      "bench_pgboss_latency",
      "bench_ours_drain",
      "bench_graphile_drain",
      ...WORKER_COUNTS.map((w) => `bench_pgboss_${w}`),
    ]) {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    }
    await admin.end();
  }
}
