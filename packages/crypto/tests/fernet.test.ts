import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import {
  FernetKey,
  InvalidKeyError,
  InvalidTokenError,
  Keyring,
  decodeUtf8,
} from "../src/index.ts";
import { pythonHasCryptography, readVectors, runPython, seconds } from "./support.ts";

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

describe("Fernet spec vectors", () => {
  test.each(readVectors<GenerateVector>("generate.json"))("generate.json: $src", (vector) => {
    const key = FernetKey.parse(vector.secret);
    const token = key.encrypt(vector.src, {
      now: seconds(vector.now),
      iv: Uint8Array.from(vector.iv),
    });
    expect(token).toBe(vector.token);
  });

  test.each(readVectors<VerifyVector>("verify.json"))("verify.json: $src", (vector) => {
    const key = FernetKey.parse(vector.secret);
    const plaintext = key.decrypt(vector.token, {
      ttlSeconds: vector.ttl_sec,
      now: seconds(vector.now),
    });
    expect(plaintext.toString("utf8")).toBe(vector.src);
  });

  const invalid = readVectors<InvalidVector>("invalid.json");
  test("invalid.json has the spec's eight cases", () => {
    expect(invalid).toHaveLength(8);
  });
  test.each(invalid)("invalid.json rejects: $desc", (vector) => {
    const key = FernetKey.parse(vector.secret);
    expect(() =>
      key.decrypt(vector.token, { ttlSeconds: vector.ttl_sec, now: seconds(vector.now) }),
    ).toThrow(InvalidTokenError);
  });
  test("the two time-based invalid cases are valid tokens without a TTL (as in Python)", () => {
    const timeCases = invalid.filter((v) => /far-future|expired/.test(v.desc));
    expect(timeCases).toHaveLength(2);
    for (const vector of timeCases) {
      expect(() => FernetKey.parse(vector.secret).decrypt(vector.token)).not.toThrow();
    }
  });
});

