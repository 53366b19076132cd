import { describe, expect, it } from "vitest";
import { singleFlight } from "../../src/domain/issue-events/issue-watch.js";

// The rules WatchIssues streams share, without a server. (The per-user
// stream cap counts leases in PostgreSQL: test/limits.test.ts and
// test/cluster-limits.test.ts.)

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
