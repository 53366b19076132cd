import { describe, expect, it } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  Issue_State as State,
} from "../../gen/proto/tracker/v1/issue_pb.js";
import { DomainError } from "../../src/domain/errors.js";
import { issueDeleted, nextStateOf } from "../../src/domain/issues/issue-rules.js";

// The contract's rules for an issue's state, without a server.

const open = { state: "open", close_reason: null, close_time: null } as const;
const closed = { state: "closed", close_reason: "completed", close_time: "2026-01-01 00:00:00+00" } as const;

/** The reason of the DomainError `run` throws. */
function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error.reason;
    throw error;
  }
  throw new Error("did not throw");
}

describe("nextStateOf", () => {
  it("keeps the state when none is asked for", () => {
    expect(nextStateOf(open, {})).toEqual({ state: "open", close_reason: null, closing: false });
    expect(nextStateOf(open, { state: State.UNSPECIFIED })).toEqual({
      state: "open",
      close_reason: null,
      closing: false,
    });
  });

  it("closes with a reason, and says it is closing only when it was not closed", () => {
    const request = { state: State.CLOSED, closeReason: CloseReason.DUPLICATE };
    expect(nextStateOf(open, request)).toEqual({ state: "closed", close_reason: "duplicate", closing: true });
    expect(nextStateOf(closed, request)).toEqual({
      state: "closed",
      close_reason: "duplicate",
      closing: false,
    });
  });

  it("keeps a closed issue's reason when only other fields change", () => {
    expect(nextStateOf(closed, {})).toEqual({ state: "closed", close_reason: "completed", closing: false });
  });

  it("refuses CLOSED without a reason", () => {
    expect(reasonOf(() => nextStateOf(open, { state: State.CLOSED }))).toBe("CLOSE_REASON_REQUIRED");
    expect(
      reasonOf(() => nextStateOf(closed, { state: State.CLOSED, closeReason: CloseReason.UNSPECIFIED })),
    ).toBe("CLOSE_REASON_REQUIRED");
  });

  it("refuses a reason for any other state, and drops the old one on reopening", () => {
    expect(
      reasonOf(() => nextStateOf(open, { state: State.IN_PROGRESS, closeReason: CloseReason.COMPLETED })),
    ).toBe("CLOSE_REASON_NOT_ALLOWED");
    expect(nextStateOf(closed, { state: State.OPEN })).toEqual({
      state: "open",
      close_reason: null,
      closing: false,
    });
  });

  it("refuses a state the contract does not know, naming the field", () => {
    let error: unknown;
    try {
      nextStateOf(open, { state: 99 as State });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("invalid_argument");
    expect((error as DomainError).fieldViolations).toEqual([
      { field: "issue.state", description: "is not a known state", reason: "INVALID_ARGUMENT" },
    ]);
  });
});

describe("issueDeleted", () => {
  it("names the resource and which way the change needs it", () => {
    const deleted = issueDeleted("projects/CORE/issues/7", true);
    expect([deleted.code, deleted.reason, deleted.metadata]).toEqual([
      "failed_precondition",
      "ISSUE_DELETED",
      { resource: "projects/CORE/issues/7" },
    ]);
    expect(issueDeleted("projects/CORE/issues/7", false).reason).toBe("ISSUE_NOT_DELETED");
  });
});
