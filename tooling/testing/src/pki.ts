// A throwaway PKI for TLS tests: a CA and certificates made with openssl at test time.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** A throwaway CA and certificates, made with openssl at test time. */
export interface TestPki {
  dir: string;
  caPem: string;
  /** Signed by the CA for localhost / 127.0.0.1. */
  server: { key: string; cert: string };
  /** Signed by the CA for another name only. */
  otherHost: { key: string; cert: string };
  /** Self-signed for localhost, not in any trusted set. */
  selfSigned: { key: string; cert: string };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=imap-proxy test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  const issue = (name: string, cn: string, san: string) => {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(
      path.join(dir, `${name}.ext`),
      `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`,
    );
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
    return {
      key: readFileSync(path.join(dir, `${name}.key`), "utf8"),
      cert: readFileSync(path.join(dir, `${name}.pem`), "utf8"),
    };
  };
  const server = issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
  const otherHost = issue("other", "mail.other.example", "DNS:mail.other.example");
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "self.key",
    "-out",
    "self.pem",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  );
  return {
    dir,
    caPem: readFileSync(path.join(dir, "ca.pem"), "utf8"),
    server,
    otherHost,
    selfSigned: {
      key: readFileSync(path.join(dir, "self.key"), "utf8"),
      cert: readFileSync(path.join(dir, "self.pem"), "utf8"),
    },
  };
}
