import { readFileSync } from "node:fs";
import { type SecureContext, createSecureContext, rootCertificates } from "node:tls";
import { CodedError, type TlsErrorCode } from "@imap-proxy/errors";

/** A CA bundle named by the configuration cannot be used; the message names the file. */
export class TlsTrustError extends CodedError<TlsErrorCode> {
  override readonly name = "TlsTrustError";
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The installation's extra CA bundle named by `variable` (`SMTP_CA_FILE`, `IMAP_CA_FILE`), or
 * undefined when it is unset. A file that cannot be read, or holds no PEM certificate, is a
 * one-line error naming it: a typo must not quietly fall back to the default trust.
 */
export function readCaBundle(variable: string, env: NodeJS.ProcessEnv): string | undefined {
  const file = env[variable];
  if (file === undefined || file === "") return undefined;
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new TlsTrustError("unreadable_ca_file", `${variable} ${file} cannot be read (${code}).`);
  }
  if ((pem.match(PEM_CERTIFICATE) ?? []).length === 0)
    throw new TlsTrustError("unreadable_ca_file", `${variable} ${file} holds no PEM certificate.`);
  return pem;
}

/**
 * Node's default trust plus `extraCa`. A connection's `ca` option replaces Node's default list
 * rather than adding to it, so the defaults are listed again: the bundled Mozilla roots
 * (`tls.rootCertificates`) and, as Node itself does, the certificates in `NODE_EXTRA_CA_CERTS`
 * (skipped when unreadable, as Node skips them with a warning at start-up).
 */
export function trustedCertificates(
  extraCa: string,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  return [...rootCertificates, ...nodeExtraCertificates(env), extraCa];
}

function nodeExtraCertificates(env: NodeJS.ProcessEnv): string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === "") return [];
  try {
    return readFileSync(file, "utf8").match(PEM_CERTIFICATE) ?? [];
  } catch {
    return [];
  }
}

type TrustOptions = { ca: string[]; secureContext: SecureContext; minVersion: "TLSv1.2" };
const built = new Map<string, TrustOptions>();

/**
 * TLS options trusting Node's default trust plus `extraCa`, TLS 1.2 or newer, built once per
 * trust set (and, like Node's own reading of `NODE_EXTRA_CA_CERTS`, not re-read afterwards):
 * parsing some 150 root certificates on every connection cost tens of milliseconds of CPU each
 * (most of the sender's CPU per message with short-lived connections). Node uses
 * `secureContext` and ignores `ca`, which is kept to say what is trusted.
 */
export function trustOptions(extraCa: string, env: NodeJS.ProcessEnv = process.env): TrustOptions {
  const key = `${env.NODE_EXTRA_CA_CERTS ?? ""}\0${extraCa}`;
  let options = built.get(key);
  if (options === undefined) {
    const ca = trustedCertificates(extraCa, env);
    options = {
      ca,
      secureContext: createSecureContext({ ca, minVersion: "TLSv1.2" }),
      minVersion: "TLSv1.2",
    };
    built.set(key, options);
  }
  return options;
}
