import path from "node:path";

/**
 * The unix socket through which a running server shares its embedded database. Named as
 * Postgres names its sockets, so any Postgres client reaches it with host = the data directory
 * (`psql -h .data`).
 */
export function embeddedChannelPath(dataDir: string): string {
  return path.join(dataDir, ".s.PGSQL.5432");
}

/**
 * A unix socket path as short as the kernel needs (sun_path holds 107 bytes): the absolute one,
 * else the one relative to the working directory.
 */
export function connectablePath(socketPath: string): string | undefined {
  const fits = (candidate: string) => Buffer.byteLength(candidate) <= 103;
  if (fits(socketPath)) return socketPath;
  const relative = path.relative(process.cwd(), socketPath);
  return fits(relative) ? relative : undefined;
}
