import { isUuid } from "@imap-proxy/errors";
import { type MessageCursor, listMessageStatuses } from "@imap-proxy/db";
import type { RouteModule } from "../../app.ts";
import { authOf } from "../../auth.ts";
import { ApiProblem } from "../../problems.ts";
import { ListMessagesQuery, MessageList } from "../../schemas/messages.ts";
import { problemResponses } from "../../schemas/problem.ts";
import { toApiStatus } from "./status.ts";

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/** The cursor is opaque to clients: base64url of the last message's exact time and id. */
export const encodeCursor = (cursor: MessageCursor) =>
  Buffer.from(`${cursor.createdAt}|${cursor.id}`).toString("base64url");

function decodeCursor(text: string): MessageCursor {
  const [createdAt = "", id = ""] = Buffer.from(text, "base64url").toString("utf8").split("|");
  if (!TIMESTAMP.test(createdAt) || !isUuid(id)) {
    throw new ApiProblem("validation_failed", "The cursor is not one this API returned.", {
      errors: [{ path: "query.cursor", message: "not a cursor from a previous page" }],
    });
  }
  return { createdAt, id };
}

/** GET /v1/messages: newest first, keyset pagination. */
export const listMessages: RouteModule = (app, { db, guard }) => {
  app.get(
    "/v1/messages",
    {
      onRequest: guard("messages:send", "messages:read"),
      schema: {
        summary: "The mailbox's messages, newest first",
        security: [{ bearerAuth: [] }],
        querystring: ListMessagesQuery,
        response: { 200: MessageList, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { limit, status, cursor } = request.query;
      const page = await listMessageStatuses(db, authOf(request).mailboxId, {
        limit,
        ...(status === undefined ? {} : { status }),
        ...(cursor === undefined ? {} : { cursor: decodeCursor(cursor) }),
      });
      const last = page.at(-1);
      return {
        data: page.map(toApiStatus),
        nextCursor: page.length === limit && last !== undefined ? encodeCursor(last.cursor) : null,
      };
    },
  );
};
