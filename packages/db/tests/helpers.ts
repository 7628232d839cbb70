import { sql } from "drizzle-orm";
import { type Database, rowsOf } from "../src/index.ts";

export interface CatalogColumn {
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: "YES" | "NO";
  column_default: string | null;
}

/** Column facts as the live database reports them (information_schema), not as TS declares. */
export async function catalogColumns(
  db: Database,
  table: string,
): Promise<Map<string, CatalogColumn>> {
  const rows = rowsOf<CatalogColumn>(
    await db.execute(sql`
      SELECT column_name, data_type, udt_name, is_nullable, column_default
      FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ${table}
      ORDER BY ordinal_position`),
  );
  return new Map(rows.map((row) => [row.column_name, row]));
}

/** Runs raw SQL expecting the database to refuse it; resolves to the SQLSTATE. */
export async function expectRejected(db: Database, query: ReturnType<typeof sql>): Promise<string> {
  return (await rejectionOf(db, query)).code;
}

/** Runs raw SQL expecting the database to refuse it; resolves to the SQLSTATE and message. */
export async function rejectionOf(
  db: Database,
  query: ReturnType<typeof sql>,
): Promise<{ code: string; message: string }> {
  try {
    await db.execute(query);
  } catch (error) {
    let current: unknown = error;
    while (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      if (typeof code === "string") return { code, message: current.message };
      current = current.cause;
    }
    throw error;
  }
  throw new Error("the database accepted a statement it should have rejected");
}

/** A valid mailbox row in raw SQL; `overrides` replace columns (null removes one). */
export function mailboxInsert(overrides: Record<string, unknown> = {}) {
  const values: Record<string, unknown> = {
    email: `user-${Math.random().toString(36).slice(2)}@example.com`,
    imap_host: "imap.example.com",
    imap_username: "user",
    imap_password_encrypted: Buffer.from("gAAAA-imap", "ascii"),
    smtp_host: "smtp.example.com",
    smtp_username: "user",
    smtp_password_encrypted: Buffer.from("gAAAA-smtp", "ascii"),
    ...overrides,
  };
  const entries = Object.entries(values).filter(([, value]) => value !== null);
  const columns = sql.join(
    entries.map(([name]) => sql.identifier(name)),
    sql`, `,
  );
  const params = sql.join(
    entries.map(([, value]) => sql`${value}`),
    sql`, `,
  );
  return sql`INSERT INTO mailboxes (${columns}) VALUES (${params}) RETURNING *`;
}
