import { getMessageStatus } from "@imap-proxy/db";
import type { RouteModule } from "../../app.ts";
import { authOf } from "../../auth.ts";
import { ApiProblem } from "../../problems.ts";
import { MessageParams, MessageStatus } from "../../schemas/messages.ts";
import { problemResponses } from "../../schemas/problem.ts";
import { toApiStatus } from "./status.ts";

/** GET /v1/messages/{id}: per-recipient status; another mailbox's message is not found. */
export const getMessage: RouteModule = (app, { db, guard }) => {
  app.get(
    "/v1/messages/:id",
    {
      onRequest: guard("messages:send", "messages:read"),
      schema: {
        summary: "A message's status, per recipient",
        security: [{ bearerAuth: [] }],
        params: MessageParams,
        response: { 200: MessageStatus, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const message = await getMessageStatus(db, authOf(request).mailboxId, request.params.id);
      if (message === undefined) throw new ApiProblem("not_found", "No such message.");
      return toApiStatus(message);
    },
  );
};
