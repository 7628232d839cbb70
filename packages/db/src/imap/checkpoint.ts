import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { withDatabaseErrors } from "../errors.ts";

export interface FolderCheckpoint {
  uidValidity: number;
  lastUid: number;
}

export const readCheckpoint = withDatabaseErrors(async function readCheckpoint(
  db: Database,
  mailboxId: string,
  folder: string,
): Promise<FolderCheckpoint | undefined> {
  const result = await db.execute(sql`
    SELECT uid_validity::float8 AS "uidValidity", last_uid::float8 AS "lastUid"
      FROM imap_checkpoints WHERE mailbox_id = ${mailboxId} AND folder = ${folder}`);
  return rowsOf<FolderCheckpoint>(result)[0];
});

/** Moves the checkpoint forward (never back within one UIDVALIDITY). */
export const saveCheckpoint = withDatabaseErrors(async function saveCheckpoint(
  db: Database,
  mailboxId: string,
  folder: string,
  checkpoint: FolderCheckpoint,
): Promise<void> {
  await db.execute(sql`
    INSERT INTO imap_checkpoints (mailbox_id, folder, uid_validity, last_uid)
    VALUES (${mailboxId}, ${folder}, ${checkpoint.uidValidity}, ${checkpoint.lastUid})
    ON CONFLICT (mailbox_id, folder) DO UPDATE
       SET uid_validity = excluded.uid_validity,
           last_uid = CASE WHEN imap_checkpoints.uid_validity = excluded.uid_validity
                           THEN greatest(imap_checkpoints.last_uid, excluded.last_uid)
                           ELSE excluded.last_uid END`);
});
