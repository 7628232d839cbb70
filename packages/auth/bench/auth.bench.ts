// Sign and verify throughput for each supported algorithm. Prints figures; asserts nothing.
import { randomUUID } from "node:crypto";
import { generateKeyPair } from "jose";
import { type SigningAlgorithm, hmacKeyFromSecret, issueToken, verifyToken } from "../src/index.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 1500);
const mailboxId = randomUUID();

async function opsPerSecond(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await run();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 100; i++) await run();
    ops += 100;
  }
  return ops / ((performance.now() - start) / 1000);
}

console.log("| algorithm | sign ops/s | verify ops/s |");
console.log("|-----------|-----------:|-------------:|");
for (const algorithm of ["HS256", "EdDSA", "ES256"] as SigningAlgorithm[]) {
  const pair = algorithm === "HS256" ? undefined : await generateKeyPair(algorithm);
  const common = { issuer: "imap-proxy", audience: "imap-proxy" };
  const secretKey = await hmacKeyFromSecret("x".repeat(48));
  const signer = { algorithm, key: pair?.privateKey ?? secretKey, keyId: "k1", ...common };
  const verifier = { algorithm, key: pair?.publicKey ?? secretKey, ...common };
  const request = { mailboxId, permissions: ["messages:send", "messages:read"] };
  const { token } = await issueToken(signer, request);
  const sign = await opsPerSecond(() => issueToken(signer, request));
  const verify = await opsPerSecond(() => verifyToken(verifier, token));
  const fmt = (n: number) => Math.round(n).toLocaleString("en");
  console.log(
    `| ${algorithm.padEnd(9)} | ${fmt(sign).padStart(10)} | ${fmt(verify).padStart(12)} |`,
  );
}
