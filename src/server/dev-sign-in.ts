// Development sign-in (AUTH_MODE=dev only), so a person can use the board
// with `npm start` and no terminal: POST /dev/sign-in with
// {"subject": "alice", "email"?: "...", "displayName"?: "..."} answers
// {"token": "..."}, a token of the development key, minted as `npm run token`
// mints it (auth/dev-issuer.ts). GET answers 200, so the page knows to offer
// it. With AUTH_MODE=oidc both are 404: the endpoint does not exist.
//
// Anyone who can reach this endpoint can be anyone, so it answers this
// machine only:
// - the socket's peer must be loopback (127.0.0.0/8, ::1). A reverse proxy
//   on this machine would make every client loopback, hence also:
// - the Host must be a loopback name (localhost, 127.x.x.x, [::1]), which a
//   proxy for others does not send and a DNS-rebinding page cannot fake;
// - a browser's Origin, when sent, must be a loopback origin too. Every other
//   path of this server lets any origin call it (CORS), which is safe for
//   bearer tokens but not here: a web page the developer visits runs on a
//   loopback peer as well.
// - the body must be `Content-Type: application/json`, which no HTML form can
//   send, and a cross-origin fetch can only send after a preflight that the
//   Origin rule above refuses (and no answer here carries CORS headers). At
//   most MAX_BODY_BYTES.
import type http from "node:http";
import type http2 from "node:http2";
import { isHandle } from "../domain/users/handles.js";
import { writeHead } from "./write-head.js";

export const DEV_SIGN_IN_PATH = "/dev/sign-in";

/** Mints a development token for these claims (app.ts: mintDevToken with DATA_DIR). */
export type MintDevToken = (claims: {
  sub: string;
  email?: string;
  name?: string;
  preferredUsername?: string;
}) => Promise<string>;

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const MAX_BODY_BYTES = 4 * 1024;
const LOOPBACK_ADDRESS = /^(127\.|::ffff:127\.)\d{1,3}\.\d{1,3}\.\d{1,3}$|^::1$/;
const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
// Control characters have no place in a name shown on the board.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A handler that answers DEV_SIGN_IN_PATH and returns true, or returns
 * false for any other path. `mint` is undefined outside AUTH_MODE=dev.
 */
export function serveDevSignIn(
  mint: MintDevToken | undefined,
): (req: Request, res: Response) => Promise<boolean> {
  return async (req, res) => {
    if ((req.url ?? "").split("?")[0] !== DEV_SIGN_IN_PATH) return false;
    if (!mint) {
      answer(res, 404, { error: "no development sign-in: the server is not in AUTH_MODE=dev" });
      return true;
    }
    const refusal = notFromThisMachine(req);
    if (refusal) {
      answer(res, 403, { error: refusal });
      return true;
    }
    // No CORS headers: the board calls its own origin (`npm run web` proxies), so
    // no script of another origin, loopback or not, may read a minted token.
    if (req.method === "GET" || req.method === "HEAD") {
      answer(res, 200, { signIn: "POST a JSON body with subject, and optionally email and displayName" });
    } else if (req.method === "POST") {
      await signIn(req, res, mint);
    } else {
      res.setHeader("Allow", "GET, POST");
      answer(res, 405, { error: "use POST to sign in" });
    }
    return true;
  };
}

/** Why this request is not from a person on this machine, or undefined when it is. */
function notFromThisMachine(req: Request): string | undefined {
  if (!LOOPBACK_ADDRESS.test(req.socket.remoteAddress ?? ""))
    return "development sign-in answers only this machine (a loopback address)";
  const host = req.headers.host ?? req.headers[":authority"];
  if (typeof host !== "string" || !LOOPBACK_HOST.test(host))
    return "development sign-in answers only requests for localhost, 127.0.0.1 or [::1]";
  const origin = req.headers.origin;
  if (origin !== undefined && !LOOPBACK_ORIGIN.test(origin))
    return "development sign-in answers only pages served from this machine (localhost, 127.0.0.1 or [::1])";
  return undefined;
}

async function signIn(req: Request, res: Response, mint: MintDevToken) {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    answer(res, 415, { error: "send the sign-in as Content-Type: application/json" });
    return;
  }
  const tooLarge = () =>
    // The rest of the body is left unread: over HTTP/1.1 the connection ends with the answer.
    answer(
      res,
      413,
      { error: `the sign-in body may be at most ${MAX_BODY_BYTES} bytes` },
      req.httpVersionMajor === 1 ? { connection: "close" } : {},
    );
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return tooLarge();
  if (req.httpVersionMajor === 1 && /100-continue/i.test(req.headers.expect ?? "")) res.writeContinue();
  const body = await readAtMost(req, MAX_BODY_BYTES);
  if (body === undefined) return tooLarge();
  const parsed = parseSignIn(body);
  if ("error" in parsed) {
    answer(res, 400, parsed);
    return;
  }
  const { subject, email, displayName } = parsed;
  // The subject is a handle, and becomes the new user's (preferred_username).
  const token = await mint({ sub: subject, email, name: displayName, preferredUsername: subject });
  answer(res, 200, { token });
}

type SignIn = { subject: string; email?: string; displayName?: string };

/** The sign-in's fields, or what is wrong with them. */
function parseSignIn(body: Buffer): SignIn | { error: string; field?: string } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return { error: "the body is not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return { error: 'the body must be a JSON object like {"subject": "alice"}' };
  const fields = json as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !["subject", "email", "displayName"].includes(key));
  if (unknown) return { error: `unknown field ${JSON.stringify(unknown)}`, field: unknown };
  const { subject, email, displayName } = fields;
  if (typeof subject !== "string" || !isHandle(subject))
    return {
      error:
        "subject: a handle like alice or ada-lovelace: 1 to 39 lower-case letters, digits and single hyphens, " +
        "starting and ending with a letter or digit (me, admin, root, system and tracker are reserved)",
      field: "subject",
    };
  if (email !== undefined && email !== "" && (typeof email !== "string" || !EMAIL.test(email)))
    return { error: "email: an e-mail address like alice@example.com, or none", field: "email" };
  if (
    displayName !== undefined &&
    (typeof displayName !== "string" || displayName.length > 200 || CONTROL.test(displayName))
  )
    return {
      error: "displayName: at most 200 characters, none of them control characters",
      field: "displayName",
    };
  return {
    subject,
    ...(email && { email: email as string }),
    ...(typeof displayName === "string" && displayName.trim() && { displayName: displayName.trim() }),
  };
}

/** The whole body, or undefined (and the rest left unread) once it passes `limit` bytes. */
function readAtMost(req: Request, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answer(res: Response, status: number, body: object, headers: http.OutgoingHttpHeaders = {}) {
  // A token, or whether one can be had: never cached.
  writeHead(res, status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}
