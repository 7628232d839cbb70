// Sums vitest's JSON reports (one per package and database) into "N passed, N failed", and names
// each failed test with its first error line, so CI's tail alone says what failed and why.
// Exits non-zero when a test failed or when no report exists.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let files = 0;
const failures = [];
for (const name of readdirSync(dir)
  .filter((file) => file.endsWith(".json"))
  .sort()) {
  const report = JSON.parse(readFileSync(path.join(dir, name), "utf8"));
  files += 1;
  passed += report.numPassedTests;
  failed +=
    report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
  console.log(`${name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
  for (const file of report.testResults ?? []) {
    const where = `${name.replace(/\.json$/, "")} ${path.basename(file.name)}`;
    const tests = (file.assertionResults ?? []).filter((test) => test.status === "failed");
    for (const test of tests)
      failures.push(`${where} › ${test.fullName}: ${firstLine(test.failureMessages)}`);
    if (file.status === "failed" && tests.length === 0)
      failures.push(`${where}: ${firstLine([file.message])}`);
  }
}
for (const failure of failures) console.log(`FAILED ${failure}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(files > 0 && failed === 0 && passed > 0 ? 0 : 1);

function firstLine(messages) {
  // ANSI colours and the stack are noise here; the full report is in the log above.
  const text = (messages ?? []).find(Boolean) ?? "";
  return (
    text
      .replace(/\u001b\[[0-9;]*m/g, "")
      .split("\n")
      .find((line) => line.trim()) ?? "(no message)"
  );
}
