import { sql } from "@imap-proxy/db";
import { z } from "zod";
import type { RouteModule } from "../app.ts";
import { ApiProblem } from "../problems.ts";
import { problemResponses } from "../schemas/problem.ts";

/** 200 while the database answers; 503 otherwise. */
export const healthz: RouteModule = (app, { db }) => {
  app.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness and database reachability",
        response: { 200: z.object({ status: z.literal("ok") }), ...problemResponses(503) },
      },
    },
    async () => {
      try {
        await db.execute(sql`SELECT 1`);
      } catch {
        throw new ApiProblem("database_unavailable", "The database does not answer.");
      }
      return { status: "ok" as const };
    },
  );
};
