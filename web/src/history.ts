// An issue's history (ListIssueEvents) as a timeline: who did what, when.
import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { type FieldChange, type IssueEvent, IssueEvent_Kind, type Label } from "../../client/index.js";
import { h } from "./dom.js";
import { when } from "./format.js";
import { issueKeyOf } from "./names.js";

const FIELD_NAMES: Record<string, string> = {
  title: "title",
  body: "description",
  state: "state",
  close_reason: "close reason",
  priority: "priority",
  assignee: "assignee",
  labels: "labels",
  parent: "parent issue",
  duplicate_of: "duplicate of",
};

/** Fields whose values are issue names, shown by key. */
const ISSUE_FIELDS = new Set(["parent", "duplicate_of"]);

/**
 * Where an issue stands among its parent's sub-issues is a number that means
 * nothing read alone: a move under a parent says so already, a reorder only that it happened.
 */
const UNTOLD_FIELDS = new Set(["sub_issue_order"]);

const KIND_TEXT: Partial<Record<IssueEvent_Kind, string>> = {
  [IssueEvent_Kind.ISSUE_CREATED]: "opened the issue",
  [IssueEvent_Kind.ISSUE_DELETED]: "deleted the issue",
  [IssueEvent_Kind.ISSUE_UNDELETED]: "restored the issue",
  [IssueEvent_Kind.COMMENT_CREATED]: "commented",
  [IssueEvent_Kind.COMMENT_UPDATED]: "edited a comment",
  [IssueEvent_Kind.COMMENT_DELETED]: "deleted a comment",
  [IssueEvent_Kind.RELATION_CREATED]: "linked an issue",
  [IssueEvent_Kind.RELATION_DELETED]: "unlinked an issue",
};

export interface HistoryContext {
  labels: Label[];
  userSpan(name: string): HTMLSpanElement;
}

export function historyList(events: IssueEvent[], context: HistoryContext): HTMLOListElement {
  return h(
    "ol",
    { class: "timeline", "data-testid": "history", "aria-label": "History" },
    events.length === 0 && h("li", { class: "muted small" }, "No history yet."),
    events.map((event) => {
      const at = when(event.createTime);
      const told =
        event.kind === IssueEvent_Kind.ISSUE_UPDATED
          ? event.changes.filter((change) => !UNTOLD_FIELDS.has(change.field))
          : [];
      const changes = told.map((change) => h("li", null, describeChange(change, context)));
      const reordered =
        event.kind === IssueEvent_Kind.ISSUE_UPDATED && event.changes.length > 0 && !told.length;
      return h(
        "li",
        { class: "timeline-item", "data-testid": "history-event" },
        h(
          "div",
          null,
          event.actor ? context.userSpan(event.actor) : h("span", null, "Someone"),
          " ",
          changes.length
            ? "changed"
            : reordered
              ? "reordered it among the sub-issues"
              : (KIND_TEXT[event.kind] ?? "changed the issue"),
          h("time", { class: "muted small", title: at.title }, ` ${at.text}`),
        ),
        changes.length > 0 && h("ul", { class: "timeline-changes" }, changes),
      );
    }),
  );
}

function describeChange(change: FieldChange, context: HistoryContext): Array<Node | string> {
  const field = FIELD_NAMES[change.field] ?? change.field.replaceAll("_", " ");
  // A description's text is long: that it changed is the news.
  if (change.field === "body") return ["the description"];
  const before = change.oldValue ? toJson(ValueSchema, change.oldValue) : null;
  const after = change.newValue ? toJson(ValueSchema, change.newValue) : null;
  return [
    `${field} from `,
    valueNode(change.field, before, context),
    " to ",
    valueNode(change.field, after, context),
  ];
}

function valueNode(field: string, value: JsonValue, context: HistoryContext): Node {
  if (value === null || value === "" || (Array.isArray(value) && value.length === 0))
    return h("em", null, "none");
  if (field === "assignee" && typeof value === "string") return context.userSpan(value);
  if (field === "labels" && Array.isArray(value))
    return h("strong", null, value.map((name) => labelText(String(name), context)).join(", "));
  if (ISSUE_FIELDS.has(field) && typeof value === "string") return h("strong", null, issueKeyOf(value));
  if (typeof value === "string" && /^(STATE|PRIORITY|CLOSE_REASON)_/.test(value))
    return h("strong", null, enumWords(value));
  return h("strong", null, typeof value === "string" ? value : JSON.stringify(value));
}

/** A label by its name now; one deleted since by its id (`docs`), never its resource name. */
function labelText(name: string, context: HistoryContext): string {
  return (
    context.labels.find((label) => label.name === name)?.displayName ?? name.slice(name.lastIndexOf("/") + 1)
  );
}

/** `STATE_IN_PROGRESS` is "In progress". */
function enumWords(value: string): string {
  const words = value
    .replace(/^(STATE|PRIORITY|CLOSE_REASON)_/, "")
    .toLowerCase()
    .replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
