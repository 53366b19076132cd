// Issue bodies and comments are Markdown written by anyone with write access,
// so what it renders to is sanitised: no script, no event handlers, no
// remote images (they would tell a third party who reads what, and when),
// links that give the page they open no handle on this one, and nothing that
// could pass for the app's own UI (its classes, ids, dialogs, forms).
import DOMPurify from "dompurify";
import { marked } from "marked";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer");
    node.setAttribute("target", "_blank");
  }
});

/**
 * What Markdown renders to, and the plain HTML people write in it. Anything
 * else (class, id, style, data-*, aria-*, dialog, popover, forms, media, SVG,
 * MathML) goes: it would draw fake toasts and buttons with the app's CSS,
 * steal focus or keys, or load something from elsewhere.
 */
const ALLOWED_TAGS = [
  ...["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"],
  ...["ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td"],
  ...["a", "img", "em", "strong", "del", "s", "ins", "b", "i", "u", "sub", "sup"],
  ...["kbd", "mark", "small", "abbr", "q", "cite", "var", "samp", "span", "div"],
  ...["details", "summary"],
];
const ALLOWED_ATTR = ["href", "title", "src", "alt", "start", "align", "colspan", "rowspan", "open"];

/** Same-origin and inline (`data:image/…`) images load; others do not. */
function loadsImage(src: string): boolean {
  if (/^data:image\//i.test(src)) return true;
  try {
    return new URL(src, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function renderMarkdown(text: string): DocumentFragment {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  const fragment = DOMPurify.sanitize(html, {
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
  return fragment;
}
