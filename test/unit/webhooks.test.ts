import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../src/domain/webhooks/delivery-worker.js";
import { signatureHeaders } from "../../src/domain/webhooks/webhook-signature.js";
import { parseCidr, targetPolicy } from "../../src/domain/webhooks/webhook-targets.js";

describe("where webhooks may send", () => {
  const policy = targetPolicy([]);

  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["::1", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["10.0.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["fd12:3456::1", "unique local"],
    ["169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["64:ff9b::a00:1", "NAT64"],
    ["100.64.0.1", "carrier NAT"],
    ["255.255.255.255", "reserved"],
  ])("refuses %s (%s)", (address, kind) => {
    expect(policy.refusal(address)).toContain(kind);
  });

  it.each(["1.1.1.1", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "93.184.215.14"])(
    "allows the public address %s",
    (address) => {
      expect(policy.refusal(address)).toBeUndefined();
    },
  );

  it("allows what the operator lists, and only that", () => {
    const allowing = targetPolicy(["127.0.0.1", "10.1.0.0/16", "fd00::/8"]);
    expect(allowing.refusal("127.0.0.1")).toBeUndefined();
    expect(allowing.refusal("127.0.0.2")).toContain("loopback");
    expect(allowing.refusal("10.1.200.3")).toBeUndefined();
    expect(allowing.refusal("10.2.0.1")).toContain("private");
    expect(allowing.refusal("fd00::5")).toBeUndefined();
  });

  it.each([
    ["127.0.0.1", { address: "127.0.0.1", prefix: 32, family: "ipv4" }],
    ["10.0.0.0/8", { address: "10.0.0.0", prefix: 8, family: "ipv4" }],
    ["::1/128", { address: "::1", prefix: 128, family: "ipv6" }],
    ["10.0.0.0/33", undefined],
    ["localhost", undefined],
    ["10.0.0.0/8/8", undefined],
    ["10.0.0.0/x", undefined],
  ])("parses the allow-list entry %s", (entry, parsed) => {
    expect(parseCidr(entry)).toEqual(parsed);
  });

  it("refuses, in the lookup, a name that resolves to loopback", async () => {
    const error = await new Promise<Error | null>((resolve) =>
      policy.lookup("localhost", { all: true }, (failure) => resolve(failure)),
    );
    expect(error?.message).toMatch(/^localhost resolves to .* loopback address/);
  });
});

describe("retries", () => {
  it("wait up to twice as long after each failure, never more than the bound", () => {
    const settings = { retryBaseMs: 1000, retryMaxMs: 10_000 };
    for (let attempt = 1; attempt <= 12; attempt++) {
      const bound = Math.min(10_000, 1000 * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i++) {
        const delay = retryDelayMs(attempt, settings);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(bound);
      }
    }
  });

  it("are spread (full jitter), not all at the bound", () => {
    const delays = Array.from({ length: 200 }, () =>
      retryDelayMs(5, { retryBaseMs: 1000, retryMaxMs: 60_000 }),
    );
    expect(new Set(delays).size).toBeGreaterThan(100);
    expect(Math.min(...delays)).toBeLessThan(8000);
  });
});

describe("signatures", () => {
  it("sign the timestamp and the body, and the body alone", () => {
    const body = Buffer.from('{"event":{}}');
    const headers = signatureHeaders("s3cret", body, 1_700_000_000);
    const hmac = (data: string) => createHmac("sha256", "s3cret").update(data).digest("hex");
    expect(headers).toEqual({
      "x-tracker-timestamp": "1700000000",
      "x-tracker-signature-256-timestamped": `sha256=${hmac('1700000000.{"event":{}}')}`,
      "x-tracker-signature-256": `sha256=${hmac('{"event":{}}')}`,
    });
  });
});
