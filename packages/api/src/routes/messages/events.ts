import { listTrackingEvents } from "@imap-proxy/db";
import type { RouteModule } from "../../app.ts";
import { authOf } from "../../auth.ts";
import { ApiProblem } from "../../problems.ts";
import { EventList, ListEventsQuery, MessageParams } from "../../schemas/messages.ts";
import { problemResponses } from "../../schemas/problem.ts";

/** The cursor is opaque to clients: base64url of the last event's id. */
const encodeCursor = (id: number) => Buffer.from(`e${id}`).toString("base64url");

function decodeCursor(text: string): number {
  const match = /^e([1-9][0-9]{0,17})$/.exec(Buffer.from(text, "base64url").toString("utf8"));
  if (match === null || !Number.isSafeInteger(Number(match[1]))) {
    throw new ApiProblem("validation_failed", "The cursor is not one this API returned.", {
      errors: [{ path: "query.cursor", message: "not a cursor from a previous page" }],
    });
  }
  return Number(match[1]);
}

/** GET /v1/messages/{id}/events: open and click events, oldest first, keyset pagination. */
export const listMessageEvents: RouteModule = (app, { db, guard }) => {
  app.get(
    "/v1/messages/:id/events",
    {
      onRequest: guard("messages:send", "messages:read"),
      schema: {
        summary: "A message's open and click events, oldest first",
        security: [{ bearerAuth: [] }],
        params: MessageParams,
        querystring: ListEventsQuery,
        response: { 200: EventList, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await listTrackingEvents(db, authOf(request).mailboxId, request.params.id, {
        limit,
        ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }),
      });
      if (page === undefined) throw new ApiProblem("not_found", "No such message.");
      const last = page.at(-1);
      return {
        data: page.map((event) => ({
          recipientId: event.recipientId,
          email: event.recipientEmail,
          kind: event.kind,
          url: event.url,
          occurredAt: event.occurredAt.toISOString(),
          userAgent: event.userAgent,
          ipPrefix: event.ipPrefix,
          label: event.label,
        })),
        nextCursor: page.length === limit && last !== undefined ? encodeCursor(last.id) : null,
      };
    },
  );
};
