// What someone was typing when their session ended (a token expires
// mid-work): the new-issue dialog, the comment box, the edit forms. The board
// goes back to sign-in, so their text is kept in sessionStorage (this tab
// only, gone when it closes) and put back once they are signed in again.
//
// Each field says which draft it belongs to with data-draft (what the text is
// for: `projects/CORE/new-issue`, `projects/CORE/issues/4/comment`, an
// issue's `/edit`, or a comment's name) and data-draft-field (which part).

const STORAGE_KEY = "tracker.drafts";

/** A draft's fields by name: `{ title, body }`. */
export type Draft = Record<string, string>;

function readAll(): Record<string, Draft> {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "{}") as Record<string, Draft>;
  } catch {
    return {};
  }
}

function writeAll(drafts: Record<string, Draft>) {
  try {
    if (Object.keys(drafts).length === 0) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(drafts));
  } catch {
    // Storage refused (full, or private mode): the draft is lost as before.
  }
}

/** Marks `control` as the `name` part of the draft `key`; returns it. */
export function drafted<T extends HTMLElement>(control: T, key: string, name: string): T {
  control.dataset.draft = key;
  control.dataset.draftField = name;
  return control;
}

/** Keeps every draft on the page that has any text typed in it. */
export function keepDrafts() {
  const found: Record<string, Draft> = {};
  const typed = new Set<string>();
  for (const control of document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("[data-draft]")) {
    const key = control.dataset.draft as string;
    found[key] = { ...found[key], [control.dataset.draftField as string]: control.value };
    if (control.type !== "hidden" && control.tagName !== "SELECT" && control.value.trim() !== "")
      typed.add(key);
  }
  const drafts = readAll();
  for (const key of typed) drafts[key] = found[key] as Draft;
  writeAll(drafts);
}

export function hasDraft(key: string): boolean {
  return key in readAll();
}

/** The draft kept for `key`, if any, which is then forgotten. */
export function takeDraft(key: string): Draft | undefined {
  const drafts = readAll();
  const draft = drafts[key];
  if (draft === undefined) return undefined;
  delete drafts[key];
  writeAll(drafts);
  return draft;
}
