// Issue bodies and comments are Markdown written by anyone with write access,
// so what it renders to is sanitised: no script, no event handlers, no
// remote images (they would tell a third party who reads what, and when),
// links that give the page they open no handle on this one, and nothing that
// could pass for the app's own UI (its classes, ids, dialogs, forms).
// Rendering must not break or freeze the page either: marked runs in a
// worker, and bodies it cannot render quickly, or at all, are shown as plain
// text.
import DOMPurify from "dompurify";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer");
    node.setAttribute("target", "_blank");
  }
});

/** `type` and `checked` are for a task list's checkboxes (see inertCheckboxes), on no other element. */
const INPUT_ATTR = new Set(["type", "checked"]);
DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
  if (INPUT_ATTR.has(data.attrName) && node.tagName !== "INPUT") data.keepAttr = false;
});

/**
 * What Markdown renders to, and the plain HTML people write in it. Anything
 * else (class, id, style, data-*, aria-*, dialog, popover, forms, media, SVG,
 * MathML, inputs but a task list's checkboxes) goes: it would draw fake toasts and buttons with the app's CSS,
 * steal focus or keys, or load something from elsewhere.
 */
const ALLOWED_TAGS = [
  ...["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"],
  ...["ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td"],
  ...["a", "img", "em", "strong", "del", "s", "ins", "b", "i", "u", "sub", "sup"],
  ...["kbd", "mark", "small", "abbr", "q", "cite", "var", "samp", "span", "div"],
  ...["details", "summary", "input"],
];
const ALLOWED_ATTR = [
  ...["href", "title", "src", "alt", "start", "align", "colspan", "rowspan", "open"],
  ...INPUT_ATTR,
];

/**
 * Past these marked is slow or overflows its stack. It is quadratic on some
 * long lines (`<a b="` and 65,000 spaces: 4.7 s in Node on 2 cores) and on
 * some runs of short ones (16,000 pairs of `a` and `-` lines: 2 s), and 2,001
 * nested quotes (`>>>…`) or lists (`- - …`) overflow it. Within these bounds
 * some still take seconds (four lines of 1,666 `*a_`: 5 s), hence the worker
 * and its deadline. The API takes bodies of up to 65,536 characters: the
 * longest are shown as plain text.
 */
const MAX_MARKDOWN_CHARS = 20_000;
const MAX_LINE_CHARS = 5_000;
const MAX_NESTING = 32;

/** The quotes and list items a line opens: `> > - 1. text` opens four. */
const CONTAINERS = /^(?:[ \t]*(?:>|[-+*][ \t]|\d{1,9}[.)][ \t]))+/;

/** Why `text` is not rendered as Markdown, or undefined when it can be. */
function tooHard(text: string): string | undefined {
  if (text.length > MAX_MARKDOWN_CHARS) return "it is too long to format";
  for (const line of text.split("\n")) {
    if (line.length > MAX_LINE_CHARS) return "it has a line too long to format";
    const opened = CONTAINERS.exec(line)?.[0].replace(/[^>\-+*.)]/g, "").length ?? 0;
    if (opened > MAX_NESTING) return "it nests too deeply to format";
  }
  return undefined;
}

/** Same-origin and inline (`data:image/…`) images load; others do not. */
function loadsImage(src: string): boolean {
  if (/^data:image\//i.test(src)) return true;
  try {
    return new URL(src, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

/**
 * How long marked may spend on one body. Past it the worker is stopped, which
 * is the only way to interrupt marked, and the body shown as plain text; the
 * longest bodies people write take marked a few hundred ms on a loaded machine.
 */
export const DEADLINE_MS = 1_000;

/** A worker, once it has loaded: a body's deadline counts marked's time, not the worker's start. */
let worker: Promise<Worker> | undefined;
/** One loaded beside it, to take over at once from one stopped at its deadline. */
let spare: Promise<Worker> | undefined;
/** The last body sent to the worker: one at a time, so each deadline counts only its own body. */
let last: Promise<unknown> = Promise.resolve();

function startWorker(): Promise<Worker> {
  const started = new Worker(new URL("./markdown-worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    started.onmessage = () => resolve(started);
    started.onerror = () => {
      started.terminate();
      reject(new Error("the Markdown worker did not start"));
    };
  });
}

/** marked's HTML for `text`, from the worker, or why there is none. */
function parse(text: string, deadlineMs: number): Promise<{ html: string } | { reason: string }> {
  const parsed = last.then(async (): Promise<{ html: string } | { reason: string }> => {
    worker ??= startWorker();
    const loading = worker;
    const current = await loading.catch(() => undefined);
    if (!current) {
      if (worker === loading) worker = undefined;
      return { reason: "it could not be formatted" };
    }
    return new Promise((resolve) => {
      const stop = (reason: string) => {
        current.terminate();
        // The spare takes over, and a fresh spare loads while the next body is formatted.
        if (worker === loading) {
          worker = spare ?? startWorker();
          spare = startWorker();
        }
        resolve({ reason });
      };
      const timer = setTimeout(() => stop("it takes too long to format"), deadlineMs);
      current.onerror = () => {
        clearTimeout(timer);
        stop("it could not be formatted");
      };
      current.onmessage = (event: MessageEvent<string | null>) => {
        clearTimeout(timer);
        resolve(event.data === null ? { reason: "it could not be formatted" } : { html: event.data });
      };
      current.postMessage(text);
    });
  });
  last = parsed;
  return parsed;
}

/** `text` as sanitised HTML, or as plain text (saying why) if marked takes over `deadlineMs` or fails. */
export async function renderMarkdown(text: string, deadlineMs = DEADLINE_MS): Promise<DocumentFragment> {
  const reason = tooHard(text);
  if (reason) return plainText(text, reason);
  const parsed = await parse(text, deadlineMs);
  if ("reason" in parsed) return plainText(text, parsed.reason);
  const fragment = DOMPurify.sanitize(parsed.html, {
    RETURN_DOM_FRAGMENT: true,
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
  });
  for (const image of fragment.querySelectorAll("img")) {
    const src = image.getAttribute("src") ?? "";
    if (loadsImage(src)) continue;
    // A link the reader may follow instead, saying what it is.
    const link = document.createElement("a");
    link.href = src;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.className = "blocked-image";
    link.textContent = `Image not loaded: ${image.getAttribute("alt") || src}`;
    image.replaceWith(link);
  }
  inertCheckboxes(fragment);
  return fragment;
}

/**
 * A task list (`- [x] done`) renders to checkboxes: each input becomes a
 * fresh disabled checkbox that keeps only whether it is checked, so no other
 * input type, name, value or form reaches the page; anything but a checkbox goes.
 */
function inertCheckboxes(fragment: DocumentFragment) {
  for (const input of fragment.querySelectorAll("input")) {
    if (input.getAttribute("type")?.toLowerCase() !== "checkbox") {
      input.remove();
      continue;
    }
    const box = document.createElement("input");
    box.type = "checkbox";
    box.disabled = true;
    box.toggleAttribute("checked", input.hasAttribute("checked"));
    input.replaceWith(box);
  }
}

/** The text as it is, escaped, with a note saying why. */
export function plainText(text: string, reason: string): DocumentFragment {
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `Shown as plain text: ${reason}.`;
  const body = document.createElement("pre");
  body.className = "plain-text";
  body.textContent = text;
  const fragment = document.createDocumentFragment();
  fragment.append(note, body);
  return fragment;
}
