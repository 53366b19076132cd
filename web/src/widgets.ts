// Small pieces the board and the issue panel share.
import type { Issue_CloseReason, Issue_Priority } from "../../client/index.js";
import { h } from "./dom.js";
import { CLOSE_REASONS, PRIORITIES } from "./format.js";

export function prioritySelect(selected: Issue_Priority): HTMLSelectElement {
  return h(
    "select",
    null,
    PRIORITIES.map(([value, label]) =>
      h("option", { value: String(value), selected: value === selected }, label),
    ),
  );
}

export function closeReasonSelect(selected: Issue_CloseReason): HTMLSelectElement {
  return h(
    "select",
    null,
    CLOSE_REASONS.map(([value, label]) =>
      h("option", { value: String(value), selected: value === selected }, label),
    ),
  );
}

export function initials(name: string): string {
  const words = name
    .replace(/@.*/, "")
    .split(/[\s._-]+/)
    .filter(Boolean);
  return ((words[0]?.[0] ?? "?") + (words[1]?.[0] ?? "")).toUpperCase();
}

export function debounce(run: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
}
