// A process of the key-file tests: loads the embedded key file and prints what it encrypted
// with it (or its error). With SLOW_WRITE_MS set, every file write first stalls that long, as a
// process descheduled (or killed) between creating the key file and writing it would.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { loadKeyring } from "../../src/index.ts";

const releaseFile = process.env.STALL_WRITES_UNTIL;
if (releaseFile) {
  const { writeSync, writeFileSync } = fs;
  fs.writeSync = ((...args: Parameters<typeof writeSync>) => {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!fs.existsSync(releaseFile)) Atomics.wait(pause, 0, 0, 10);
    return writeSync(...args);
  }) as typeof writeSync;
  // Strings take a native open-and-write path; a Buffer goes through openSync and writeSync.
  fs.writeFileSync = (file, data, options) =>
    writeFileSync(file, typeof data === "string" ? Buffer.from(data) : data, options);
  syncBuiltinESMExports();
}

try {
  const keyring = await loadKeyring({
    fernetKey: undefined,
    generatedKeyFile: process.argv[2]!,
    storedSecretsExist: () => Promise.resolve(false),
  });
  process.stdout.write(`ok ${keyring.encryptSecret("probe")}\n`);
} catch (error) {
  process.stdout.write(`error ${(error as Error).message}\n`);
}
