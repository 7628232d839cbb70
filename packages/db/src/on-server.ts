import type { Database } from "./client.ts";

/** Databases on a Postgres server, which keeps what it committed when a client process dies. */
const onServer = new WeakSet<Database>();

export const markOnServer = (db: Database): void => void onServer.add(db);
export const isOnServer = (db: Database): boolean => onServer.has(db);
