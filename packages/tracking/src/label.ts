import { BlockList, isIPv4, isIPv6 } from "node:net";
import { isbot } from "isbot";

/**
 * Who made a tracking request, as far as can be told:
 * - `proxy`: a mail provider's image proxy fetching for the reader (Gmail, Yahoo, Apple Mail
 *   Privacy Protection). It may or may not mean a person looked; it counts as an open.
 * - `bot`: a crawler, link scanner or script, or a click within `QUICK_CLICK_MS` of delivery.
 *   Never sets `opened_at` / `clicked_at`.
 * - `human`: everything else.
 */
export const TRACKING_LABELS = ["human", "bot", "proxy"] as const;
export type TrackingLabel = (typeof TRACKING_LABELS)[number];

/** A click this soon after `sent_at` is a gateway scanning the message on arrival, not a reader. */
export const QUICK_CLICK_MS = 2000;

/** User agents' own user agents are free text; this much is kept per event. */
export const MAX_STORED_USER_AGENT = 512;

const PROXY_USER_AGENTS = [
  /GoogleImageProxy/i, // Gmail: "... (via ggpht.com GoogleImageProxy)"
  /YahooMailProxy/i,
  /^Mozilla\/5\.0$/, // Apple Mail Privacy Protection sends exactly this
];

/** Mail-security products that name themselves in a browser-like user agent `isbot` lets through. */
const SCANNER_USER_AGENTS =
  /barracuda|mimecast|proofpoint|forcepoint|ironport|trend ?micro|sophos|symantec|mcafee|safelinks/i;

/** Apple's own network, which Mail Privacy Protection fetches from. */
const PROXY_RANGES = blockList([["17.0.0.0", 8]]);

/**
 * Published ranges of mail gateways that fetch every link on arrival (Microsoft Exchange Online
 * Protection / Safe Links, Mimecast, Proofpoint, Barracuda). A starting list, not a complete one;
 * the quick-click rule catches scanners outside it.
 */
const SCANNER_RANGES = blockList([
  ["40.92.0.0", 15],
  ["40.107.0.0", 16],
  ["52.100.0.0", 14],
  ["104.47.0.0", 17],
  ["2a01:111:f400::", 48],
  ["2a01:111:f403::", 48],
  ["205.139.110.0", 24],
  ["207.211.30.0", 24],
  ["216.205.24.0", 24],
  ["148.163.128.0", 19],
  ["67.231.144.0", 20],
  ["64.235.144.0", 20],
  ["209.222.80.0", 21],
]);

export interface TrackingRequest {
  userAgent: string | undefined;
  /** The client address as the server saw it (after trusted-proxy handling). */
  ip: string | undefined;
}

/** The label from the request alone; the quick-click rule needs `sent_at` and is applied on write. */
export function labelRequest(request: TrackingRequest): TrackingLabel {
  const userAgent = request.userAgent?.trim() ?? "";
  const ip = normaliseIp(request.ip);
  if (PROXY_USER_AGENTS.some((pattern) => pattern.test(userAgent))) return "proxy";
  if (ip !== undefined && PROXY_RANGES.check(ip.address, ip.family)) return "proxy";
  if (userAgent === "" || isbot(userAgent) || SCANNER_USER_AGENTS.test(userAgent)) return "bot";
  if (ip !== undefined && SCANNER_RANGES.check(ip.address, ip.family)) return "bot";
  return "human";
}

/**
 * The network an address belongs to (IPv4 /24, IPv6 /48), which is what events keep: enough to
 * tell a scanner farm from a reader, not enough to single out a household.
 */
export function ipPrefix(address: string | undefined): string | undefined {
  const ip = normaliseIp(address);
  if (ip === undefined) return undefined;
  if (ip.family === "ipv4") {
    const [a, b, c] = ip.address.split(".");
    return `${a}.${b}.${c}.0/24`;
  }
  const groups = expandIpv6(ip.address);
  return `${groups.slice(0, 3).join(":")}::/48`;
}

function normaliseIp(
  address: string | undefined,
): { address: string; family: "ipv4" | "ipv6" } | undefined {
  if (address === undefined) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return { address: mapped[1]!, family: "ipv4" };
  if (isIPv4(address)) return { address, family: "ipv4" };
  const unscoped = address.replace(/%.*$/, "");
  if (isIPv6(unscoped)) return { address: unscoped, family: "ipv6" };
  return undefined;
}

/** Eight 16-bit groups in lower-case hex without leading zeros, as Postgres prints them. */
function expandIpv6(address: string): string[] {
  const [head = "", tail] = address.toLowerCase().split("::");
  const parse = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const before = parse(head);
  const after = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const last = after.at(-1) ?? before.at(-1);
  if (last !== undefined && last.includes(".")) {
    const octets = last.split(".").map(Number);
    const groups = [
      ((octets[0]! << 8) | octets[1]!).toString(16),
      ((octets[2]! << 8) | octets[3]!).toString(16),
    ];
    if (after.length > 0) after.splice(-1, 1, ...groups);
    else before.splice(-1, 1, ...groups);
  }
  const zeros = Array.from({ length: 8 - before.length - after.length }, () => "0");
  return [...before, ...zeros, ...after].map((group) => Number.parseInt(group, 16).toString(16));
}

function blockList(ranges: ReadonlyArray<readonly [string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) {
    list.addSubnet(network, prefix, isIPv4(network) ? "ipv4" : "ipv6");
  }
  return list;
}
