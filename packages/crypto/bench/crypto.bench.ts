// Encrypt+decrypt throughput for a 32-byte secret, next to Python's cryptography.fernet
// measured in the same run. A benchmark, not a test: it prints figures and asserts nothing.
import { spawnSync } from "node:child_process";
import { FernetKey, Keyring } from "../src/index.ts";

const SECRET = "0123456789abcdef0123456789abcdef";
const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);

function measureNode(): number {
  const key = FernetKey.generate();
  const ring = Keyring.parse(key);
  for (let i = 0; i < 5000; i++) ring.decryptSecret(ring.encryptSecret(SECRET)); // warm-up
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 1000; i++) ring.decryptSecret(ring.encryptSecret(SECRET));
    ops += 1000;
  }
  return ops / ((performance.now() - start) / 1000);
}

function measurePython(): number | undefined {
  const script = `
import time
from cryptography.fernet import Fernet
f = Fernet(Fernet.generate_key())
s = b"${SECRET}"
for _ in range(5000): f.decrypt(f.encrypt(s))
ops = 0; start = time.perf_counter()
while time.perf_counter() - start < ${DURATION_MS / 1000}:
    for _ in range(1000): f.decrypt(f.encrypt(s))
    ops += 1000
print(ops / (time.perf_counter() - start))`;
  const result = spawnSync(process.env.PYTHON ?? "python3", ["-c", script], { encoding: "utf8" });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

const nodeOps = measureNode();
const pythonOps = measurePython();
const row = (name: string, ops: number | undefined) =>
  `| ${name.padEnd(34)} | ${ops === undefined ? "n/a".padStart(12) : Math.round(ops).toLocaleString("en").padStart(12)} |`;
console.log("| Fernet encrypt+decrypt, 32-byte secret | ops/s        |");
console.log("|------------------------------------|--------------|");
console.log(row("@imap-proxy/crypto (node:crypto)", nodeOps));
console.log(row("Python cryptography.fernet", pythonOps));
if (pythonOps !== undefined)
  console.log(`ratio: ${(nodeOps / pythonOps).toFixed(2)}x Python (goal ≥ 1.5x)`);
