import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { FernetKey, InvalidKeyError, MissingKeyError, loadKeyring } from "../src/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadKeyring", () => {
  test("FERNET_KEY wins and is used as given", () => {
    const key = FernetKey.generate();
    const ring = loadKeyring({ fernetKey: key, generatedKeyFile: path.join(dir, "unused.key") });
    expect(FernetKey.parse(key).decrypt(ring.encryptSecret("a")).toString()).toBe("a");
  });

  test("with a database server and no FERNET_KEY, refuses (fail closed)", () => {
    expect(() => loadKeyring({ fernetKey: undefined, generatedKeyFile: undefined })).toThrow(
      MissingKeyError,
    );
    expect(() => loadKeyring({ fernetKey: "  ", generatedKeyFile: undefined })).toThrow(
      MissingKeyError,
    );
  });

  test("embedded: generates a 0600 key file once, announces it, then reuses it", () => {
    const file = path.join(dir, "nested", "fernet.key");
    const notices: string[] = [];
    const first = loadKeyring({
      fernetKey: undefined,
      generatedKeyFile: file,
      notice: (m) => notices.push(m),
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(file);
    const keyText = readFileSync(file, "utf8").trim();
    expect(notices[0]).not.toContain(keyText);
    const second = loadKeyring({
      fernetKey: undefined,
      generatedKeyFile: file,
      notice: (m) => notices.push(m),
    });
    expect(notices).toHaveLength(1);
    expect(second.decryptSecret(first.encryptSecret("same key"))).toBe("same key");
  });

  test("a malformed FERNET_KEY is a clear error that never prints the key", () => {
    const bad = "definitely-not-a-valid-fernet-key-secret";
    let caught: unknown;
    try {
      loadKeyring({ fernetKey: bad, generatedKeyFile: undefined });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidKeyError);
    expect((caught as Error).message).toMatch(/^FERNET_KEY is not a valid Fernet key/);
    expect((caught as Error).message).not.toContain(bad);
  });
});
