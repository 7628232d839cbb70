import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * vitest globalSetup: one temp directory per test run, handed to every test worker (and every
 * process they start) as TMPDIR, removed when the run ends. The harnesses' certificates, Exim
 * spools, Dovecot mail stores and embedded databases would otherwise pile up run after run:
 * workers are stopped without running exit handlers, and a daemon's files outlive its process.
 */
export default function setup() {
  const before = process.env.TMPDIR;
  const root = mkdtempSync(path.join(tmpdir(), "imap-proxy-tests-"));
  // Exim and Dovecot drop privileges for deliveries: they must be able to walk through it.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    // Best effort: an Exim delivery process outliving its daemon may still be writing its log
    // (and can even re-create the path); a leftover directory must not fail the run.
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // left for the system's temp cleaning
    }
  };
}
