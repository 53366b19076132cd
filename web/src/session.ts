// Who is signed in, where the API is and how to speak to it: kept in
// localStorage so a reload keeps the session.
import {
  createTrackerClients,
  createTrackerTransport,
  type TrackerClients,
  type TrackerProtocol,
} from "../../client/index.js";

const KEYS = {
  token: "tracker.token",
  protocol: "tracker.protocol",
  api: "tracker.api",
  project: "tracker.project",
} as const;

function read(key: string): string | undefined {
  try {
    return localStorage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

function write(key: string, value: string | undefined) {
  try {
    if (value === undefined || value === "") localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Private mode: the session lasts until the tab closes.
  }
}

/**
 * The API's base URL: `?api=` (remembered), else the last one chosen, else
 * this page's origin (the API server serves the app; `npm run web` proxies).
 */
function initialApi(): string {
  const url = new URL(window.location.href);
  const fromQuery = url.searchParams.get("api");
  if (fromQuery) {
    write(KEYS.api, fromQuery);
    url.searchParams.delete("api");
    window.history.replaceState(null, "", url);
  }
  return read(KEYS.api) ?? window.location.origin;
}

export class Session {
  token = read(KEYS.token) ?? "";
  protocol: TrackerProtocol = read(KEYS.protocol) === "grpc-web" ? "grpc-web" : "connect";
  api = initialApi();
  clients: TrackerClients = this.connect();

  get project(): string | undefined {
    return read(KEYS.project);
  }

  set project(name: string | undefined) {
    write(KEYS.project, name);
  }

  signIn(token: string) {
    this.token = token.trim().replace(/^Bearer\s+/i, "");
    write(KEYS.token, this.token);
  }

  /** Whether the API offers development sign-in (AUTH_MODE=dev, as with `npm start`). */
  async devSignInOffered(): Promise<boolean> {
    try {
      return (await fetch(this.devSignInUrl())).ok;
    } catch {
      return false;
    }
  }

  /** Signs in as `identity` through the API's development sign-in; throws with its reason. */
  async devSignIn(identity: { subject: string; email?: string; displayName?: string }) {
    const answer = await fetch(this.devSignInUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(identity),
    });
    const body = (await answer.json().catch(() => ({}))) as { token?: unknown; error?: unknown };
    if (!answer.ok || typeof body.token !== "string")
      throw new Error(typeof body.error === "string" ? body.error : `sign-in failed (HTTP ${answer.status})`);
    this.signIn(body.token);
  }

  private devSignInUrl(): string {
    return `${this.api.replace(/\/+$/, "")}/dev/sign-in`;
  }

  signOut() {
    this.token = "";
    write(KEYS.token, undefined);
  }

  setProtocol(protocol: TrackerProtocol) {
    this.protocol = protocol;
    write(KEYS.protocol, protocol);
    this.clients = this.connect();
  }

  setApi(api: string) {
    this.api = api.trim() || window.location.origin;
    write(KEYS.api, this.api === window.location.origin ? undefined : this.api);
    this.clients = this.connect();
  }

  private connect(): TrackerClients {
    return createTrackerClients(
      createTrackerTransport({ baseUrl: this.api, protocol: this.protocol, token: () => this.token }),
    );
  }
}

/** The claims of a JWT, unverified: only to show who it was for and when it expires. */
export function tokenClaims(token: string): { sub?: string; exp?: number; email?: string; name?: string } {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as { sub?: string; exp?: number; email?: string; name?: string };
  } catch {
    return {};
  }
}
