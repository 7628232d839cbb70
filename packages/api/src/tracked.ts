import { planTracking } from "@imap-proxy/tracking";
import type { SubmissionTracking } from "@imap-proxy/db";
import { type ComposedMessage, composeMessage } from "./compose.ts";
import type { TrackingConfig } from "./config.ts";
import { ApiProblem } from "./problems.ts";
import type { SubmitMessageBody } from "./schemas/messages.ts";

/**
 * A tracked submission stores one copy per recipient besides the original, all together at most
 * this many times MAX_MESSAGE_BYTES (100 MiB by default).
 */
export const TRACKED_TOTAL_FACTOR = 4;

/** The `<https://…>` targets of a List-Unsubscribe header: never rewritten. */
function listUnsubscribeUrls(headers: SubmitMessageBody["headers"]): string[] {
  const value = Object.entries(headers ?? {}).find(
    ([name]) => name.toLowerCase() === "list-unsubscribe",
  )?.[1];
  return [...(value ?? "").matchAll(/<([^<>]*)>/g)].map((match) => match[1]!);
}

/**
 * Each recipient's own tracked bytes, composed once at submit (the tokens name the recipient
 * row), so every attempt sends exactly the stored bytes. The HTML is parsed once; only the
 * tracked `href` values and the pixel differ between recipients. The original, untracked, stays
 * the message's body: the Sent copy and anything without HTML use it.
 */
export async function composeTracked(
  body: SubmitMessageBody,
  sender: { email: string; messageIdHeader: string; date: Date },
  original: ComposedMessage,
  recipients: readonly { id: string }[],
  wanted: { opens: boolean; clicks: boolean },
  config: { tracking: TrackingConfig; maxMessageBytes: number },
): Promise<SubmissionTracking> {
  const none: SubmissionTracking = { ...wanted, links: [], bodies: [] };
  if (body.html === undefined) return none;
  const plan = await planTracking(body.html, {
    ...wanted,
    untrackedUrls: listUnsubscribeUrls(body.headers),
  });
  if (plan.empty) return none;
  const limit = config.maxMessageBytes * TRACKED_TOTAL_FACTOR;
  const tooLarge = () =>
    new ApiProblem(
      "message_too_large",
      `A tracked message is stored once per recipient; ${recipients.length} copies of ${original.raw.length} bytes exceed ${limit} bytes. Send to fewer recipients per request, or without tracking.`,
    );
  let total = original.raw.length;
  if (total * (recipients.length + 1) > limit) throw tooLarge();
  const { publicUrl, keys } = config.tracking;
  const bodies: SubmissionTracking["bodies"][number][] = [];
  for (const recipient of recipients) {
    const html = plan.render({
      open: `${publicUrl}/t/o/${keys.sign({ kind: "open", recipientId: recipient.id })}`,
      click: (link) =>
        `${publicUrl}/t/c/${keys.sign({ kind: "click", recipientId: recipient.id, link })}`,
    });
    const { raw } = await composeMessage({ ...body, html }, sender);
    total += raw.length;
    if (raw.length > config.maxMessageBytes || total > limit) throw tooLarge();
    bodies.push({ recipientId: recipient.id, raw });
  }
  return { ...wanted, links: plan.links, bodies };
}
