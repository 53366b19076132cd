// Who is signed in and how to speak to the API: kept in localStorage so a
// reload keeps the session. The API is always this page's own origin (the API
// server serves the app; `npm run web` proxies to it), never an address taken
// from a link or a setting: whoever chose it would get every call's token.
import {
  createTrackerClients,
  createTrackerTransport,
  type TrackerClients,
  type TrackerProtocol,
} from "../../client/index.js";

const KEYS = {
  token: "tracker.token",
  protocol: "tracker.protocol",
  project: "tracker.project",
} as const;

/** The API server's development sign-in (src/server/dev-sign-in.ts), when it offers one. */
const DEV_SIGN_IN = "/dev/sign-in";

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

export class Session {
  token = read(KEYS.token) ?? "";
  protocol: TrackerProtocol = read(KEYS.protocol) === "grpc-web" ? "grpc-web" : "connect";
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
      return (await fetch(DEV_SIGN_IN)).ok;
    } catch {
      return false;
    }
  }

  /** Signs in as `identity` through the API's development sign-in; throws with its reason. */
  async devSignIn(identity: { subject: string; email?: string; displayName?: string }) {
    const answer = await fetch(DEV_SIGN_IN, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(identity),
    });
    const body = (await answer.json().catch(() => ({}))) as { token?: unknown; error?: unknown };
    if (!answer.ok || typeof body.token !== "string")
      throw new Error(typeof body.error === "string" ? body.error : `sign-in failed (HTTP ${answer.status})`);
    this.signIn(body.token);
  }

  signOut() {
    // Only our own token: another tab may have signed in with a new one since.
    if (read(KEYS.token) === this.token) write(KEYS.token, undefined);
    this.token = "";
  }

  /**
   * Calls `changed` when another tab of this browser signs out, or in with
   * another token: this tab must not go on with the one it has.
   */
  onSignInElsewhere(changed: () => void) {
    window.addEventListener("storage", (event) => {
      // A null key: the other tab cleared all of storage.
      if (event.key !== KEYS.token && event.key !== null) return;
      if ((read(KEYS.token) ?? "") !== this.token) changed();
    });
  }

  setProtocol(protocol: TrackerProtocol) {
    this.protocol = protocol;
    write(KEYS.protocol, protocol);
    this.clients = this.connect();
  }

  private connect(): TrackerClients {
    return createTrackerClients(
      createTrackerTransport({
        baseUrl: window.location.origin,
        protocol: this.protocol,
        token: () => this.token,
      }),
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
