import { describe, expect, it } from "vitest";
import { ipPrefix, labelRequest } from "../src/index.ts";

const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const READER_IP = "198.51.100.23";

describe("labelRequest", () => {
  it("labels image proxies proxy, by user agent or by Apple's network", () => {
    for (const userAgent of [
      "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
      "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
      "Mozilla/5.0",
    ]) {
      expect(labelRequest({ userAgent, ip: READER_IP })).toBe("proxy");
    }
    expect(labelRequest({ userAgent: CHROME, ip: "17.58.1.2" })).toBe("proxy");
  });

  it("labels crawlers, scripts, scanners' ranges and a missing user agent bot", () => {
    for (const userAgent of [
      "curl/8.5.0",
      "python-requests/2.32",
      "Barracuda Sentinel (EE)",
      "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
      "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36 Mimecast",
      "Googlebot/2.1",
      "",
      undefined,
    ]) {
      expect(labelRequest({ userAgent, ip: READER_IP })).toBe("bot");
    }
    for (const ip of [
      "40.92.1.1",
      "40.107.200.9",
      "52.101.0.1",
      "104.47.1.1",
      "2a01:111:f400:7c00::10",
      "::ffff:40.92.3.4",
    ]) {
      expect(labelRequest({ userAgent: CHROME, ip })).toBe("bot");
    }
  });

  it("labels an ordinary browser from an ordinary address human", () => {
    expect(labelRequest({ userAgent: CHROME, ip: READER_IP })).toBe("human");
    expect(labelRequest({ userAgent: CHROME, ip: "2001:db8::1" })).toBe("human");
    expect(labelRequest({ userAgent: CHROME, ip: undefined })).toBe("human");
  });
});

describe("ipPrefix", () => {
  it("keeps the /24 of IPv4 and the /48 of IPv6, nothing of junk", () => {
    expect(ipPrefix("198.51.100.23")).toBe("198.51.100.0/24");
    expect(ipPrefix("::ffff:198.51.100.23")).toBe("198.51.100.0/24");
    expect(ipPrefix("2001:db8:abcd:12::1")).toBe("2001:db8:abcd::/48");
    expect(ipPrefix("2001:db8::1")).toBe("2001:db8:0::/48");
    expect(ipPrefix("::1")).toBe("0:0:0::/48");
    expect(ipPrefix("fe80::1%eth0")).toBe("fe80:0:0::/48");
    expect(ipPrefix("not an ip")).toBeUndefined();
    expect(ipPrefix(undefined)).toBeUndefined();
  });
});
