import { getMessageStatus } from "@imap-proxy/db";
import { retryFailed } from "@imap-proxy/db/queue";
import { z } from "zod";
import type { RouteModule } from "../../app.ts";
import { authOf } from "../../auth.ts";
import { ApiProblem } from "../../problems.ts";
import { MessageParams } from "../../schemas/messages.ts";
import { problemResponses } from "../../schemas/problem.ts";

const ACCEPTED = 202;

const RetryQuery = z.object({
  recipient: z
    .uuid()
    .optional()
    .describe("Only this recipient (its id from the message's status); default: every failed one"),
});

const RetryResponse = z
  .object({
    id: z.uuid(),
    queued: z.array(z.uuid()).describe("The recipients queued again"),
  })
  .meta({ id: "RetryResponse" });

/**
 * POST /v1/messages/{id}/retry: the message's failed recipients (or `?recipient=` one) are queued
 * again, on purpose — the API's `messages:retry`, and with it the only way an `outcome_unknown`
 * recipient is ever sent again.
 */
export const retryMessage: RouteModule = (app, { db, guard }) => {
  app.post(
    "/v1/messages/:id/retry",
    {
      onRequest: guard("messages:send"),
      schema: {
        summary: "Send a message's failed recipients again (also outcome_unknown ones)",
        description:
          "Only failed recipients are queued again; one whose outcome is unknown may then be delivered twice, which is why this never happens by itself.",
        security: [{ bearerAuth: [] }],
        params: MessageParams,
        querystring: RetryQuery,
        response: { [ACCEPTED]: RetryResponse, ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const { mailboxId } = authOf(request);
      const { id } = request.params;
      const { recipient } = request.query;
      const queued = await retryFailed(db, id, {
        mailboxId,
        ...(recipient === undefined ? {} : { recipientId: recipient }),
      });
      if (queued.length > 0) {
        return reply.code(ACCEPTED).header("location", `/v1/messages/${id}`).send({ id, queued });
      }
      // Nothing queued: say whether there is nothing of that name or nothing failed.
      const message = await getMessageStatus(db, mailboxId, id);
      if (message === undefined) throw new ApiProblem("not_found", "No such message.");
      const chosen =
        recipient === undefined
          ? message.recipients
          : message.recipients.filter((r) => r.id === recipient);
      if (chosen.length === 0)
        throw new ApiProblem("not_found", `Message ${id} has no recipient ${recipient}.`);
      const statuses = chosen.map((r) => `${r.id} is ${r.status}`).join(", ");
      throw new ApiProblem(
        "invalid_transition",
        `Nothing to retry: only failed recipients are sent again (${statuses}).`,
      );
    },
  );
};
