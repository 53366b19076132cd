import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  fieldViolationsOf,
  Issue_CloseReason,
  Issue_Priority,
  Issue_State,
} from "../../client/index.js";

export const STATES: Array<[Issue_State, string]> = [
  [Issue_State.OPEN, "Open"],
  [Issue_State.IN_PROGRESS, "In progress"],
  [Issue_State.CLOSED, "Closed"],
];

export const PRIORITIES: Array<[Issue_Priority, string]> = [
  [Issue_Priority.URGENT, "Urgent"],
  [Issue_Priority.HIGH, "High"],
  [Issue_Priority.MEDIUM, "Medium"],
  [Issue_Priority.LOW, "Low"],
  [Issue_Priority.NONE, "No priority"],
];

export const CLOSE_REASONS: Array<[Issue_CloseReason, string]> = [
  [Issue_CloseReason.COMPLETED, "Completed"],
  [Issue_CloseReason.NOT_PLANNED, "Not planned"],
  [Issue_CloseReason.DUPLICATE, "Duplicate"],
];

export function stateLabel(state: Issue_State): string {
  return STATES.find(([value]) => value === state)?.[1] ?? "Open";
}

export function priorityLabel(priority: Issue_Priority): string {
  return PRIORITIES.find(([value]) => value === priority)?.[1] ?? "No priority";
}

export function closeReasonLabel(reason: Issue_CloseReason): string {
  return CLOSE_REASONS.find(([value]) => value === reason)?.[1] ?? "";
}

/** CSS modifier of a state or priority badge, e.g. "in-progress". */
export function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z]+/g, "-");
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** "3 minutes ago", with the exact time for a tooltip. */
export function when(timestamp: Timestamp | undefined): { text: string; title: string } {
  if (!timestamp) return { text: "", title: "" };
  const date = timestampDate(timestamp);
  const seconds = (date.getTime() - Date.now()) / 1000;
  const steps: Array<[Intl.RelativeTimeFormatUnit, number]> = [
    ["second", 60],
    ["minute", 60],
    ["hour", 24],
    ["day", 30],
    ["month", 12],
    ["year", Number.POSITIVE_INFINITY],
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) {
      const text =
        unit === "second" && Math.abs(value) < 45 ? "just now" : relative.format(Math.round(value), unit);
      return { text, title: absolute.format(date) };
    }
    value /= size;
  }
  return { text: absolute.format(date), title: absolute.format(date) };
}

/** A sentence for people about a failed call. */
export function describeError(error: unknown): string {
  const connectError = ConnectError.from(error);
  const violations = fieldViolationsOf(connectError);
  const details = violations.length
    ? `: ${violations.map((violation) => `${violation.field} ${violation.description}`).join("; ")}`
    : "";
  switch (connectError.code) {
    case Code.Unauthenticated:
      return "Your token was not accepted (missing, expired or from another server). Sign in again.";
    case Code.PermissionDenied:
      return `You are not allowed to do that (${connectError.rawMessage}).`;
    case Code.NotFound:
      return `Not found: ${connectError.rawMessage}`;
    case Code.Unavailable:
      return `The server is unavailable (${connectError.rawMessage}). Try again in a moment.`;
    case Code.InvalidArgument:
      return `${connectError.rawMessage}${violations.length && !connectError.rawMessage.includes(":") ? details : ""}`;
    case Code.ResourceExhausted:
      return "Too many requests; slow down a little.";
    default:
      return connectError.rawMessage || `Request failed (${Code[connectError.code]})`;
  }
}
