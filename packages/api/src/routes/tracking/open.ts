import { TRACKING_PIXEL_GIF } from "@imap-proxy/tracking";
import { z } from "zod";
import type { RouteModule } from "../../app.ts";
import { OpenRecorder, hitOf } from "../../tracking-hits.ts";

/**
 * GET /t/o/{token}: the open pixel. The same 1×1 GIF for every token, valid or not, answered
 * before anything is written (opens are recorded in batches after the response), so the
 * answer tells nothing and does not wait for the database.
 */
export const trackOpen: RouteModule = (app, { db, tracking }) => {
  const recorder = new OpenRecorder(db, app.log);
  app.addHook("onClose", () => recorder.flush());
  app.get(
    "/t/o/:token",
    {
      schema: {
        summary: "Open-tracking pixel (public; the token is the credential)",
        // No length rule: whatever the token, the answer is the same GIF.
        params: z.object({ token: z.string() }),
        response: {
          200: {
            description: "A transparent 1×1 GIF, Cache-Control: no-store",
            content: { "image/gif": { schema: z.string().describe("binary") } },
          },
        },
      },
    },
    async (request, reply) => {
      const target = tracking?.keys.verify(request.params.token);
      if (target?.kind === "open") recorder.add(hitOf(request, target.recipientId));
      return (
        reply
          .header("cache-control", "no-store, private")
          .header("referrer-policy", "no-referrer")
          .type("image/gif")
          .serializer((payload: unknown) => payload as string)
          // The documented schema says "a string" for OpenAPI; the bytes go out as they are.
          .send(TRACKING_PIXEL_GIF as unknown as string)
      );
    },
  );
};
