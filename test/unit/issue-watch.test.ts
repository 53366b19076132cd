import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { singleFlight, WatchStreamCap } from "../../src/domain/issue-events/issue-watch.js";

// The rules WatchIssues streams share, without a server.

describe("WatchStreamCap", () => {
  it("refuses a user's stream over the limit with TOO_MANY_STREAMS, naming the limit", () => {
    const cap = new WatchStreamCap(2);
    cap.take("alice");
    cap.take("alice");
    let refused: unknown;
    try {
      cap.take("alice");
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({
      code: "resource_exhausted",
      reason: "TOO_MANY_STREAMS",
      message: "you already have 2 WatchIssues streams open; close one first",
      metadata: { limit: "2" },
    });
  });

  it("counts each user on their own", () => {
    const cap = new WatchStreamCap(1);
    cap.take("alice");
    expect(() => cap.take("bob")).not.toThrow();
    expect(() => cap.take("alice")).toThrow(DomainError);
  });

  it("frees a stream given back, and only that one", () => {
    const cap = new WatchStreamCap(2);
    const release = cap.take("alice");
    cap.take("alice");
    release();
    expect(() => cap.take("alice")).not.toThrow();
    expect(() => cap.take("alice")).toThrow(DomainError);
  });
});

describe("singleFlight", () => {
  /** A run that settles when told to, counting its calls. */
  function deferredRuns() {
    const settle: Array<(value: number) => void> = [];
    let calls = 0;
    const run = () => {
      calls++;
      return new Promise<number>((resolve) => settle.push(resolve));
    };
    return { run, settle, calls: () => calls };
  }

  it("answers callers of the same key in flight with one run", async () => {
    const shared = singleFlight<number>();
    const { run, settle, calls } = deferredRuns();
    const first = shared("a", run);
    const second = shared("a", run);
    expect(calls()).toBe(1);
    settle[0]?.(7);
    expect(await Promise.all([first, second])).toEqual([7, 7]);
  });

  it("runs other keys on their own", () => {
    const shared = singleFlight<number>();
    const { run, calls } = deferredRuns();
    shared("a", run);
    shared("b", run);
    expect(calls()).toBe(2);
  });

  it("forgets an answer once it settles, also a failure", async () => {
    const shared = singleFlight<number>();
    await expect(shared("a", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await shared("a", async () => 1)).toBe(1);
    expect(await shared("a", async () => 2)).toBe(2);
  });
});
