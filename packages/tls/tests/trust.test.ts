import { writeFileSync } from "node:fs";
import path from "node:path";
import { connect, createServer, rootCertificates, type Server } from "node:tls";
import type { AddressInfo } from "node:net";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readCaBundle, trustOptions, trustedCertificates } from "../src/index.ts";

let installation: TestPki; // the CA named by SMTP_CA_FILE
let operatorExtra: TestPki; // the CA named by NODE_EXTRA_CA_CERTS
const servers: Server[] = [];

async function serve(identity: { key: string; cert: string }): Promise<number> {
  const server = createServer(identity, (socket) => socket.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Whether a verified TLS connection to `port` succeeds with `trust` (a CA list, or TLS options). */
function handshake(port: number, trust: string[] | object): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ...(Array.isArray(trust) ? { ca: trust } : trust),
    });
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve("trusted");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

beforeAll(() => {
  installation = makeTestPki();
  operatorExtra = makeTestPki();
});
afterAll(() => {
  for (const server of servers) server.close();
});

describe("an installation CA bundle adds to Node's default trust", () => {
  test("the list holds Node's roots, NODE_EXTRA_CA_CERTS and the bundle", () => {
    const env = {
      SMTP_CA_FILE: path.join(installation.dir, "ca.pem"),
      NODE_EXTRA_CA_CERTS: path.join(operatorExtra.dir, "ca.pem"),
    };
    const bundle = readCaBundle("SMTP_CA_FILE", env)!;
    const list = trustedCertificates(bundle, env);
    for (const root of rootCertificates) expect(list).toContain(root);
    expect(list).toContain(operatorExtra.caPem.trim());
    expect(list[list.length - 1]).toBe(bundle);
  });

  test("real handshakes: the bundle's and NODE_EXTRA_CA_CERTS's servers verify, a stranger does not", async () => {
    const env = { NODE_EXTRA_CA_CERTS: path.join(operatorExtra.dir, "ca.pem") };
    const list = trustedCertificates(installation.caPem, env);
    expect(await handshake(await serve(installation.server), list)).toBe("trusted");
    expect(await handshake(await serve(operatorExtra.server), list)).toBe("trusted");
    expect(await handshake(await serve(installation.selfSigned), list)).toBe(
      "DEPTH_ZERO_SELF_SIGNED_CERT",
    );
  });

  test("the connection options carry one secure context per trust set, built from that list", async () => {
    const env = { NODE_EXTRA_CA_CERTS: path.join(operatorExtra.dir, "ca.pem") };
    const options = trustOptions(installation.caPem, env);
    // Built once: parsing every root for each connection was most of a send's CPU.
    expect(trustOptions(installation.caPem, env).secureContext).toBe(options.secureContext);
    expect(trustOptions(operatorExtra.caPem, env).secureContext).not.toBe(options.secureContext);
    expect(await handshake(await serve(installation.server), options)).toBe("trusted");
    expect(await handshake(await serve(operatorExtra.server), options)).toBe("trusted");
    expect(await handshake(await serve(installation.selfSigned), options)).toBe(
      "DEPTH_ZERO_SELF_SIGNED_CERT",
    );
  });

  test("unset: no list (Node's defaults apply unchanged)", () => {
    expect(readCaBundle("SMTP_CA_FILE", {})).toBeUndefined();
    expect(readCaBundle("SMTP_CA_FILE", { SMTP_CA_FILE: "" })).toBeUndefined();
  });

  test("an unreadable or certificate-less file is one line naming it", () => {
    const missing = path.join(installation.dir, "missing.pem");
    expect(() => readCaBundle("IMAP_CA_FILE", { IMAP_CA_FILE: missing })).toThrow(
      `IMAP_CA_FILE ${missing} cannot be read (ENOENT).`,
    );
    expect(() => readCaBundle("SMTP_CA_FILE", { SMTP_CA_FILE: installation.dir })).toThrow(
      /cannot be read \(EISDIR\)/,
    );
    const notPem = path.join(installation.dir, "not.pem");
    writeFileSync(notPem, "hello\n");
    expect(() => readCaBundle("SMTP_CA_FILE", { SMTP_CA_FILE: notPem })).toThrow(
      `SMTP_CA_FILE ${notPem} holds no PEM certificate.`,
    );
  });
});