describe("FernetKey", () => {
  const key = FernetKey.parse(FernetKey.generate());

  test("round-trips text without changing a code point", () => {
    for (const text of [
      "",
      "\uFEFFbom first",
      "nul\0byte",
      "e\u0301\u0327",
      "😀 ✉ 密码",
      "x".repeat(20_000),
    ]) {
      const token = key.encrypt(text);
      expect(decodeUtf8(key.decrypt(token))).toBe(text);
    }
  });

  test("a fresh IV per token: the same plaintext never gives the same token", () => {
    const tokens = new Set(Array.from({ length: 50 }, () => key.encrypt("same")));
    expect(tokens.size).toBe(50);
  });

  test("refuses a lone surrogate instead of silently replacing it", () => {
    expect(() => key.encrypt("\uD800")).toThrow(TypeError);
  });

  test("64-bit timestamps survive beyond 2038 and 2106", () => {
    const farFuture = 2 ** 40;
    const token = key.encrypt("t", { now: farFuture });
    expect(key.timestampOf(token)).toBe(farFuture);
    expect(key.decrypt(token, { ttlSeconds: 10, now: farFuture + 5 }).toString()).toBe("t");
  });

  test("TTL and the 60-second clock-skew rule", () => {
    const token = key.encrypt("t", { now: 1_000_000 });
    expect(() => key.decrypt(token, { ttlSeconds: 60, now: 1_000_060 })).not.toThrow();
    expect(() => key.decrypt(token, { ttlSeconds: 60, now: 1_000_061 })).toThrow(InvalidTokenError);
    expect(() => key.decrypt(token, { ttlSeconds: 60, now: 1_000_000 - 60 })).not.toThrow();
    expect(() => key.decrypt(token, { ttlSeconds: 60, now: 1_000_000 - 61 })).toThrow(
      InvalidTokenError,
    );
  });

  test("tampered, truncated, wrong-key and non-token inputs all raise the one error, leaking nothing", () => {
    const secret = "correct horse battery staple";
    const token = key.encrypt(secret);
    const flip = (index: number) => {
      const bytes = Buffer.from(token, "base64url");
      bytes[index] = bytes[index]! ^ 1;
      return bytes.toString("base64url").padEnd(token.length, "=");
    };
    const other = FernetKey.parse(FernetKey.generate());
    const bad: string[] = [
      flip(0), // version
      flip(5), // timestamp
      flip(12), // iv
      flip(30), // ciphertext
      flip(Buffer.from(token, "base64url").length - 1), // mac
      token.slice(0, -4),
      token.slice(0, 20),
      token.replace(/=+$/, ""),
      token + "AAAA",
      ` ${token}`,
      // Standard-alphabet characters are not base64url (always differs from the token).
      token.slice(0, 10) + "+" + token.slice(11),
      "",
      "not a token",
      "gAAAAA==",
      other.encrypt(secret),
    ];
    for (const input of bad) {
      let caught: unknown;
      try {
        key.decrypt(input);
      } catch (error) {
        caught = error;
      }
      expect(caught, input).toBeInstanceOf(InvalidTokenError);
      const message = (caught as Error).message;
      expect(message).not.toContain(secret);
      if (input.length > 8) expect(message).not.toContain(input.slice(0, 16));
      expect(message).toBe(new InvalidTokenError().message);
    }
    expect(() => key.decrypt(12 as unknown as string)).toThrow(InvalidTokenError);
  });

  test("bad keys are refused without echoing them", () => {
    const secretLooking = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXg=";
    for (const text of ["", "short", secretLooking, FernetKey.generate() + "A", "!".repeat(44)]) {
      let caught: unknown;
      try {
        FernetKey.parse(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidKeyError);
      if (text.length > 4) expect((caught as Error).message).not.toContain(text);
    }
    // Python also accepts the standard alphabet and a missing final "=".
    const generated = FernetKey.generate();
    const token = FernetKey.parse(generated).encrypt("x");
    expect(
      FernetKey.parse(generated.replace(/-/g, "+").replace(/_/g, "/")).decrypt(token).toString(),
    ).toBe("x");
    expect(FernetKey.parse(generated.slice(0, 43)).decrypt(token).toString()).toBe("x");
  });
});

describe("Keyring (MultiFernet semantics)", () => {
  const oldKey = FernetKey.generate();
  const newKey = FernetKey.generate();

  test("the first key encrypts, any key decrypts", () => {
    const legacy = Keyring.parse(oldKey).encryptSecret("pw");
    const ring = Keyring.parse(`${newKey}, ${oldKey}`);
    expect(ring.size).toBe(2);
    expect(ring.decryptSecret(legacy)).toBe("pw");
    const fresh = ring.encryptSecret("pw2");
    expect(Keyring.parse(newKey).decryptSecret(fresh)).toBe("pw2");
    expect(() => Keyring.parse(oldKey).decryptSecret(fresh)).toThrow(InvalidTokenError);
  });

  test("rotate re-encrypts under the first key, keeps the timestamp, and is idempotent", () => {
    const legacy = FernetKey.parse(oldKey).encrypt("pw", { now: 1_234_567 });
    const ring = Keyring.parse(`${newKey},${oldKey}`);
    expect(ring.needsRotation(legacy)).toBe(true);
    const rotated = ring.rotate(legacy);
    expect(ring.needsRotation(rotated)).toBe(false);
    expect(FernetKey.parse(newKey).timestampOf(rotated)).toBe(1_234_567);
    expect(Keyring.parse(newKey).decryptSecret(rotated)).toBe("pw");
    expect(() =>
      Keyring.parse(newKey).rotate(FernetKey.parse(FernetKey.generate()).encrypt("x")),
    ).toThrow(InvalidTokenError);
  });

  test("malformed FERNET_KEY lists name the entry, never the key", () => {
    expect(() => Keyring.parse(`${newKey},,${oldKey}`)).toThrow(/empty entry/);
    let message = "";
    try {
      Keyring.parse(`${newKey},not-a-key-but-secretish-text`);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/FERNET_KEY key #2 is not a valid Fernet key/);
    expect(message).not.toContain("secretish");
    expect(message).not.toContain(newKey);
  });
});

interface PythonFixture {
  key: string;
  cases: { plaintext: string; token: string }[];
}

describe("interoperability with Python's cryptography.fernet", () => {
  const fixture = JSON.parse(
    readFileSync(path.join(here, "fixtures/python-tokens.json"), "utf8"),
  ) as PythonFixture;

  test("committed Python-made tokens decrypt here exactly", () => {
    const ring = Keyring.parse(fixture.key);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(8);
    for (const { plaintext, token } of fixture.cases) {
      expect(ring.decryptSecret(token)).toBe(plaintext);
    }
  });

  describe.runIf(pythonHasCryptography)("live, both directions", () => {
    const plaintexts = fixture.cases.map((c) => c.plaintext);

    test("tokens made here decrypt in Python", () => {
      const key = FernetKey.generate();
      const ring = Keyring.parse(key);
      const tokens = plaintexts.map((p) => ring.encryptSecret(p));
      const decrypted = runPython<string[]>(
        `import sys, json
from cryptography.fernet import Fernet
d = json.load(sys.stdin)
f = Fernet(d["key"].encode())
print(json.dumps([f.decrypt(t.encode()).decode("utf-8") for t in d["tokens"]]))`,
        { key, tokens },
      );
      expect(decrypted).toEqual(plaintexts);
    });

    test("tokens made in Python now decrypt here, keys from Python included", () => {
      const made = runPython<{ key: string; tokens: string[] }>(
        `import sys, json
from cryptography.fernet import Fernet
d = json.load(sys.stdin)
key = Fernet.generate_key()
f = Fernet(key)
print(json.dumps({"key": key.decode(), "tokens": [f.encrypt(p.encode("utf-8")).decode() for p in d]}))`,
        plaintexts,
      );
      const ring = Keyring.parse(made.key);
      expect(made.tokens.map((t) => ring.decryptSecret(t))).toEqual(plaintexts);
    });

    test("Python rejects a token we tampered with, as we do", () => {
      const key = FernetKey.generate();
      const token = FernetKey.parse(key).encrypt("x");
      const tampered = token.slice(0, 20) + (token[20] === "A" ? "B" : "A") + token.slice(21);
      const verdict = runPython<string>(
        `import sys, json
from cryptography.fernet import Fernet, InvalidToken
d = json.load(sys.stdin)
try:
    Fernet(d["key"].encode()).decrypt(d["token"].encode()); print(json.dumps("accepted"))
except InvalidToken:
    print(json.dumps("rejected"))`,
        { key, token: tampered },
      );
      expect(verdict).toBe("rejected");
      expect(() => FernetKey.parse(key).decrypt(tampered)).toThrow(InvalidTokenError);
    });
  });
});
