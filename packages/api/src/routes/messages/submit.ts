import { submitMessage as storeSubmission } from "@imap-proxy/db";
import type { FastifyReply } from "fastify";
import type { RouteModule } from "../../app.ts";
import { authOf } from "../../auth.ts";
import { composeMessage, messageIdHeaderFor, requestSha256 } from "../../compose.ts";
import { uuidv7 } from "../../ids.ts";
import { ApiProblem } from "../../problems.ts";
import { SubmitHeaders, SubmitMessageBody, SubmitResponse } from "../../schemas/messages.ts";
import { problemResponses } from "../../schemas/problem.ts";
import { composeTracked } from "../../tracked.ts";

const ACCEPTED = 202;

function sendStored(reply: FastifyReply, status: number, body: string, id: string) {
  // Pre-serialised so an idempotent replay is the same bytes.
  return reply
    .code(status)
    .header("location", `/v1/messages/${id}`)
    .type("application/json; charset=utf-8")
    .serializer((payload) => payload as string)
    .send(body);
}

/**
 * POST /v1/messages: compose once, store the bytes, queue one row per envelope recipient —
 * one database statement (a second only to replay a concurrent duplicate's response).
 */
export const submitMessage: RouteModule = (app, { db, config, directory, guard, tracking }) => {
  app.post(
    "/v1/messages",
    {
      onRequest: guard("messages:send"),
      schema: {
        summary: "Queue a message",
        security: [{ bearerAuth: [] }],
        headers: SubmitHeaders,
        body: SubmitMessageBody,
        response: {
          [ACCEPTED]: SubmitResponse,
          ...problemResponses(400, 401, 403, 409, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      const body = request.body;
      const key = request.headers["idempotency-key"];
      const sha256 = requestSha256(body);
      const defaults = await directory.trackingDefaultsOf(auth.mailboxId);
      const wanted = {
        opens: body.tracking?.opens ?? defaults.opens,
        clicks: body.tracking?.clicks ?? defaults.clicks,
      };
      if ((wanted.opens || wanted.clicks) && tracking === undefined) {
        throw new ApiProblem(
          "tracking_unavailable",
          body.tracking?.opens || body.tracking?.clicks
            ? "Tracking needs the server's public address: set PUBLIC_URL and TRACKING_SECRET, or leave tracking out."
            : "This mailbox tracks by default, but the server has no PUBLIC_URL: set it, or send with tracking off.",
        );
      }
      let email = auth.mailboxEmail;
      // A second pass only when the mailbox's address changed since it was cached.
      for (let pass = 0; pass < 2; pass++) {
        const id = uuidv7();
        const messageIdHeader = messageIdHeaderFor(id, email);
        const sender = { email, messageIdHeader, date: new Date() };
        const composed = await composeMessage(body, sender);
        if (composed.raw.length > config.maxMessageBytes) {
          throw new ApiProblem(
            "message_too_large",
            `The composed message is ${composed.raw.length} bytes; the limit is ${config.maxMessageBytes}.`,
          );
        }
        const recipients = composed.envelopeRecipients.map((address) => ({
          id: uuidv7(),
          email: address,
        }));
        const tracked =
          tracking !== undefined && (wanted.opens || wanted.clicks)
            ? await composeTracked(body, sender, composed, recipients, wanted, {
                tracking,
                maxMessageBytes: config.maxMessageBytes,
              })
            : undefined;
        const response: SubmitResponse = {
          id,
          messageId: messageIdHeader,
          status: "queued",
          recipients: recipients.map((r) => ({ ...r, status: "queued" as const })),
        };
        const responseBody = JSON.stringify(response);
        const result = await storeSubmission(db, {
          id,
          mailboxId: auth.mailboxId,
          envelopeFrom: email,
          messageIdHeader,
          subject: body.subject,
          raw: composed.raw,
          requestSha256: sha256,
          recipients,
          ...(tracked === undefined ? {} : { tracking: tracked }),
          ...(key === undefined
            ? {}
            : { idempotency: { key, responseStatus: ACCEPTED, responseBody } }),
        });
        switch (result.outcome) {
          case "created":
            return sendStored(reply, ACCEPTED, responseBody, id);
          case "key_exists": {
            const { stored } = result;
            if (!stored.requestSha256.equals(sha256)) {
              throw new ApiProblem(
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request; use a new key.",
              );
            }
            reply.header("idempotent-replayed", "true");
            const storedId = (JSON.parse(stored.responseBody) as { id: string }).id;
            return sendStored(reply, stored.responseStatus, stored.responseBody, storedId);
          }
          case "mailbox_changed": {
            directory.forget(auth.mailboxId);
            const current = await directory.emailOf(auth.mailboxId);
            if (current === undefined) {
              throw new ApiProblem("invalid_token", "The token's mailbox no longer exists.", {
                headers: { "www-authenticate": 'Bearer realm="imap-proxy", error="invalid_token"' },
              });
            }
            email = current;
          }
        }
      }
      throw new Error("The mailbox's address kept changing during submission.");
    },
  );
};
