export * from "./schema.ts";
export * from "./client.ts";
export * from "./errors.ts";
export * from "./migrate.ts";
export { rowsOf } from "./rows.ts";
// One drizzle-orm instance for the whole workspace: other packages take SQL helpers from here.
export { eq, inArray, sql } from "drizzle-orm";
export * from "./mailboxes.ts";
export * from "./tracking.ts";
export {
  shareEmbeddedDatabase,
  type ShareOptions,
  type SharedDatabase,
} from "./embedded-server.ts";
export { embeddedChannelPath } from "./embedded-channel.ts";
export * from "./messages.ts";
