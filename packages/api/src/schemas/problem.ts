import { z } from "zod";
import { PROBLEMS, type ProblemCode } from "../problems.ts";

/** RFC 9457 problem details, as every error response carries them. */
export const Problem = z
  .object({
    type: z.string().describe("urn:imap-proxy:problem:<code>"),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe("validation_failed: every bad field"),
  })
  .meta({ id: "Problem" });

/** The error responses of a route, documented as problem+json. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: "Problem", content: { "application/problem+json": { schema: Problem } } },
    ]),
  );
}
