/**
 * What `--debug` prints for a failure: each error of its cause chain with its stack frames.
 * An error that carries a statement's parameters (drizzle's `Failed query … params:` wrapper,
 * a driver error with `params`/`parameters`) is shown by name and frames only: its text may
 * hold ciphertexts or message content. The database package's typed errors already replace
 * such causes with a parameter-free one (DriverFailure), which is printed in full.
 */
export function debugReport(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (!(current instanceof Error)) {
      lines.push(`${depth === 0 ? "" : "caused by: "}(a thrown ${typeof current}, not shown)`);
      break;
    }
    const frames = (current.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
    const head = carriesParameters(current)
      ? `${current.name} (a database error whose text may hold query parameters; not shown)`
      : `${current.name}: ${current.message}`;
    lines.push(`${depth === 0 ? "" : "caused by: "}${head}`, ...frames);
    current = current.cause;
  }
  return lines.join("\n");
}

function carriesParameters(error: Error): boolean {
  return (
    "params" in error ||
    "parameters" in error ||
    /^Failed query:/.test(error.message) ||
    /\bparams:/.test(error.message)
  );
}
