import { recordClick } from "@imap-proxy/db";
import { QUICK_CLICK_MS } from "@imap-proxy/tracking";
import { z } from "zod";
import type { RouteModule } from "../../app.ts";
import { ApiProblem } from "../../problems.ts";
import { problemResponses } from "../../schemas/problem.ts";
import { hitOf } from "../../tracking-hits.ts";

/**
 * GET /t/c/{token}: records the click and redirects to the link stored for that message at the
 * token's position — never to anything taken from the request. A forged, altered or unknown
 * token is a 404 and writes nothing.
 */
export const trackClick: RouteModule = (app, { db, tracking }) => {
  app.get(
    "/t/c/:token",
    {
      schema: {
        summary: "Click-tracking redirect (public; the token is the credential)",
        params: z.object({ token: z.string().max(200) }),
        response: {
          302: {
            description: "Location: the link stored for this message, Cache-Control: no-store",
            content: { "text/plain": { schema: z.string() } },
          },
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      const target = tracking?.keys.verify(request.params.token);
      const url =
        target?.kind === "click"
          ? await recordClick(db, {
              ...hitOf(request, target.recipientId),
              link: target.link,
              quickClickMs: QUICK_CLICK_MS,
            })
          : undefined;
      if (url === undefined) throw new ApiProblem("not_found", "No such link.");
      return reply
        .header("cache-control", "no-store, private")
        .header("referrer-policy", "no-referrer")
        .redirect(url, 302);
    },
  );
};
