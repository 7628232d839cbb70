import { defineConfig } from "drizzle-kit";

// `drizzle-kit migrate` in a deploy pipeline targets DATABASE_URL. `generate` and `check`
// need no database, so the URL may be absent for them.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
  dbCredentials: { url: process.env.DATABASE_URL ?? "" },
  strict: true,
  verbose: false,
});
