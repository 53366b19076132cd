// marked, off the page's main thread: some bodies within markdown.ts's limits
// still take it seconds (lines of `*a_`), and one synchronous call there
// would freeze the page. Says "ready" once loaded, then answers each body with
// its HTML, unsanitised (the page sanitises it), or null when marked throws.
import { marked } from "marked";

addEventListener("message", (event: MessageEvent<string>) => {
  let html: string | null;
  try {
    html = marked.parse(event.data, { async: false, gfm: true, breaks: true });
  } catch {
    html = null;
  }
  postMessage(html);
});
postMessage("ready");
