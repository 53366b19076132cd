// The issue board: sign in, pick a project, filter and search its issues,
// file, edit, comment on and close them, and see everyone's changes live.
import {
  Code,
  ConnectError,
  errorInfoOf,
  type Issue,
  Issue_Priority,
  Issue_State,
  type IssueEvent,
  type Label,
  type Member,
  Member_Role,
  type Project,
  type TrackerProtocol,
  type User,
} from "../../client/index.js";
import { field, h, mount, uniqueId } from "./dom.js";
import { drafted, hasDraft, keepDrafts, takeDraft } from "./drafts.js";
import { describeError, PRIORITIES, priorityLabel, STATES, slug, stateLabel, when } from "./format.js";
import { newRequestId } from "./ids.js";
import { type Board, IssuePanel, mayWrite, type ProjectData, roleIn } from "./issue-panel.js";
import { personName, projectOf } from "./names.js";
import { Session, tokenClaims } from "./session.js";
import { type WatchStatus, watchProject } from "./watch.js";
import { debounce, initials, labelChip, labelIdFor, prioritySelect } from "./widgets.js";

const ORDERS: Array<[string, string]> = [
  ["number desc", "Newest"],
  ["update_time desc", "Recently updated"],
  ["priority", "Priority"],
  ["number", "Oldest"],
];

/** Anyone, the caller, nobody, or a member by uid (the last part of `users/{uid}`). */
type Assignee = "" | "me" | "none" | (string & {});

/** The list's filters, also kept in the address's query string so a reload or a link keeps them. */
interface Filters {
  states: Set<Issue_State>;
  priority: Issue_Priority;
  query: string;
  orderBy: string;
  /** A label id of the project shown (`bug`), or "". */
  label: string;
  assignee: Assignee;
  /** Every project's issues assigned to the caller instead of one project's. */
  mine: boolean;
}

/** Projects besides the selected one that "My issues" follows live. */
const MAX_OTHER_WATCHES = 3;

const DEFAULT_STATES = [Issue_State.OPEN, Issue_State.IN_PROGRESS];

function filtersFromUrl(): Filters {
  const query = new URLSearchParams(window.location.search);
  const states = (query.get("state") ?? "")
    .split(",")
    .map((wanted) => STATES.find(([, label]) => slug(label) === wanted)?.[0])
    .filter((state) => state !== undefined);
  const priority = PRIORITIES.find(([, label]) => slug(label) === query.get("priority"))?.[0];
  const orderBy = ORDERS.find(([value]) => value === query.get("sort"))?.[0];
  const assignee = query.get("assignee") ?? "";
  return {
    states: new Set(states.length ? states : DEFAULT_STATES),
    priority: priority ?? Issue_Priority.UNSPECIFIED,
    query: (query.get("q") ?? "").slice(0, 200),
    orderBy: orderBy ?? "number desc",
    label: /^[a-z][a-z0-9-]{0,62}$/.test(query.get("label") ?? "") ? (query.get("label") as string) : "",
    assignee: /^(me|none|[0-9a-f][0-9a-f-]{0,63})$/.test(assignee) ? assignee : "",
    mine: query.get("view") === "mine",
  };
}

/** The filters that differ from the defaults, merged into the current query string (which may hold others, e.g. `debug`). */
function writeFiltersToUrl(filters: Filters) {
  const url = new URL(window.location.href);
  const set = (key: string, value: string) => {
    if (value) url.searchParams.set(key, value);
    else url.searchParams.delete(key);
  };
  const states = STATES.filter(([state]) => filters.states.has(state)).map(([, label]) => slug(label));
  const defaultStates = STATES.filter(([state]) => DEFAULT_STATES.includes(state)).map(([, label]) =>
    slug(label),
  );
  set("view", filters.mine ? "mine" : "");
  set("q", filters.query);
  set("state", states.join(",") === defaultStates.join(",") ? "" : states.join(","));
  set("priority", filters.priority ? slug(priorityLabel(filters.priority)) : "");
  set("label", filters.label);
  set("assignee", filters.assignee);
  set("sort", filters.orderBy === "number desc" ? "" : filters.orderBy);
  if (url.href !== window.location.href) window.history.replaceState(null, "", url);
}

export function startApp(root: HTMLElement) {
  new App(root, new Session()).start();
}

/** Messages for people: errors stay until dismissed, the rest fade. */
class Toasts {
  readonly errors = h("div", { class: "toast-stack", role: "alert", "aria-live": "assertive" });
  readonly infos = h("div", { class: "toast-stack", role: "status", "aria-live": "polite" });
  readonly element = h("div", { class: "toasts" }, this.errors, this.infos);

  error(message: string) {
    const toast = h(
      "div",
      { class: "toast toast-error", "data-testid": "error-toast" },
      h("span", null, message),
      h(
        "button",
        { class: "icon-button", type: "button", "aria-label": "Dismiss", onclick: () => toast.remove() },
        "×",
      ),
    );
    this.errors.append(toast);
  }

  info(message: string) {
    const toast = h("div", { class: "toast" }, message);
    this.infos.append(toast);
    // The latest two at most: news, not a log.
    while (this.infos.children.length > 2) this.infos.firstElementChild?.remove();
    setTimeout(() => toast.remove(), 3000);
  }
}

class App implements Board {
  private readonly toasts = new Toasts();
  private me: User | undefined;
  private projects: Project[] = [];
  private issues: Issue[] = [];
  private nextPageToken = "";
  private listSeq = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private flash = new Set<string>();
  private stopWatch: (() => void) | undefined;
  /** "My issues" also follows the caller's other projects (a few: see MAX_OTHER_WATCHES). */
  private readonly otherWatches = new Map<string, () => void>();
  private readonly userNames = new Map<string, Promise<string>>();
  private panel: IssuePanel | undefined;
  private readonly filters = filtersFromUrl();
  /** Each project's labels and members, fetched once (again after a change here). */
  private readonly projectDataCache = new Map<string, Promise<ProjectData>>();
  private readonly knownData = new Map<string, ProjectData>();
  /** The developer's protocol switch shows in the top bar only with `?debug`. */
  private readonly debug = new URLSearchParams(window.location.search).has("debug");

  // The board's parts, built once per sign-in.
  private projectSelect = h("select");
  private liveStatus = h("span");
  private listEl = h("ul");
  private listSummary = h("span");
  private loadMore = h("button");
  private detailEl = h("section");
  private labelFilter = h("select");
  private searchInput = h("input");
  private mineButton = h("button");
  private membersButton = h("button");
  private projectButton = h("button");
  private labelButtons = h("span");
  private newIssueButton = h("button");
  private assigneeFilter = h("select");
  private projectFilters = h("div");

  constructor(
    private readonly root: HTMLElement,
    readonly session: Session,
  ) {
    document.body.append(this.toasts.element);
  }

  get clients() {
    return this.session.clients;
  }

  get currentUserName(): string | undefined {
    return this.me?.name;
  }

  get project(): string | undefined {
    return this.session.project;
  }

