// Median wall time of `mailboxes:list --json` over repeated cold process starts, on Postgres
// (DATABASE_URL, default the local server) and on the embedded database, next to `node -e 0`.
// A benchmark: prints figures, asserts nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.env.BENCH_RUNS ?? 15);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/imap-proxy.js");
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function median(args, env) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, {
      env: { PATH: process.env.PATH, ...env },
      encoding: "utf8",
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
    if (i > 0) times.push(ms); // the first run warms the OS file cache
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const dataDir = mkdtempSync(path.join(tmpdir(), "imap-proxy-bench-"));
try {
  // Prepare both databases once (migrations, key file) so every timed run is a plain read.
  spawnSync(process.execPath, [cli, "db:migrate"], {
    env: { PATH: process.env.PATH, DATABASE_URL: postgresUrl },
  });
  spawnSync(process.execPath, [cli, "mailboxes:list"], {
    env: { PATH: process.env.PATH, IMAP_PROXY_DATA_DIR: dataDir },
  });

  const bare = median(["-e", "0"], {});
  const pg = median([cli, "mailboxes:list", "--json"], { DATABASE_URL: postgresUrl });
  const embedded = median([cli, "mailboxes:list", "--json"], { IMAP_PROXY_DATA_DIR: dataDir });
  const row = (name, ms) =>
    `| ${name.padEnd(40)} | ${ms.toFixed(0).padStart(6)} ms | ${(ms - bare).toFixed(0).padStart(6)} ms |`;
  console.log(`median of ${runs} cold starts`);
  console.log("| command                                  | wall      | over node |");
  console.log("|------------------------------------------|-----------|-----------|");
  console.log(row("node -e 0", bare));
  console.log(row("mailboxes:list --json (Postgres)", pg));
  console.log(row("mailboxes:list --json (embedded PGlite)", embedded));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
