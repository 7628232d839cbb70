import { rowsOf, sql } from "@imap-proxy/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliWorld, openCliWorld, runBuiltCli } from "./support.ts";

// What an operator sees and does about a paused mailbox and an outcome_unknown message.
let world: CliWorld;
let mailboxId: string;

beforeAll(async () => {
  world = await openCliWorld();
  const created = await runBuiltCli(
    [
      "mailboxes:create",
      "--no-input",
      "--json",
      "--email",
      "ops@example.com",
      "--imap-host",
      "imap.example.com",
      "--imap-username",
      "ops",
      "--smtp-host",
      "smtp.example.com",
      "--smtp-username",
      "ops",
    ],
    { ...world.env, IMAP_PASSWORD: "imap-pass", SMTP_PASSWORD: "smtp-pass" },
  );
  expect(created.code, created.stderr).toBe(0);
  mailboxId = (JSON.parse(created.stdout) as { id: string }).id;
}, 120_000);
afterAll(async () => {
  await world?.close();
});

const cli = (...args: string[]) => runBuiltCli(args, world.env);
const pause = (until: string) =>
  world.query(({ db }) =>
    db.execute(sql`
      UPDATE mailboxes SET paused_at = now(),
        pause_reason = ${until === "operator" ? "auth_failed" : "rate_limited"},
        paused_until = ${until === "operator" ? null : sql.raw(`now() + interval '${until}'`)},
        pause_detail = '535 5.7.8 Authentication credentials invalid'
      WHERE id = ${mailboxId}::uuid`),
  );
const showJson = async () => {
  const shown = await cli("mailboxes:show", "ops@example.com", "--json");
  expect(shown.code, shown.stderr).toBe(0);
  return (JSON.parse(shown.stdout) as { pause: Record<string, unknown> | null }).pause;
};

describe("a paused mailbox", () => {
  test("show and list say why and until when; resume and update lift it", async () => {
    await pause("operator");
    expect(await showJson()).toMatchObject({
      reason: "auth_failed",
      pausedUntil: null,
      detail: "535 5.7.8 Authentication credentials invalid",
    });
    const text = await cli("mailboxes:show", "ops@example.com");
    expect(text.stdout).toMatch(/Sending +PAUSED \(auth_failed\) since \S+ until /);
    const list = await cli("mailboxes:list");
    expect(list.stdout).toMatch(/ops@example\.com .* PAUSED \(auth_failed\)/);

    const resumed = await cli("mailboxes:resume", "ops@example.com");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await showJson()).toBeNull();

    // A provider limit shows its end; once past, the mailbox is active again by itself.
    await pause("10 minutes");
    expect((await showJson())?.pausedUntil).toEqual(expect.any(String));
    await pause("-1 second");
    expect(await showJson()).toBeNull();

    // Changing the mailbox is the fix a pause waits for.
    await pause("operator");
    const updated = await cli(
      "mailboxes:update",
      "ops@example.com",
      "--no-input",
      "--smtp-host",
      "smtp2.example.com",
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(await showJson()).toBeNull();
  }, 180_000);
});

describe("messages:retry", () => {
  test("queues an outcome_unknown recipient again, once; bad or unknown ids are one-line errors", async () => {
    const rowId = await world.query(async ({ db }) => {
      const [message] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO messages (mailbox_id, message_id_header, envelope_from, subject)
          VALUES (${mailboxId}::uuid, '<r@example.com>', 'ops@example.com', 'r') RETURNING id`),
      );
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
          VALUES (${mailboxId}::uuid, ${message!.id}::uuid, 'a@example.net', 'r') RETURNING id`),
      );
      await db.execute(sql`
        UPDATE outbound_messages SET status = 'processing', attempts = 1, processing_started_at = now(),
          lease_renewed_at = now(), lease_owner = 't', data_started_at = now() WHERE id = ${row!.id}::uuid`);
      await db.execute(sql`
        UPDATE outbound_messages SET status = 'failed', error_code = 'outcome_unknown',
          processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL WHERE id = ${row!.id}::uuid`);
      return row!.id;
    });

    const retried = await cli("messages:retry", rowId, "--json");
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toEqual({ queued: [rowId] });
    const [row] = await world.query(async ({ db }) =>
      rowsOf<{ status: string; error_code: string | null; data_started: boolean }>(
        await db.execute(sql`
          SELECT status, error_code, data_started_at IS NOT NULL AS data_started
          FROM outbound_messages WHERE id = ${rowId}::uuid`),
      ),
    );
    expect(row).toEqual({ status: "queued", error_code: null, data_started: false });

    // Queued now: nothing failed to retry.
    const again = await cli("messages:retry", rowId);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("Nothing to retry");
    const bad = await cli("messages:retry", "not-an-id");
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  }, 120_000);
});
