// Small pieces the board and the issue panel share.
import type { Issue_CloseReason, Issue_Priority, Label } from "../../client/index.js";
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
    .replace(/^@/, "")
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

/** A label as a coloured chip; the text is black or white, whichever reads better on the colour. */
export function labelChip(label: Label): HTMLSpanElement {
  const chip = h(
    "span",
    { class: "label-chip", "data-testid": "label-chip", title: label.description || label.displayName },
    label.displayName,
  );
  // Through the CSSOM, which the page's CSP (style-src 'self') allows, unlike a style attribute.
  const color = label.color || "#6b7280";
  chip.style.setProperty("--label-color", color);
  chip.style.setProperty("--label-text", readableTextOn(color));
  return chip;
}

function readableTextOn(hex: string): string {
  const channel = (offset: number) => {
    const value = Number.parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  // The WCAG contrast with black beats the one with white above about 0.179.
  return luminance > 0.179 ? "#000000" : "#ffffff";
}

/** A label id from its name: "Needs design" is "needs-design". */
export function labelIdFor(displayName: string): string {
  const id = displayName
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return /^[a-z]/.test(id) ? id : `l-${id}`.slice(0, 63).replace(/-+$/, "");
}
