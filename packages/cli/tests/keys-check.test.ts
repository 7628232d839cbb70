import { FernetKey } from "@imap-proxy/crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { openCliWorld, runBuiltCli, type CliWorld } from "./support.ts";

let world: CliWorld;
beforeAll(async () => {
  world = await openCliWorld();
});
afterAll(async () => {
  await world?.close();
});

const create = (email: string) =>
  runBuiltCli(
    [
      "mailboxes:create",
      "--no-input",
      "--email",
      email,
      "--imap-host",
      "imap.example.com",
      "--imap-username",
      "u",
      "--smtp-host",
      "smtp.example.com",
      "--smtp-username",
      "u",
      "--json",
    ],
    { ...world.env, IMAP_PASSWORD: "imap-pw", SMTP_PASSWORD: "smtp-pw" },
  );

test("keys:check counts what decrypts, names what does not, and guides a rotation", async () => {
  const ids: string[] = [];
  for (const email of ["one@example.com", "two@example.com"]) {
    const created = await create(email);
    expect(created.code, created.stderr).toBe(0);
    ids.push((JSON.parse(created.stdout) as { id: string }).id);
  }
  const old = world.fernetKey;
  const fresh = FernetKey.generate();
  const check = (fernetKey: string, extra: string[] = []) =>
    runBuiltCli(["keys:check", ...extra], { ...world.env, FERNET_KEY: fernetKey });

  const good = await check(old, ["--json"]);
  expect(good.code, good.stderr).toBe(0);
  expect(JSON.parse(good.stdout)).toEqual({ mailboxes: 2, undecryptable: [], underOlderKey: 0 });

  // A key that encrypted nothing: exit 1, one line naming both mailboxes, never a key.
  const wrong = await check(fresh);
  expect(wrong.code).toBe(1);
  expect(wrong.stdout).toBe("");
  const lines = wrong.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  for (const id of ids) expect(lines[0]).toContain(id);
  expect(lines[0]).toMatch(/^error: No configured key decrypts the secrets of 2 of 2 mailbox/);
  expect(wrong.stderr).not.toContain(fresh);

  // The README's rotation: new key first, rotate, then the new key alone checks clean.
  const both = `${fresh},${old}`;
  const before = await check(both);
  expect(before.code).toBe(0);
  expect(before.stdout).toMatch(/2 still under an older key/);
  const rotated = await runBuiltCli(["keys:rotate"], { ...world.env, FERNET_KEY: both });
  expect(rotated.code, rotated.stderr).toBe(0);
  const after = await check(fresh);
  expect(after.code, after.stderr).toBe(0);
  expect(after.stdout).toBe(
    "All 2 mailbox(es) decrypt with the configured keys; every secret is under the first key.\n",
  );
});
