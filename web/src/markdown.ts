// Issue bodies and comments are Markdown written by anyone with write access,
// so what it renders to is sanitised: no script, no event handlers, no
// remote images (they would tell a third party who reads what, and when),
// and links that give the page they open no handle on this one.
import DOMPurify from "dompurify";
import { marked } from "marked";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer");
    node.setAttribute("target", "_blank");
  }
});

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
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
    FORBID_ATTR: ["style"],
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
