import type { CloseReason as DbCloseReason, IssueState } from "../../../gen/db.js";
import {
  Issue_CloseReason as CloseReason,
  Issue_State as State,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import { failedPrecondition, invalidArgument } from "../errors.js";
import { issueNumberOf, projectKeyOf } from "../shared/names.js";
import { dbCloseReason, dbState } from "./issue-mapping.js";

/**
 * The state an issue ends up in, with the rules of the contract: CLOSED needs
 * a close reason and keeps (or sets) its close time; any other state carries
 * neither.
 */
export function nextStateOf(
  current: { state: IssueState; close_reason: DbCloseReason | null; close_time: string | null },
  requested: { state?: State; closeReason?: CloseReason },
): { state: IssueState; close_reason: DbCloseReason | null; closing: boolean } {
  const state =
    requested.state === undefined || requested.state === State.UNSPECIFIED
      ? current.state
      : dbState(requested.state);
  if (state === undefined) throw invalidArgument("issue.state", "is not a known state");
  const reason =
    requested.closeReason === undefined ? current.close_reason : dbCloseReason(requested.closeReason);
  if (state === "closed") {
    if (reason === null) {
      throw invalidArgument(
        "issue.close_reason",
        "is required when the state is STATE_CLOSED",
        "CLOSE_REASON_REQUIRED",
      );
    }
    return { state, close_reason: reason, closing: current.state !== "closed" };
  }
  if (requested.closeReason !== undefined && requested.closeReason !== CloseReason.UNSPECIFIED) {
    throw invalidArgument(
      "issue.close_reason",
      "is only allowed when the state is STATE_CLOSED",
      "CLOSE_REASON_NOT_ALLOWED",
    );
  }
  return { state, close_reason: null, closing: false };
}

/** The issue is deleted (`deleted`) or not, and the change needs the other. */
export const issueDeleted = (name: string, deleted: boolean) =>
  failedPrecondition(
    deleted ? "ISSUE_DELETED" : "ISSUE_NOT_DELETED",
    deleted ? `${name} is deleted; undelete it first` : `${name} is not deleted`,
    name,
  );

/** The numbers of the issues `names`, each of which must be of the project `parent` (key `projectKey`). */
export function issueNumbersIn(projectKey: string, parent: string, names: string[]): string[] {
  return names.map((name, index) => {
    if (projectKeyOf(name) !== projectKey) {
      throw invalidArgument(`names[${index}]`, `is not an issue of ${parent}`, "ISSUE_OF_OTHER_PROJECT");
    }
    return issueNumberOf(name);
  });
}