  start() {
    window.addEventListener("popstate", () => void this.applyRoute());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.me && this.filters.mine) this.scheduleRefresh();
    });
    document.addEventListener("keydown", (event) => this.onKey(event));
    // Like a token that expired: what this tab was typing is kept.
    this.session.onSignInElsewhere(() => {
      if (this.me)
        this.signOut("You were signed out: this browser signed out or in again in another tab.", true);
    });
    if (this.session.token) void this.enter();
    else this.renderSignIn();
  }

  // ---- Signing in ---------------------------------------------------------

  /**
   * The sign-in page: development sign-in when the API offers it (AUTH_MODE=dev,
   * `npm start`), with one click to sign in again as `previous` (whose token
   * ended); and always a pasted token.
   */
  private renderSignIn(message?: string, showConnection = false, previous?: ReturnType<typeof tokenClaims>) {
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.followOtherProjects(false);
    const token = h("textarea", {
      rows: 5,
      required: true,
      spellcheck: false,
      autocomplete: "off",
      placeholder: "eyJhbGciOiJFUzI1NiIs…",
      value: this.session.token,
    });
    const protocol = this.protocolSelect();
    const error = h("p", { class: "form-error", role: "alert", "data-testid": "signin-error" }, message);
    const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
    const form = h(
      "form",
      {
        "aria-label": "Sign in with a token",
        onsubmit: async (event: Event) => {
          event.preventDefault();
          this.session.signIn(token.value);
          submit.disabled = true;
          submit.textContent = "Signing in…";
          if (!(await this.enter())) {
            submit.disabled = false;
            submit.textContent = "Sign in";
          }
        },
      },
      h(
        "p",
        { class: "muted" },
        "Paste an access token. With ",
        h("code", null, "npm start"),
        ", mint one for yourself:",
      ),
      h("pre", { class: "command" }, "npm run --silent token -- --sub alice --email alice@example.com"),
      field("Access token", token),
      h(
        "details",
        { class: "connection", open: showConnection },
        h("summary", null, "Connection"),
        field("Protocol", protocol),
      ),
      submit,
    );
    const dev = this.devSignInForm(previous);
    mount(
      this.root,
      h(
        "main",
        { class: "signin-page" },
        h(
          "div",
          { class: "card signin" },
          h(
            "div",
            { class: "brand brand-large" },
            h("span", { class: "logo", "aria-hidden": "true" }),
            "tracker",
          ),
          h("h1", null, "Sign in"),
          error,
          dev,
          form,
        ),
      ),
    );
    token.focus();
    void this.session.devSignInOffered().then((offered) => {
      if (!offered || !dev.isConnected) return;
      dev.hidden = false;
      if (document.activeElement === token && token.value === "")
        dev.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    });
  }

  /** Development sign-in as any handle (hidden until the API says it offers it). */
  private devSignInForm(previous: ReturnType<typeof tokenClaims> | undefined): HTMLElement {
    const subject = h("input", {
      required: true,
      maxLength: 39,
      pattern: "[a-z0-9]([a-z0-9]|-[a-z0-9]){0,38}",
      autocomplete: "username",
      autocapitalize: "none",
      spellcheck: false,
      placeholder: "alice",
      value: previous?.sub ?? "",
    });
    const email = h("input", { type: "email", maxLength: 320, autocomplete: "email" });
    const displayName = h("input", { maxLength: 200, autocomplete: "name" });
    const error = h("p", { class: "form-error", role: "alert", "data-testid": "dev-signin-error" });
    const signInAs = async (identity: { subject: string; email?: string; displayName?: string }) => {
      error.textContent = "";
      try {
        await this.session.devSignIn(identity);
      } catch (failure) {
        error.textContent = failure instanceof Error ? failure.message : String(failure);
        return;
      }
      await this.enter();
    };
    const again =
      previous?.sub &&
      h(
        "button",
        {
          type: "button",
          class: "button primary wide",
          "data-autofocus": "",
          onclick: () =>
            void signInAs({
              subject: previous.sub as string,
              email: previous.email,
              displayName: previous.name,
            }),
        },
        `Sign in again as ${previous.sub}`,
      );
    // What to focus once shown: the one click, else the name.
    if (!again) subject.dataset.autofocus = "";
    return h(
      "form",
      {
        class: "dev-signin",
        hidden: true,
        "aria-label": "Sign in for development",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void signInAs({
            subject: subject.value.trim(),
            ...(email.value.trim() && { email: email.value.trim() }),
            ...(displayName.value.trim() && { displayName: displayName.value.trim() }),
          });
        },
      },
      again,
      h(
        "p",
        { class: "muted" },
        "This server is in development mode: sign in as anyone. A name not seen before is a new user.",
      ),
      field("Handle", subject, "Who you are, like alice or ada-lovelace."),
      field("E-mail (optional)", email),
      field("Display name (optional)", displayName),
      error,
      h(
        "button",
        { type: "submit", class: again ? "button wide" : "button primary wide" },
        "Sign in for development",
      ),
    );
  }

  /** Checks the token with GetCurrentUser; on success shows the board. */
  private async enter(): Promise<boolean> {
    try {
      this.me = await this.clients.users.getCurrentUser({});
    } catch (error) {
      const connectError = ConnectError.from(error);
      const previous = tokenClaims(this.session.token);
      if (connectError.code === Code.Unauthenticated) this.session.signOut();
      const unreachable = connectError.code === Code.Unknown || connectError.code === Code.Unavailable;
      this.renderSignIn(
        unreachable
          ? `Could not reach the API at ${window.location.origin} (${connectError.rawMessage}). Is it running?`
          : describeError(connectError),
        unreachable,
        connectError.code === Code.Unauthenticated ? previous : undefined,
      );
      return false;
    }
    this.renderBoard();
    await this.loadProjects();
    // Back where the session ended (loadProjects follows the address): with the dialog that was open.
    if (this.project && hasDraft(`${this.project}/new-issue`)) this.openNewIssue();
    return true;
  }

  /**
   * Back to sign-in. When the session ended by itself (`ended`: the token
   * expired), what was being typed is kept for after signing in again.
   */
  private signOut(message?: string, ended = false) {
    const previous = ended ? tokenClaims(this.session.token) : undefined;
    if (ended) keepDrafts();
    for (const dialog of document.querySelectorAll("dialog")) dialog.close();
    this.session.signOut();
    this.me = undefined;
    this.panel = undefined;
    // Whoever signs in next sees only what they may: nothing of this session's.
    this.projects = [];
    this.issues = [];
    this.userNames.clear();
    this.projectDataCache.clear();
    this.knownData.clear();
    this.renderSignIn(message, false, previous);
  }

  /** Reports a failed call; an expired token goes back to sign-in. */
  fail(error: unknown) {
    const connectError = ConnectError.from(error);
    // A call that ends after sign-out (here or in another tab) has nothing to tell.
    if (connectError.code === Code.Canceled || !this.me) return;
    if (connectError.code === Code.Unauthenticated) {
      // Once (the check above), though every call in flight fails alike.
      this.signOut(
        "Your session ended (the token expired or was not accepted). Sign in again: what you were typing is kept.",
        true,
      );
      return;
    }
    this.toasts.error(describeError(connectError));
  }

  info(message: string) {
    this.toasts.info(message);
  }

  private protocolSelect(): HTMLSelectElement {
    const options: Array<[TrackerProtocol, string]> = [
      ["connect", "Connect"],
      ["grpc-web", "gRPC-Web"],
    ];
    return h(
      "select",
      {
        onchange: (event: Event) => {
          this.session.setProtocol((event.target as HTMLSelectElement).value as TrackerProtocol);
          if (this.me) {
            this.info(`Now speaking ${this.session.protocol === "connect" ? "Connect" : "gRPC-Web"}`);
            this.restartWatch();
            this.followOtherProjects(false);
            this.followOtherProjects(this.filters.mine);
            void this.refreshList();
            void this.panel?.reload();
          }
        },
      },
      options.map(([value, label]) =>
        h("option", { value, selected: value === this.session.protocol }, label),
      ),
    );
  }

  // ---- The board ----------------------------------------------------------

  private renderBoard() {
    const me = this.me as User;
    this.projectSelect = h("select", {
      "data-testid": "project-select",
      onchange: () => {
        // Picking a project leaves "My issues" for that project's list.
        if (this.filters.mine) this.showMine(false);
        void this.selectProject(this.projectSelect.value);
      },
    });
    this.liveStatus = h("span", { class: "live", role: "status", "data-testid": "live-status" }, "Offline");
    const search = h("input", {
      type: "search",
      "aria-keyshortcuts": "/",
      placeholder: "Search title and description…",
      value: this.filters.query,
      oninput: debounce(() => {
        this.filters.query = search.value.trim();
        void this.refreshList();
      }, 250),
    });
    const stateBoxes = STATES.map(([state, label]) =>
      h(
        "label",
        { class: `chip chip-${slug(label)}` },
        h("input", {
          type: "checkbox",
          checked: this.filters.states.has(state),
          onchange: (event: Event) => {
            if ((event.target as HTMLInputElement).checked) this.filters.states.add(state);
            else this.filters.states.delete(state);
            void this.refreshList();
          },
        }),
        h("span", null, label),
      ),
    );
    // What the caller's role allows shows once that is known (showRoleControls).
    this.membersButton = h(
      "button",
      { type: "button", class: "button subtle", hidden: true, onclick: () => this.openMembers() },
      "Members",
    );
    this.projectButton = h(
      "button",
      { type: "button", class: "button subtle", hidden: true, onclick: () => this.openProjectSettings() },
      "Project settings",
    );
    this.labelButtons = h(
      "span",
      { class: "toolbar-buttons", hidden: true },
      h(
        "button",
        { type: "button", class: "button subtle", onclick: () => this.openNewLabel() },
        "New label",
      ),
      h("button", { type: "button", class: "button subtle", onclick: () => this.openLabels() }, "Labels"),
    );
    this.newIssueButton = h(
      "button",
      { type: "button", class: "button primary", hidden: true, onclick: () => this.openNewIssue() },
      h("span", { "aria-hidden": "true" }, "+ "),
      "New issue",
    );
    this.mineButton = h(
      "button",
      {
        type: "button",
        class: "button subtle",
        "aria-pressed": String(this.filters.mine),
        onclick: () => this.showMine(!this.filters.mine),
      },
      "My issues",
    );
    this.labelFilter = h("select", {
      onchange: () => {
        this.filters.label = this.labelFilter.value;
        void this.refreshList();
      },
    });
    // Its members are added once the project's are known (fillProjectFilters).
    this.assigneeFilter = h("select", {
      onchange: () => {
        this.filters.assignee = this.assigneeFilter.value;
        void this.refreshList();
      },
    });
    this.projectFilters = h(
      "div",
      { class: "toolbar-row", hidden: this.filters.mine },
      h("label", { class: "inline-field" }, h("span", { class: "field-label" }, "Label"), this.labelFilter),
      h(
        "label",
        { class: "inline-field" },
        h("span", { class: "field-label" }, "Assignee"),
        this.assigneeFilter,
      ),
      this.labelButtons,
    );
    const priority = h(
      "select",
      {
        onchange: () => {
          this.filters.priority = Number(priority.value) as Issue_Priority;
          void this.refreshList();
        },
      },
      h("option", { value: String(Issue_Priority.UNSPECIFIED) }, "Any priority"),
      PRIORITIES.map(([value, label]) =>
        h("option", { value: String(value), selected: value === this.filters.priority }, label),
      ),
    );
    const order = h(
      "select",
      {
        onchange: () => {
          this.filters.orderBy = order.value;
          void this.refreshList();
        },
      },
      ORDERS.map(([value, label]) => h("option", { value, selected: value === this.filters.orderBy }, label)),
    );
    this.searchInput = search;
    this.listEl = h("ul", { class: "issue-list", "data-testid": "issue-list", "aria-label": "Issues" });
    this.listSummary = h("span", { class: "muted", "data-testid": "issue-count" });
    this.loadMore = h(
      "button",
      {
        type: "button",
        class: "button subtle wide",
        hidden: true,
        onclick: () => void this.refreshList(true),
      },
      "Load more",
    );
    this.detailEl = h("section", {
      class: "detail-pane",
      "aria-label": "Issue details",
      "data-testid": "issue-detail",
    });

    mount(
      this.root,
      h(
        "header",
        { class: "topbar" },
        h(
          "div",
          { class: "brand" },
          h("span", { class: "logo", "aria-hidden": "true" }),
          h("span", { class: "brand-name" }, "tracker"),
        ),
        h(
          "div",
          { class: "project-picker" },
          h(
            "label",
            { class: "inline-field" },
            h("span", { class: "visually-hidden" }, "Project"),
            this.projectSelect,
          ),
          h(
            "button",
            { type: "button", class: "button subtle", onclick: () => this.openNewProject() },
            "New project",
          ),
          this.membersButton,
          this.projectButton,
        ),
        this.mineButton,
        h("div", { class: "spacer" }),
        this.liveStatus,
        this.debug &&
          h(
            "label",
            { class: "inline-field", "data-testid": "debug-protocol" },
            h("span", { class: "field-label" }, "Protocol"),
            this.protocolSelect(),
          ),
        h(
          "div",
          { class: "user", "data-testid": "current-user", title: me.email },
          h("span", { class: "avatar", "aria-hidden": "true" }, initials(me.displayName || me.email)),
          h(
            "span",
            { class: "user-text" },
            h("span", { class: "user-name" }, me.displayName || me.email || me.uid),
            // What to tell an admin who is to add them (the e-mail address is in the tooltip).
            me.handle
              ? h("span", { class: "user-handle" }, `You are @${me.handle}`)
              : me.email && h("span", { class: "user-handle" }, me.email),
          ),
        ),
        h(
          "button",
          {
            type: "button",
            class: "button subtle",
            "aria-keyshortcuts": "?",
            title: "Keyboard shortcuts (?)",
            onclick: () => this.openShortcuts(),
          },
          "Shortcuts",
        ),
        h("button", { type: "button", class: "button subtle", onclick: () => this.signOut() }, "Sign out"),
      ),
      h(
        "main",
        { class: "board" },
        h(
          "section",
          { class: "list-pane", "aria-label": "Issue list" },
          h(
            "div",
            { class: "toolbar", role: "search" },
            h("label", { class: "search" }, h("span", { class: "visually-hidden" }, "Search issues"), search),
            h("fieldset", { class: "chips" }, h("legend", { class: "visually-hidden" }, "State"), stateBoxes),
            h(
              "div",
              { class: "toolbar-row" },
              h(
                "label",
                { class: "inline-field" },
                h("span", { class: "field-label" }, "Priority"),
                priority,
              ),
              h("label", { class: "inline-field" }, h("span", { class: "field-label" }, "Sort"), order),
            ),
            this.projectFilters,
          ),
          h("div", { class: "list-header" }, this.listSummary, this.newIssueButton),
          this.listEl,
          this.loadMore,
        ),
        this.detailEl,
      ),
    );
    this.renderEmptyDetail();
  }

  private async loadProjects(select?: string) {
    try {
      const projects: Project[] = [];
      let pageToken = "";
      do {
        const page = await this.clients.projects.listProjects({ pageSize: 200, pageToken });
        projects.push(...page.projects);
        pageToken = page.nextPageToken;
      } while (pageToken && projects.length < 1000);
      this.projects = projects;
    } catch (error) {
      this.fail(error);
      return;
    }
    mount(
      this.projectSelect,
      this.projects.length === 0 && h("option", { value: "" }, "No projects yet"),
      this.projects.map((project) =>
        h(
          "option",
          { value: project.name },
          // The key first: it is unique, where anyone may name a project "Security", and a name
          // padded with blank-looking characters would push a key written after it out of sight.
          `${project.name.slice("projects/".length)} · ${project.displayName}`,
        ),
      ),
    );
    const route = parseRoute();
    if (!select && route.project && !this.projects.some((project) => project.name === route.project)) {
      this.renderNotAMember(route.project);
      return;
    }
    const wanted = [select, route.project, this.project, this.projects[0]?.name].find((name) =>
      this.projects.some((project) => project.name === name),
    );
    if (!wanted) {
      this.session.project = undefined;
      this.renderNoProjects();
      return;
    }
    await this.selectProject(wanted, route.project === wanted ? route.issue : undefined);
  }

  private renderNoProjects() {
    this.stopWatch?.();
    this.followOtherProjects(false);
    this.setLive("stopped");
    mount(this.listEl);
    this.listSummary.textContent = "";
    mount(
      this.detailEl,
      h(
        "div",
        { class: "empty" },
        h("h2", null, "No projects yet"),
        this.me &&
          h(
            "p",
            { "data-testid": "how-to-join" },
            `Ask an admin to add you as ${this.me.handle ? `@${this.me.handle}` : this.me.email}, or create a project.`,
          ),
        h("p", { class: "muted" }, "A project holds a team's issues. You will be its admin."),
        h(
          "button",
          { type: "button", class: "button primary", onclick: () => this.openNewProject() },
          "Create a project",
        ),
      ),
    );
  }

  /**
   * A link to a project the caller is not a member of, or no longer (removed, or the project
   * deleted: the API tells neither apart from one that never existed): said, with their projects,
   * instead of silently showing another one.
   */
  private renderNotAMember(project: string) {
    const key = project.slice("projects/".length);
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.followOtherProjects(false);
    this.setLive("stopped");
    this.showRoleControls(undefined);
    this.session.project = undefined;
    this.projectSelect.value = "";
    this.issues = [];
    mount(this.listEl);
    this.listSummary.textContent = "";
    this.panel = undefined;
    mount(
      this.detailEl,
      h(
        "div",
        { class: "empty", role: "alert", "data-testid": "not-a-member" },
        h("h2", null, `You are not a member of ${key} (any more); ask an admin`),
        this.projects.length > 0 && [
          h("p", { class: "muted" }, "Your projects:"),
          h(
            "ul",
            { class: "link-list", "aria-label": "Your projects" },
            this.projects.map((other) =>
              h(
                "li",
                null,
                h(
                  "a",
                  {
                    href: `/${other.name}`,
                    onclick: (event: MouseEvent) => {
                      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                      event.preventDefault();
                      void this.selectProject(other.name);
                    },
                  },
                  `${other.displayName} (${other.name.slice("projects/".length)})`,
                ),
              ),
            ),
          ),
        ],
      ),
    );
  }

  /**
   * A call about the project shown failed: if that is because the caller lost it (removed, or
   * the project deleted), the board says so (renderNotAMember) instead of "does not exist".
   */
  private async failInProject(error: unknown) {
    const code = ConnectError.from(error).code;
    const project = this.project;
    // Left already: another call about it (the live feed, a refresh) found it lost first.
    if (!project) return;
    if (code === Code.NotFound || code === Code.PermissionDenied) {
      const lost = await this.clients.projects.getProject({ name: project }).then(
        (found) => found.deleteTime !== undefined,
        (failure) => ConnectError.from(failure).code === Code.NotFound,
      );
      // Still ours: the failure was about something else, and is told as it is.
      if (lost) {
        await this.loadProjects();
        return;
      }
    }
    this.fail(error);
  }

  private async selectProject(name: string, issue?: string) {
    const changed = name !== this.project || !this.stopWatch;
    if (this.project && name !== this.project) {
      this.filters.label = "";
      // A member of the other project, like a label, means nothing here.
      if (!["me", "none"].includes(this.filters.assignee)) this.filters.assignee = "";
    }
    this.session.project = name;
    this.projectSelect.value = name;
    if (changed) {
      this.showRoleControls(undefined);
      this.restartWatch();
      this.issues = [];
      mount(this.listEl);
      void this.fillProjectFilters();
    }
    navigate(issue ?? name);
    if (issue) void this.openIssue(issue, false);
    else if (changed || this.panel) this.renderEmptyDetail();
    await this.refreshList();
  }

  private async applyRoute() {
    if (!this.me) return;
    const route = parseRoute();
    if (route.project && route.project !== this.project) {
      if (this.projects.some((project) => project.name === route.project))
        await this.selectProject(route.project, route.issue);
      else this.renderNotAMember(route.project);
      return;
    }
    if (route.issue) await this.openIssue(route.issue, false);
    else this.renderEmptyDetail();
  }

  /** The label and assignee filters' choices, from the project's labels and members, and what the caller's role allows. */
  private async fillProjectFilters() {
    const project = this.project;
    if (!project) return;
    let data: ProjectData;
    try {
      data = await this.projectData(project);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (project !== this.project) return;
    this.showRoleControls(roleIn(data, this.me?.name));
    mount(
      this.assigneeFilter,
      h("option", { value: "" }, "Anyone"),
      h("option", { value: "me" }, "Assigned to me"),
      h("option", { value: "none" }, "Unassigned"),
      data.members
        .filter((member) => member.user !== this.me?.name)
        .map((member) => {
          const option = h("option", { value: member.user.slice("users/".length) }, "…");
          void this.userName(member.user).then((name) => {
            option.textContent = name;
          });
          return option;
        }),
    );
    this.assigneeFilter.value = this.filters.assignee;
    mount(
      this.labelFilter,
      h("option", { value: "" }, "Any label"),
      data.labels.map((label) => {
        const id = label.name.slice(label.name.lastIndexOf("/") + 1);
        return h("option", { value: id, selected: id === this.filters.label }, label.displayName);
      }),
    );
  }

  /** Offers what the caller's role in the project allows, and nothing else (nothing until it is known). */
  private showRoleControls(role: Member_Role | undefined) {
    this.newIssueButton.hidden = !mayWrite(role);
    this.labelButtons.hidden = !mayWrite(role);
    this.membersButton.hidden = role !== Member_Role.ADMIN;
    this.projectButton.hidden = role !== Member_Role.ADMIN;
  }

  /** "My issues": the caller's assigned issues in every project, or back to the project's. */
  private showMine(mine: boolean) {
    this.filters.mine = mine;
    this.mineButton.setAttribute("aria-pressed", String(mine));
    this.projectFilters.hidden = mine;
    this.followOtherProjects(mine);
    this.issues = [];
    mount(this.listEl);
    void this.refreshList();
  }

  // ---- Live updates -------------------------------------------------------

  private restartWatch() {
    this.stopWatch?.();
    const parent = this.project;
    if (!parent) return;
    this.stopWatch = watchProject(() => this.clients, parent, {
      onStatus: (status, detail) => this.setLive(status, detail),
      onConnected: (position) => {
        this.liveStatus.dataset.position = String(position);
        // Whatever happened while (re)connecting is in the list now.
        this.scheduleRefresh();
        this.panel?.onReconnected();
      },
      onEvent: (event) => {
        this.liveStatus.dataset.position = String(event.sequence);
        this.onEvent(event);
      },
      // Removed from the project, say: told in place of a "does not exist".
      onFatal: (error) => void this.failInProject(error),
    });
  }

  /**
   * While "My issues" shows, the caller's other projects are watched too, so
   * an issue assigned to them anywhere appears at once. A few only: over
   * HTTP/1.1 a browser opens at most six connections to the API and each
   * stream holds one, and the server caps a user's streams
   * (MAX_WATCH_STREAMS_PER_USER, 8 by default) across all their tabs. The
   * projects the list shows come first; and the list also refreshes whenever
   * the tab comes back into view.
   */
  private followOtherProjects(follow: boolean) {
    // The projects the list shows first, then the others.
    const candidates = new Set([
      ...this.issues.map((issue) => projectOf(issue.name)),
      ...this.projects.map((project) => project.name),
    ]);
    candidates.delete(this.project ?? "");
    const wanted = new Set(follow ? [...candidates].slice(0, MAX_OTHER_WATCHES) : []);
    for (const [name, stop] of this.otherWatches) {
      if (wanted.has(name)) continue;
      stop();
      this.otherWatches.delete(name);
    }
    for (const name of wanted) {
      if (this.otherWatches.has(name)) continue;
      this.otherWatches.set(
        name,
        watchProject(() => this.clients, name, {
          onStatus: () => {},
          onConnected: () => this.scheduleRefresh(),
          onEvent: (event) => this.onEvent(event),
          // No longer a member there, say: the list stops showing it on its next refresh.
          onFatal: () => {
            this.otherWatches.get(name)?.();
            this.otherWatches.delete(name);
            this.scheduleRefresh();
          },
        }),
      );
    }
  }

  private setLive(status: WatchStatus, detail?: string) {
    const labels: Record<WatchStatus, string> = {
      connecting: "Connecting…",
      live: "Live",
      reconnecting: "Reconnecting…",
      stopped: "Offline",
    };
    this.liveStatus.textContent = labels[status];
    this.liveStatus.className = `live live-${status}`;
    this.liveStatus.title =
      status === "live"
        ? "Changes by others appear as they happen"
        : status === "reconnecting"
          ? `Lost the live feed (${detail ?? "disconnected"}); resuming where it stopped`
          : (detail ?? "");
  }

  private onEvent(event: IssueEvent) {
    this.flash.add(event.issue);
    this.scheduleRefresh();
    if (this.panel?.name === event.issue) this.panel.onEvent(event);
  }

  private scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshList(), 120);
  }

  // ---- The list -----------------------------------------------------------

  async refreshList(more = false) {
    const parent = this.project;
    if (!parent) return;
    const seq = ++this.listSeq;
    const flash = this.flash;
    this.flash = new Set();
    this.listEl.setAttribute("aria-busy", "true");
    const { mine, label, assignee } = this.filters;
    writeFiltersToUrl(this.filters);
    try {
      const page = await this.clients.issues.listIssues({
        parent: mine ? "projects/-" : parent,
        pageSize: 50,
        pageToken: more ? this.nextPageToken : "",
        orderBy: this.filters.orderBy,
        filter: {
          states: [...this.filters.states],
          priorities: this.filters.priority ? [this.filters.priority] : [],
          query: this.filters.query,
          labels: !mine && label ? [`${parent}/labels/${label}`] : [],
          assignees:
            mine || assignee === "me"
              ? ["users/me"]
              : assignee && assignee !== "none"
                ? [`users/${assignee}`]
                : [],
          unassigned: !mine && assignee === "none",
        },
      });
      // Every row's labels are known before it shows.
      const projects = new Set(page.issues.map((issue) => projectOf(issue.name)));
      await Promise.all([...projects].map((project) => this.projectData(project).catch(() => undefined)));
      if (seq !== this.listSeq) return;
      this.issues = more ? [...this.issues, ...page.issues] : page.issues;
      this.nextPageToken = page.nextPageToken;
      this.renderList(flash);
      if (mine) this.followOtherProjects(true);
    } catch (error) {
      if (seq !== this.listSeq) return;
      if (mine) this.fail(error);
      else void this.failInProject(error);
    } finally {
      if (seq === this.listSeq) this.listEl.removeAttribute("aria-busy");
    }
  }

  private renderList(flash: Set<string>) {
    const count = this.issues.length;
    this.listSummary.textContent = `${count}${this.nextPageToken ? "+" : ""} issue${count === 1 ? "" : "s"}${this.filters.mine ? " assigned to you" : ""}`;
    this.loadMore.hidden = !this.nextPageToken;
    if (count === 0) {
      const filtered =
        this.filters.query ||
        this.filters.priority ||
        this.filters.states.size < 3 ||
        this.filters.label ||
        this.filters.assignee ||
        this.filters.mine;
      mount(
        this.listEl,
        h(
          "li",
          { class: "list-empty" },
          filtered ? "No issues match these filters." : "No issues yet. File the first one!",
        ),
      );
      return;
    }
    // A refresh (live updates) must not take the keyboard's place in the list away.
    const focused = this.listEl.contains(document.activeElement)
      ? document.activeElement?.getAttribute("href")
      : undefined;
    mount(
      this.listEl,
      this.issues.map((issue) => {
        const state = stateLabel(issue.state);
        const priority = priorityLabel(issue.priority);
        const updated = when(issue.updateTime);
        return h(
          "li",
          null,
          h(
            "a",
            {
              href: `/${issue.name}`,
              class: {
                "issue-row": true,
                closed: issue.state === Issue_State.CLOSED,
                flash: flash.has(issue.name),
              },
              "data-testid": "issue-row",
              "data-key": issue.key,
              "aria-current": this.panel?.name === issue.name ? "true" : undefined,
              onclick: (event: MouseEvent) => {
                if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                event.preventDefault();
                void this.openIssue(issue.name);
              },
            },
            h("span", {
              class: `priority-icon priority-${slug(priority)}`,
              title: `Priority: ${priority}`,
              "aria-label": `Priority: ${priority}`,
              role: "img",
            }),
            h("span", { class: "issue-key" }, issue.key),
            h(
              "span",
              { class: "issue-title-cell" },
              h("span", { class: "issue-title", "data-testid": "issue-row-title" }, issue.title),
              issue.labels.map((name) => {
                const label = this.knownLabel(name);
                return label && labelChip(label);
              }),
            ),
            issue.assignee
              ? h(
                  "span",
                  { class: "muted small issue-assignee", "data-testid": "issue-row-assignee" },
                  this.userSpan(issue.assignee),
                )
              : h("span", { class: "issue-assignee" }),
            h("span", { class: `badge state-${slug(state)}` }, state),
            h("time", { class: "muted small", title: updated.title }, updated.text),
          ),
        );
      }),
    );
    if (focused)
      this.listEl
        .querySelector<HTMLAnchorElement>(`.issue-row[href="${CSS.escape(focused)}"]`)
        ?.focus({ preventScroll: true });
  }

  private knownLabel(name: string): Label | undefined {
    return this.knownData.get(projectOf(name))?.labels.find((label) => label.name === name);
  }

  private markSelected(name: string | undefined) {
    for (const row of this.listEl.querySelectorAll<HTMLAnchorElement>(".issue-row")) {
      if (row.getAttribute("href") === `/${name}`) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  // ---- The detail pane ----------------------------------------------------

  private renderEmptyDetail() {
    this.panel = undefined;
    this.markSelected(undefined);
    mount(
      this.detailEl,
      h(
        "div",
        { class: "empty" },
        h("div", { class: "empty-art", "aria-hidden": "true" }),
        h("h2", null, "Pick an issue"),
        h(
          "p",
          { class: "muted" },
          "Select an issue to read, edit, comment on or close it — or file a new one.",
        ),
      ),
    );
  }

  async openIssue(name: string, push = true) {
    if (push) navigate(name);
    if (this.panel?.name === name && this.panel.loaded) return;
    this.panel = new IssuePanel(this, name);
    this.markSelected(name);
    mount(this.detailEl, this.panel.element);
    if (push && window.matchMedia("(max-width: 860px)").matches)
      this.detailEl.scrollIntoView({ block: "start" });
    await this.panel.reload();
  }

  /**
   * Someone's display name, from `users/{uid}`, looked up once it is found.
   * A failed lookup is not kept: a former member added back, or a call that
   * failed on the way, is asked about again next time.
   */
  userName(name: string): Promise<string> {
    if (!name) return Promise.resolve("nobody");
    if (name === this.me?.name) return Promise.resolve(personName(this.me));
    let found = this.userNames.get(name);
    if (!found) {
      const lookup: Promise<string> = this.clients.users
        .getUser({ name })
        .then((user) => personName(user) || name.slice(-8))
        .catch((error) => {
          if (this.userNames.get(name) === lookup) this.userNames.delete(name);
          // Users see only those they share a project with: someone gone from all of them is not found.
          return ConnectError.from(error).code === Code.NotFound ? "former member" : `user ${name.slice(-8)}`;
        });
      found = lookup;
      this.userNames.set(name, found);
    }
    return found;
  }

  /** A project's labels and members, fetched once; `fresh` fetches them again. */
  projectData(project: string, fresh = false): Promise<ProjectData> {
    let data = fresh ? undefined : this.projectDataCache.get(project);
    if (!data) {
      data = fetchProjectData(this.clients, project).then((fetched) => {
        this.knownData.set(project, fetched);
        // Members carry no names: theirs are looked up afresh (one may have been a former member, or renamed).
        if (fresh) for (const member of fetched.members) this.userNames.delete(member.user);
        return fetched;
      });
      // A failure is not kept: the next call asks again.
      data.catch(() => this.projectDataCache.delete(project));
      this.projectDataCache.set(project, data);
    }
    return data;
  }

  /** A span that shows a user's name once known. */
  userSpan(name: string): HTMLSpanElement {
    const span = h("span", { class: "user-ref" }, "…");
    void this.userName(name).then((text) => {
      span.textContent = text;
    });
    return span;
  }

  // ---- Keyboard ----

  private onKey(event: KeyboardEvent) {
    if (!this.me || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    // A dialog handles its own keys (Esc closes it).
    if (document.querySelector("dialog[open]")) return;
    const target = event.target as HTMLElement;
    const typing = target.closest("input, textarea, select, [contenteditable]") !== null;
    if (event.key === "Escape") {
      // Esc leaves the search box empty, not with a filter nobody sees any more.
      if (target === this.searchInput && this.searchInput.value) {
        this.searchInput.value = "";
        this.filters.query = "";
        void this.refreshList();
      }
      if (typing) target.blur();
      else if (this.panel) this.closeIssue();
      return;
    }
    if (typing) return;
    const rows = [...this.listEl.querySelectorAll<HTMLAnchorElement>(".issue-row")];
    const at = rows.indexOf(document.activeElement as HTMLAnchorElement);
    switch (event.key) {
      case "c":
        // A reader files nothing (without a project, it makes one).
        if (this.newIssueButton.hidden && this.project) return;
        this.openNewIssue();
        break;
      case "/":
        this.searchInput.focus();
        break;
      case "j":
        rows[Math.min(at + 1, rows.length - 1)]?.focus();
        break;
      case "k":
        rows[Math.max(at - 1, 0)]?.focus();
        break;
      case "?":
        this.openShortcuts();
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  private closeIssue() {
    const project = this.project;
    const open = this.panel?.name;
    this.renderEmptyDetail();
    if (project) navigate(project);
    // Back in the list where the issue was.
    this.listEl.querySelector<HTMLAnchorElement>(`.issue-row[href="/${open}"]`)?.focus();
  }

  private openShortcuts() {
    const keys: Array<[string, string]> = [
      ["c", "New issue"],
      ["/", "Search"],
      ["j / k", "Next / previous issue in the list"],
      ["Enter", "Open the issue"],
      ["Esc", "Close the issue (or leave a field, or a dialog)"],
      ["?", "This help"],
    ];
    this.closableDialog(
      "Keyboard shortcuts",
      { "data-testid": "shortcuts" },
      h(
        "dl",
        { class: "shortcuts" },
        keys.map(([key, what]) => [h("dt", null, h("kbd", null, key)), h("dd", null, what)]),
      ),
    );
  }

  // ---- Dialogs ------------------------------------------------------------

  /** A dialog to read and act in, with only a Close button: removed once closed. */
  private closableDialog(title: string, props: Record<string, string>, ...content: HTMLElement[]) {
    const id = uniqueId("dialog-title");
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": id, ...props },
      h("h2", { id }, title),
      ...content,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "button primary", onclick: () => dialog.close() }, "Close"),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  private dialog(
    title: string,
    fields: HTMLElement[],
    submitLabel: string,
    submit: (close: () => void) => Promise<void>,
  ) {
    const id = uniqueId("dialog-title");
    const error = h("p", { class: "form-error", role: "alert" });
    const button = h("button", { type: "submit", class: "button primary" }, submitLabel);
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": id },
      h(
        "form",
        {
          onsubmit: async (event: Event) => {
            event.preventDefault();
            error.textContent = "";
            button.disabled = true;
            try {
              await submit(() => dialog.close());
            } catch (failure) {
              const connectError = ConnectError.from(failure);
              if (connectError.code === Code.Unauthenticated) {
                // Its fields are still there to keep as a draft.
                this.fail(connectError);
                dialog.close();
              } else error.textContent = describeError(connectError);
            } finally {
              button.disabled = false;
            }
          },
        },
        h("h2", { id }, title),
        fields,
        error,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "button subtle", onclick: () => dialog.close() }, "Cancel"),
          button,
        ),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  private openNewProject() {
    const key = h("input", {
      required: true,
      pattern: "[A-Z][A-Z0-9]{1,9}",
      maxLength: 10,
      autocomplete: "off",
      placeholder: "CORE",
      oninput: () => {
        key.value = key.value.toUpperCase();
      },
    });
    const name = h("input", {
      required: true,
      maxLength: 100,
      placeholder: "Core platform",
      autocomplete: "off",
    });
    const description = h("textarea", { rows: 3, maxLength: 10000 });
    this.dialog(
      "New project",
      [
        field("Key", key, "2–10 capitals or digits, starting with a letter: issues become KEY-1, KEY-2…"),
        field("Name", name),
        field("Description", description),
      ],
      "Create project",
      async (close) => {
        const project = await this.clients.projects.createProject({
          projectId: key.value,
          project: { displayName: name.value.trim(), description: description.value },
          requestId: newRequestId(),
        });
        close();
        this.info(`Created ${project.displayName}`);
        await this.loadProjects(project.name);
      },
    );
  }

  /** The project's members: add by handle or e-mail, change a role, remove. */
  private openMembers() {
    const parent = this.project;
    if (!parent) return;
    const table = h("ul", { class: "member-list", "data-testid": "members", "aria-label": "Members" });
    const rowError = h("p", { class: "form-error", role: "alert" });
    /** After a change that worked, no earlier failure is still told (the form's own included). */
    const clearErrors = () => {
      for (const error of rowError.closest("dialog")?.querySelectorAll(".form-error") ?? [])
        error.textContent = "";
    };
    const act = async (member: Member, change: () => Promise<unknown>) => {
      rowError.textContent = "";
      try {
        await change();
        clearErrors();
      } catch (error) {
        rowError.textContent =
          errorInfoOf(error)?.reason === "LAST_ADMIN"
            ? `${await this.userName(member.user)} is the project's last admin: make someone else admin first.`
            : describeError(error);
      }
      await render(true);
    };
    const render = async (fresh = false) => {
      let data: ProjectData;
      try {
        data = await this.projectData(parent, fresh);
      } catch (error) {
        rowError.textContent = describeError(error);
        return;
      }
      mount(
        table,
        data.members.map((member) => {
          const role = roleSelect(member.role);
          role.addEventListener(
            "change",
            () =>
              void act(member, () =>
                this.clients.members.updateMember({
                  member: { name: member.name, role: Number(role.value), etag: member.etag },
                  updateMask: { paths: ["role"] },
                }),
              ),
          );
          const who = this.userSpan(member.user);
          const row = h(
            "li",
            { class: "member-row", "data-testid": "member" },
            who,
            h("label", { class: "inline-field" }, h("span", { class: "visually-hidden" }, "Role"), role),
            h(
              "button",
              {
                type: "button",
                class: "button subtle",
                onclick: () => {
                  if (!window.confirm(`Remove ${who.textContent} from the project?`)) return;
                  void act(member, () =>
                    this.clients.members.deleteMember({ name: member.name, etag: member.etag }),
                  );
                },
              },
              "Remove",
            ),
          );
          // The select and button are named after the person once known.
          void this.userName(member.user).then((name) => {
            role.setAttribute("aria-label", `Role of ${name}`);
            row.querySelector("button")?.setAttribute("aria-label", `Remove ${name}`);
          });
          return row;
        }),
      );
    };
    const who = h("input", {
      required: true,
      maxLength: 320,
      autocomplete: "off",
      placeholder: "ada-lovelace or ada@example.com",
    });
    const role = roleSelect(Member_Role.WRITER);
    void render();
    this.dialog(
      "Members",
      [table, rowError, field("Handle or e-mail", who), field("Their role", role)],
      "Add member",
      async () => {
        const typed = who.value;
        const value = typed.trim().replace(/^@/, "");
        try {
          await this.clients.members.createMember({
            parent,
            member: { role: Number(role.value) },
            userLookup: value.includes("@") ? { case: "userEmail", value } : { case: "userHandle", value },
            requestId: newRequestId(),
          });
        } catch (error) {
          // Users exist once they have signed in: what to do about it, not that nothing was found.
          if (errorInfoOf(error)?.reason !== "USER_NOT_FOUND") throw error;
          throw new ConnectError(
            `No one has signed in as ${value} yet: ask them to sign in once, then add them here.`,
            Code.FailedPrecondition,
          );
        }
        clearErrors();
        // Unless the next one is typed already.
        if (who.value === typed) who.value = "";
        await render(true);
      },
    );
  }

  private openNewLabel() {
    const parent = this.project;
    if (!parent) return;
    const name = h("input", { required: true, maxLength: 50, autocomplete: "off", placeholder: "Bug" });
    const color = h("input", { type: "color", value: "#d73a4a" });
    const description = h("input", { maxLength: 500, autocomplete: "off" });
    this.dialog(
      "New label",
      [field("Name", name), field("Colour", color), field("Description", description)],
      "Create label",
      async (close) => {
        const label = await this.clients.labels.createLabel({
          parent,
          labelId: labelIdFor(name.value.trim()),
          label: { displayName: name.value.trim(), color: color.value, description: description.value },
          requestId: newRequestId(),
        });
        close();
        this.info(`Created the label ${label.displayName}`);
        await this.labelsChanged(parent);
      },
    );
  }

  /** After a label changed: the filter, the open issue and the list's chips show it as it is now. */
  private async labelsChanged(project: string) {
    await this.projectData(project, true);
    await this.fillProjectFilters();
    await Promise.all([this.panel?.reload(), this.refreshList()]);
  }

  /** The project's labels, each to rename, recolour or delete (writers may: the button is theirs). */
  private openLabels() {
    const parent = this.project;
    if (!parent) return;
    const list = h("ul", { class: "member-list", "data-testid": "labels", "aria-label": "Labels" });
    const rowError = h("p", { class: "form-error", role: "alert" });
    const render = async () => {
      let data: ProjectData;
      try {
        data = await this.projectData(parent);
      } catch (error) {
        rowError.textContent = describeError(error);
        return;
      }
      mount(
        list,
        data.labels.length === 0 && h("li", { class: "muted small" }, "No labels in this project yet."),
        data.labels.map((label) =>
          h(
            "li",
            { class: "member-row", "data-testid": "label" },
            h("span", null, labelChip(label)),
            h(
              "button",
              {
                type: "button",
                class: "button subtle",
                "aria-label": `Edit ${label.displayName}`,
                onclick: () => this.openEditLabel(label, render),
              },
              "Edit",
            ),
            h(
              "button",
              {
                type: "button",
                class: "button subtle",
                "aria-label": `Delete ${label.displayName}`,
                onclick: async () => {
                  if (!window.confirm(`Delete the label ${label.displayName}? It comes off every issue.`))
                    return;
                  rowError.textContent = "";
                  try {
                    await this.clients.labels.deleteLabel({ name: label.name, etag: label.etag });
                    this.info(`Deleted the label ${label.displayName}`);
                  } catch (error) {
                    rowError.textContent = describeError(error);
                  }
                  await this.labelsChanged(parent);
                  await render();
                },
              },
              "Delete",
            ),
          ),
        ),
      );
    };
    void render();
    this.closableDialog("Labels", {}, list, rowError);
  }

  private openEditLabel(label: Label, changed: () => Promise<void>) {
    const name = h("input", { required: true, maxLength: 50, autocomplete: "off", value: label.displayName });
    const color = h("input", { type: "color", value: label.color || "#6b7280" });
    const description = h("input", { maxLength: 500, autocomplete: "off", value: label.description });
    this.dialog(
      `Edit label ${label.displayName}`,
      [field("Name", name), field("Colour", color), field("Description", description)],
      "Save label",
      async (close) => {
        // Its id (and so the filter's links to it) stays: only what people read changes.
        const saved = await this.clients.labels.updateLabel({
          label: {
            name: label.name,
            etag: label.etag,
            displayName: name.value.trim(),
            color: color.value,
            description: description.value,
          },
          updateMask: { paths: ["display_name", "color", "description"] },
        });
        close();
        this.info(`Saved the label ${saved.displayName}`);
        if (this.project) await this.labelsChanged(this.project);
        await changed();
      },
    );
  }

  /** The project's name and description, and deleting it: admins only (the button is theirs). */
  private openProjectSettings() {
    const project = this.projects.find((known) => known.name === this.project);
    if (!project) return;
    const key = project.name.slice("projects/".length);
    const name = h("input", {
      required: true,
      maxLength: 100,
      autocomplete: "off",
      value: project.displayName,
    });
    const description = h("textarea", { rows: 3, maxLength: 10000, value: project.description });
    const remove = h(
      "button",
      {
        type: "button",
        class: "button danger",
        onclick: async () => {
          if (!window.confirm(`Delete the project ${project.displayName} (${key}) and hide all its issues?`))
            return;
          remove.disabled = true;
          try {
            await this.clients.projects.deleteProject({ name: project.name, etag: project.etag });
          } catch (error) {
            remove.disabled = false;
            this.fail(error);
            return;
          }
          remove.closest("dialog")?.close();
          this.info(`Deleted ${project.displayName}`);
          // Off its address first, or the list would say we are no member of it.
          window.history.pushState(null, "", `/${window.location.search}`);
          await this.loadProjects();
        },
      },
      `Delete ${key}`,
    );
    this.dialog(
      "Project settings",
      [
        field("Name", name),
        field("Description", description),
        h(
          "div",
          { class: "danger-zone" },
          h("p", { class: "muted small" }, "Deleting hides the project and its issues from everyone."),
          remove,
        ),
      ],
      "Save project",
      async (close) => {
        const saved = await this.clients.projects.updateProject({
          project: {
            name: project.name,
            etag: project.etag,
            displayName: name.value.trim(),
            description: description.value,
          },
          updateMask: { paths: ["display_name", "description"] },
        });
        close();
        this.info(`Saved ${saved.displayName}`);
        await this.loadProjects(saved.name);
      },
    );
  }

  private openNewIssue() {
    const parent = this.project;
    if (!parent) {
      this.openNewProject();
      return;
    }
    const draftKey = `${parent}/new-issue`;
    const draft = takeDraft(draftKey);
    const title = drafted(
      h("input", { required: true, maxLength: 256, autocomplete: "off", value: draft?.title ?? "" }),
      draftKey,
      "title",
    );
    const body = drafted(
      h("textarea", { rows: 6, maxLength: 65536, value: draft?.body ?? "" }),
      draftKey,
      "body",
    );
    const priority = drafted(
      prioritySelect(draft?.priority ? (Number(draft.priority) as Issue_Priority) : Issue_Priority.NONE),
      draftKey,
      "priority",
    );
    this.dialog(
      "New issue",
      [field("Title", title), field("Description", body, "Markdown is fine."), field("Priority", priority)],
      "Create issue",
      async (close) => {
        const issue = await this.clients.issues.createIssue({
          parent,
          issue: { title: title.value.trim(), body: body.value, priority: Number(priority.value) },
          requestId: newRequestId(),
        });
        close();
        this.info(`Filed ${issue.key}`);
        this.flash.add(issue.name);
        await this.refreshList();
        await this.openIssue(issue.name);
      },
    );
  }
}

// ---- Routing --------------------------------------------------------------

/** `/projects/CORE` or `/projects/CORE/issues/4`. */
function parseRoute(): { project?: string; issue?: string } {
  const match = /^\/projects\/([A-Z][A-Z0-9]{1,9})(?:\/issues\/([1-9][0-9]*))?\/?$/.exec(
    window.location.pathname,
  );
  if (!match) return {};
  const project = `projects/${match[1]}`;
  return { project, issue: match[2] ? `${project}/issues/${match[2]}` : undefined };
}

function navigate(name: string) {
  const path = `/${name}`;
  if (window.location.pathname !== path) window.history.pushState(null, "", path + window.location.search);
}

async function fetchProjectData(clients: Session["clients"], project: string): Promise<ProjectData> {
  const labels: Label[] = [];
  const members: Member[] = [];
  let pageToken = "";
  do {
    const page = await clients.labels.listLabels({ parent: project, pageSize: 200, pageToken });
    labels.push(...page.labels);
    pageToken = page.nextPageToken;
  } while (pageToken && labels.length < 1000);
  do {
    const page = await clients.members.listMembers({ parent: project, pageSize: 200, pageToken });
    members.push(...page.members);
    pageToken = page.nextPageToken;
  } while (pageToken && members.length < 1000);
  return { labels, members };
}

function roleSelect(selected: Member_Role): HTMLSelectElement {
  const roles: Array<[Member_Role, string]> = [
    [Member_Role.READER, "Reader"],
    [Member_Role.WRITER, "Writer"],
    [Member_Role.ADMIN, "Admin"],
  ];
  return h(
    "select",
    null,
    roles.map(([value, label]) => h("option", { value: String(value), selected: value === selected }, label)),
  );
}
