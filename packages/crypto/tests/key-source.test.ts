import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { FernetKey, InvalidKeyError, MissingKeyError, loadKeyring } from "../src/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-keys-"));
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const noSecrets = () => Promise.resolve(false);
const someSecrets = () => Promise.resolve(true);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadKeyring", () => {
  test("FERNET_KEY wins and is used as given", async () => {
    const key = FernetKey.generate();
    const ring = await loadKeyring({
      fernetKey: key,
      generatedKeyFile: path.join(dir, "unused.key"),
      storedSecretsExist: someSecrets,
    });
    expect(FernetKey.parse(key).decrypt(ring.encryptSecret("a")).toString()).toBe("a");
  });

  test("with a database server and no FERNET_KEY, refuses (fail closed)", async () => {
    const storedSecretsExist = noSecrets;
    await expect(
      loadKeyring({ fernetKey: undefined, generatedKeyFile: undefined, storedSecretsExist }),
    ).rejects.toThrow(MissingKeyError);
    await expect(
      loadKeyring({ fernetKey: "  ", generatedKeyFile: undefined, storedSecretsExist }),
    ).rejects.toThrow(MissingKeyError);
  });

  test("embedded: generates a 0600 key file once, announces it, then reuses it", async () => {
    const file = path.join(dir, "nested", "fernet.key");
    const notices: string[] = [];
    const first = await loadKeyring({
      fernetKey: undefined,
      generatedKeyFile: file,
      storedSecretsExist: noSecrets,
      notice: (m) => notices.push(m),
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(file);
    const keyText = readFileSync(file, "utf8").trim();
    expect(notices[0]).not.toContain(keyText);
    const second = await loadKeyring({
      fernetKey: undefined,
      generatedKeyFile: file,
      storedSecretsExist: someSecrets,
      notice: (m) => notices.push(m),
    });
    expect(notices).toHaveLength(1);
    expect(second.decryptSecret(first.encryptSecret("same key"))).toBe("same key");
  });

  test("a malformed FERNET_KEY is a clear error that never prints the key", async () => {
    const bad = "definitely-not-a-valid-fernet-key-secret";
    let caught: unknown;
    try {
      await loadKeyring({
        fernetKey: bad,
        generatedKeyFile: undefined,
        storedSecretsExist: noSecrets,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidKeyError);
    expect((caught as Error).message).toMatch(/^FERNET_KEY is not a valid Fernet key/);
    expect((caught as Error).message).not.toContain(bad);
  });
});

describe("the generated key file", () => {
  test("a missing key file is never replaced while the database holds secrets", async () => {
    const file = path.join(dir, "lost", "fernet.key");
    let asked = 0;
    const load = loadKeyring({
      fernetKey: undefined,
      generatedKeyFile: file,
      storedSecretsExist: () => (asked++, someSecrets()),
    });
    await expect(load).rejects.toThrow(MissingKeyError);
    await expect(load).rejects.toThrow(`${file} is missing`);
    await expect(load).rejects.toThrow(/restore fernet\.key from your backup/);
    expect(asked).toBe(1);
    expect(existsSync(file)).toBe(false);
  });

  test("an empty key file (an older version's interrupted write) is refused, never used", async () => {
    const file = path.join(dir, "empty.key");
    writeFileSync(file, "", { mode: 0o600 });
    const load = (secrets: boolean) =>
      loadKeyring({
        fernetKey: undefined,
        generatedKeyFile: file,
        storedSecretsExist: () => Promise.resolve(secrets),
      });
    await expect(load(true)).rejects.toThrow(/is empty .*restore fernet\.key/);
    await expect(load(false)).rejects.toThrow(/is empty .*delete it and run the command again/);
    expect(readFileSync(file, "utf8")).toBe("");
  });

  test("a key file group or others can read or write is refused, naming chmod", async () => {
    const file = path.join(dir, "shared.key");
    writeFileSync(file, `${FernetKey.generate()}\n`);
    for (const mode of [0o644, 0o640, 0o602]) {
      chmodSync(file, mode);
      await expect(
        loadKeyring({
          fernetKey: undefined,
          generatedKeyFile: file,
          storedSecretsExist: noSecrets,
        }),
      ).rejects.toThrow(new RegExp(`chmod 600 ${file}`));
    }
  });

  test("a process killed while writing a new key leaves no key file; the next run makes a whole one", async () => {
    const keyDir = mkdtempSync(path.join(dir, "crash-"));
    const file = path.join(keyDir, "fernet.key");
    const writer = spawnLoadKey(file, path.join(keyDir, "never"));
    await waitForEntry(keyDir);
    writer.kill("SIGKILL");
    await writer.done;
    expect(existsSync(file)).toBe(false);
    const output = await spawnLoadKey(file).done;
    expect(output).toMatch(/^ok /);
    expect(readFileSync(file, "utf8")).toMatch(/^[\w-]{43}=\n$/);
  });

  test("a process starting while another writes the key gets the one complete key", async () => {
    const keyDir = mkdtempSync(path.join(dir, "race-"));
    const file = path.join(keyDir, "fernet.key");
    const release = path.join(dir, `release-${path.basename(keyDir)}`);
    const stalled = spawnLoadKey(file, release);
    await waitForEntry(keyDir);
    const second = await spawnLoadKey(file).done;
    writeFileSync(release, "");
    const outputs = [second, await stalled.done];
    const key = FernetKey.parse(readFileSync(file, "utf8").trim());
    for (const output of outputs) {
      expect(output).toMatch(/^ok /);
      expect(key.decrypt(output.slice(3).trim()).toString()).toBe("probe");
    }
    expect(readdirSync(keyDir)).toEqual(["fernet.key"]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

const loadKeyScript = fileURLToPath(new URL("./processes/load-key.ts", import.meta.url));

/** Runs tests/processes/load-key.ts (its writes stalled until `releaseFile` exists, if given). */
function spawnLoadKey(file: string, releaseFile?: string) {
  const child = spawn(process.execPath, ["--import", "tsx", loadKeyScript, file], {
    cwd: packageDir,
    env: { ...process.env, STALL_WRITES_UNTIL: releaseFile ?? "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const done = new Promise<string>((resolve) => child.on("close", () => resolve(stdout)));
  return { done, kill: (signal: NodeJS.Signals) => child.kill(signal) };
}

/** Waits until something (the key file or its temporary) exists in `keyDir`. */
async function waitForEntry(keyDir: string): Promise<void> {
  while (readdirSync(keyDir).length === 0) await new Promise((r) => setTimeout(r, 10));
}
