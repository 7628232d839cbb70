// Sums vitest's JSON reports (one per package and database) into "N passed, N failed".
// Exits non-zero when a test failed or when no report exists.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let files = 0;
for (const name of readdirSync(dir)
  .filter((file) => file.endsWith(".json"))
  .sort()) {
  const report = JSON.parse(readFileSync(path.join(dir, name), "utf8"));
  files += 1;
  passed += report.numPassedTests;
  failed +=
    report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
  console.log(`${name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(files > 0 && failed === 0 && passed > 0 ? 0 : 1);
