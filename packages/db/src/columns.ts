import { customType, timestamp } from "drizzle-orm/pg-core";

/**
 * A Fernet token stored as `bytea` holding the token's ASCII bytes, exactly as the earlier
 * Python system stored `Fernet.encrypt(...)` output. TypeScript sees the token string.
 * drizzle-orm 0.45 has no `bytea()`; drivers differ (postgres.js: Buffer, PGlite: Uint8Array).
 */
export const fernetTokenBytes = customType<{ data: string; driverData: Uint8Array }>({
  dataType() {
    return "bytea";
  },
  toDriver(token) {
    return Buffer.from(token, "ascii");
  },
  fromDriver(bytes) {
    return Buffer.from(bytes).toString("ascii");
  },
});

/** Raw bytes (`bytea`) as a Buffer on both drivers (PGlite returns a bare Uint8Array). */
export const bytes = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType() {
    return "bytea";
  },
  toDriver(value) {
    return value;
  },
  fromDriver(value) {
    return Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  },
});

/** timestamptz read as a JS Date. */
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * `created_at` / `updated_at`. A database trigger (migration 0001) keeps `updated_at` true for
 * every writer, raw SQL included; `$onUpdate` would only cover writes made through drizzle.
 */
export const auditTimestamps = {
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
};
