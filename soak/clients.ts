import { randomUUID } from "node:crypto";
import {
  type CallOptions,
  type Client,
  Code,
  ConnectError,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import { bearerToken } from "../client/index.js";
import { createNodeTransport, type Protocol } from "../client/node.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import {
  Issue_CloseReason as CloseReason,
  type Issue,
  IssueService,
  Issue_Priority as Priority,
  Issue_State as State,
} from "../gen/proto/tracker/v1/issue_pb.js";
import {
  canonical,
  type Fields,
  type Ledger,
  type MutationKind,
  markerOf,
  type Version,
  versionOf,
} from "./ledger.js";
import { sleep } from "./server-process.js";
import { originOf, type Stats } from "./stats.js";

export { PROTOCOLS, type Protocol } from "../client/node.js";

export function transportFor(protocol: Protocol, baseUrl: string, token: string): Transport {
  return createNodeTransport(protocol, baseUrl, [bearerToken(token)]);
}

export interface ProjectInfo {
  key: string;
  name: string;
  /** Label names. */
  labels: string[];
  /** Issues every client updates (etag conflicts expected), created at setup. */
  hot: string[];
}

/** What every client knows of the world set up before the load. */
export interface World {
  projects: ProjectInfo[];
  /** users/{uid} of every client: the assignees. */
  users: string[];
}

export interface ClientOptions {
  /** True once the soak's load phase is over: finish the current operation and stop. */
  stopping: () => boolean;
  /** Epoch ms after which a mutation stops retrying (and stays in doubt). */
  retryUntil: () => number;
  /** Mean pause between operations. */
  thinkMs: number;
  /** Client-side deadline of every call. */
  timeoutMs: number;
}

const RETRYABLE = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Canceled]);
const WORDS = ["login", "safari", "crash", "slow", "button", "export", "search", "mobile", "token", "cache"];
const PRIORITIES = [Priority.NONE, Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW];
const REASONS = [CloseReason.COMPLETED, CloseReason.NOT_PLANNED, CloseReason.DUPLICATE];

interface Known {
  etag: number;
  version: Version;
}

interface Planned {
  /** The writable fields to send, by their API names. */
  issue: Partial<
    Pick<Issue, "title" | "body" | "state" | "closeReason" | "priority" | "assignee" | "labels">
  >;
  paths: string[];
  intended: Version;
}

/**
 * One user of the tracker over one protocol: creates issues (it owns them:
 * nobody else changes them), updates them with their etag (fields, state,
 * labels, assignee), deletes and restores them, comments, updates the
 * project's shared "hot" issues against everyone else, and reads. Every
 * mutation is retried with the same request_id (creates) or etag (the
 * rest) until it is acknowledged or the soak ends, and lands in the ledger.
 */
export class SoakClient {
  readonly name: string;
  readonly #issues: Client<typeof IssueService>;
  readonly #comments: Client<typeof CommentService>;
  /** Issues this client created and alone changes, as it last knew them. */
  readonly #owned = new Map<string, Known>();
  /** The highest etag acknowledged to this client per issue (a later read must not show less). */
  readonly #acknowledged = new Map<string, number>();
  #serial = 0;

  constructor(
    readonly index: number,
    readonly protocol: Protocol,
    transport: Transport,
    private readonly world: World,
    private readonly ledger: Ledger,
    private readonly stats: Stats,
    private readonly random: () => number,
    private readonly options: ClientOptions,
  ) {
    this.name = `client-${index}`;
    this.#issues = createClient(IssueService, transport);
    this.#comments = createClient(CommentService, transport);
  }

  async run(): Promise<void> {
    while (!this.options.stopping()) {
      try {
        await this.#step();
      } catch (error) {
        // Reads fail during faults; that is counted, and the client carries on.
        if (!(error instanceof ConnectError)) throw error;
      }
      await sleep(this.random() * 2 * this.options.thinkMs);
    }
  }

  async #step() {
    const roll = this.random();
    const live = [...this.#owned].filter(([, known]) => !known.version.deleted);
    if (this.#owned.size < 3 || roll < 0.14) return this.#createIssue();
    if (roll < 0.36) return this.#updateOwned(live);
    if (roll < 0.44) return this.#updateHot();
    if (roll < 0.48) return this.#toggleDeleted();
    if (roll < 0.6) return this.#createComment(live);
    if (roll < 0.74) return this.#getIssue();
    if (roll < 0.84) return this.#listIssues();
    if (roll < 0.89) return this.#batchGet();
    if (roll < 0.95) return this.#listEvents();
    return this.#listComments();
  }

  // --- mutations ---------------------------------------------------------

  async #createIssue() {
    this.stats.operation("CreateIssue");
    const project = this.#pick(this.world.projects);
    const requestId = randomUUID();
    this.ledger.beginCreate("issue", requestId, this.name, project.name);
    const serial = ++this.#serial;
    const request = {
      parent: project.name,
      requestId,
      issue: {
        title: `${this.name} issue ${serial} ${this.#pick(WORDS)}`,
        body: `${markerOf(requestId)} ${this.#words(4)}`,
        priority: this.#pick(PRIORITIES),
        labels: this.#labels(project),
        assignee: this.random() < 0.3 ? this.#pick(this.world.users) : "",
      },
    };
    const started = performance.now();
    const result = await this.#mutate("CreateIssue", requestId, (options) =>
      this.#issues.createIssue(request, options),
    );
    if (!result.value) {
      if (!result.inDoubt)
        this.stats.anomaly(`CreateIssue rejected: ${result.error?.rawMessage.slice(0, 80)}`);
      return;
    }
    this.stats.ackLatency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    const issue = result.value;
    const version = versionOf(issue);
    this.ledger.acknowledgeCreate("issue", requestId, { name: issue.name, uid: issue.uid, after: version });
    this.#owned.set(issue.name, { etag: Number(issue.etag), version });
    this.#acknowledged.set(issue.name, Number(issue.etag));
  }

  async #updateOwned(live: Array<[string, Known]>) {
    if (live.length === 0) return this.#createIssue();
    const [name, known] = this.#pick(live);
    this.stats.operation("UpdateIssue (own)");
    await this.#update(name, known, false);
  }

  async #updateHot() {
    this.stats.operation("UpdateIssue (shared)");
    const project = this.#pick(this.world.projects);
    const name = this.#pick(project.hot);
    const issue = await this.#call("GetIssue", (options) => this.#issues.getIssue({ name }, options));
    this.#checkFresh(issue);
    await this.#update(name, { etag: Number(issue.etag), version: versionOf(issue) }, true);
  }

  /** UpdateIssue of `name` from the version `known`, guarded by its etag. */
  async #update(name: string, known: Known, shared: boolean) {
    const project = this.#projectOf(name);
    const plan = this.#plan(project, known.version);
    const mutationId = randomUUID();
    const started = performance.now();
    const result = await this.#mutate("UpdateIssue", mutationId, (options) =>
      this.#issues.updateIssue(
        { issue: { name, etag: String(known.etag), ...plan.issue }, updateMask: { paths: plan.paths } },
        options,
      ),
    );
    await this.#settle("update", name, mutationId, known, plan.intended, result, started, shared);
  }

  async #toggleDeleted() {
    const [name, known] = this.#pick([...this.#owned]);
    const kind: MutationKind = known.version.deleted ? "undelete" : "delete";
    this.stats.operation(kind === "delete" ? "DeleteIssue" : "UndeleteIssue");
    const mutationId = randomUUID();
    const started = performance.now();
    const request = { name, etag: String(known.etag) };
    const result = await this.#mutate(
      kind === "delete" ? "DeleteIssue" : "UndeleteIssue",
      mutationId,
      (options) =>
        kind === "delete"
          ? this.#issues.deleteIssue(request, options)
          : this.#issues.undeleteIssue(request, options),
    );
    const intended = { fields: known.version.fields, deleted: kind === "delete" };
    await this.#settle(kind, name, mutationId, known, intended, result, started, false);
  }

  /** Records how a mutation of an issue ended, and relearns the issue when the answer was not the new version. */
  async #settle(
    kind: MutationKind,
    name: string,
    mutationId: string,
    known: Known,
    intended: Version,
    result: Attempted<Issue>,
    started: number,
    shared: boolean,
  ) {
    const base = { kind, mutationId, issue: name, client: this.name };
    if (result.value) {
      const etag = Number(result.value.etag);
      this.stats.ackLatency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
      this.ledger.record({ ...base, outcome: "acknowledged", etag, after: versionOf(result.value) });
      this.#acknowledged.set(name, Math.max(etag, this.#acknowledged.get(name) ?? 0));
      if (!shared) this.#owned.set(name, { etag, version: versionOf(result.value) });
      return;
    }
    if (result.inDoubt) {
      this.ledger.record({ ...base, outcome: "in-doubt", etagBefore: known.etag, intended });
    } else if (shared && result.error?.code === Code.Aborted) {
      this.stats.conflicts += 1;
    } else {
      this.stats.anomaly(`${kind} rejected: ${result.error?.rawMessage.slice(0, 80)}`);
    }
    if (!shared) await this.#relearn(name);
  }

  async #createComment(live: Array<[string, Known]>) {
    this.stats.operation("CreateComment");
    const parent =
      live.length > 0 && this.random() < 0.7
        ? this.#pick(live)[0]
        : this.#pick(this.#pick(this.world.projects).hot);
    const requestId = randomUUID();
    this.ledger.beginCreate("comment", requestId, this.name, parent);
    const body = `${markerOf(requestId)} ${this.#words(6)}`;
    const started = performance.now();
    const result = await this.#mutate("CreateComment", requestId, (options) =>
      this.#comments.createComment({ parent, requestId, comment: { body } }, options),
    );
    if (!result.value) {
      // An owned issue deleted by an in-doubt DeleteIssue this client has not relearned yet.
      if (!result.inDoubt)
        this.stats.anomaly(`CreateComment rejected: ${result.error?.rawMessage.slice(0, 80)}`);
      return;
    }
    this.stats.ackLatency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    const comment = result.value;
    this.ledger.acknowledgeCreate("comment", requestId, {
      name: comment.name,
      uid: comment.uid,
      body: comment.body,
    });
  }

  // --- reads -------------------------------------------------------------

  async #getIssue() {
    this.stats.operation("GetIssue");
    const name =
      this.#owned.size > 0 && this.random() < 0.7
        ? this.#pick([...this.#owned.keys()])
        : this.#pick(this.#pick(this.world.projects).hot);
    this.#checkFresh(await this.#call("GetIssue", (options) => this.#issues.getIssue({ name }, options)));
  }

  async #listIssues() {
    this.stats.operation("ListIssues");
    const project = this.#pick(this.world.projects);
    const variants = [
      { filter: { states: [State.OPEN, State.IN_PROGRESS] }, orderBy: "update_time desc" },
      { orderBy: "priority" },
      { filter: { query: this.#pick(WORDS) } },
      { filter: { labels: [this.#pick(project.labels)] }, orderBy: "number desc" },
      { showDeleted: true, orderBy: "create_time" },
    ];
    const variant = this.#pick(variants);
    await this.#call("ListIssues", (options) =>
      this.#issues.listIssues({ parent: project.name, pageSize: 25, ...variant }, options),
    );
  }

  async #batchGet() {
    this.stats.operation("BatchGetIssues");
    const project = this.#pick(this.world.projects);
    const names = [...this.#owned.keys()].filter((name) => name.startsWith(`${project.name}/`)).slice(-20);
    if (names.length === 0) return;
    const response = await this.#call("BatchGetIssues", (options) =>
      this.#issues.batchGetIssues({ parent: project.name, names }, options),
    );
    for (const issue of response.issues) this.#checkFresh(issue);
  }

  async #listEvents() {
    this.stats.operation("ListIssueEvents");
    const parent =
      this.#owned.size > 0 && this.random() < 0.6
        ? this.#pick([...this.#owned.keys()])
        : this.#pick(this.world.projects).name;
    await this.#call("ListIssueEvents", (options) =>
      this.#issues.listIssueEvents({ parent, pageSize: 50 }, options),
    );
  }

  async #listComments() {
    this.stats.operation("ListComments");
    const live = [...this.#owned].filter(([, known]) => !known.version.deleted);
    if (live.length === 0) return;
    const parent = this.#pick(live)[0];
    await this.#call("ListComments", (options) =>
      this.#comments.listComments({ parent, pageSize: 20 }, options),
    );
  }

  // --- plumbing ------------------------------------------------------------

  /** One call, timed and counted; errors are rethrown. */
  async #call<T>(
    procedure: string,
    send: (options: CallOptions) => Promise<T>,
    headers?: Record<string, string>,
  ): Promise<T> {
    const started = performance.now();
    try {
      const value = await send({ timeoutMs: this.options.timeoutMs, ...(headers && { headers }) });
      this.stats.succeeded(procedure, this.protocol, (performance.now() - started) * 1000);
      return value;
    } catch (error) {
      const connectError = ConnectError.from(error);
      this.stats.failed(procedure, this.protocol, connectError);
      throw connectError;
    }
  }

  /**
   * A mutation, sent again (same request, same x-request-id) while it fails
   * for want of an answer or with UNAVAILABLE, until the soak ends. It is in
   * doubt when some attempt may have been applied without us hearing of it.
   */
  async #mutate<T>(
    procedure: string,
    mutationId: string,
    send: (options: CallOptions) => Promise<T>,
  ): Promise<Attempted<T>> {
    let inDoubt = false;
    let delay = 50;
    for (;;) {
      try {
        return { value: await this.#call(procedure, send, { "x-request-id": mutationId }), inDoubt };
      } catch (thrown) {
        const error = ConnectError.from(thrown);
        const retryable = originOf(error) === "transport" || RETRYABLE.has(error.code);
        if (!retryable) return { error, inDoubt };
        // Refused by the rate limiter before any work: certainly not applied.
        if (error.code !== Code.ResourceExhausted) inDoubt = true;
        if (Date.now() + delay > this.options.retryUntil()) return { error, inDoubt };
        this.stats.retries += 1;
        await sleep(delay * (0.5 + this.random()));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  /** Reads an owned issue again after a mutation whose answer was not its new version. */
  async #relearn(name: string) {
    let delay = 100;
    for (;;) {
      try {
        const issue = await this.#call("GetIssue", (options) => this.#issues.getIssue({ name }, options));
        this.#checkFresh(issue);
        this.#owned.set(name, { etag: Number(issue.etag), version: versionOf(issue) });
        return;
      } catch {
        if (Date.now() + delay > this.options.retryUntil()) {
          // Unknown state: this client leaves the issue alone from now on.
          this.#owned.delete(name);
          return;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  /** Read-your-writes: a read never shows an issue older than what was acknowledged to us. */
  #checkFresh(issue: Issue) {
    const acknowledged = this.#acknowledged.get(issue.name) ?? 0;
    if (Number(issue.etag) < acknowledged) {
      this.stats.staleReads.push(
        `${this.name} read ${issue.name} at etag ${issue.etag} after etag ${acknowledged} was acknowledged to it`,
      );
    }
  }

  /** A change of 1 to 3 fields (often labels alone) that differs from `current`. */
  #plan(project: ProjectInfo, current: Version): Planned {
    const fields: Fields = { ...current.fields };
    const issue: Planned["issue"] = {};
    const paths = new Set<string>();
    const choices =
      this.random() < 0.3
        ? ["labels"]
        : this.#some(["title", "body", "state", "priority", "assignee", "labels"], 1, 3);
    for (const choice of choices) {
      switch (choice) {
        case "title":
          issue.title = `${this.name} edit ${++this.#serial} ${this.#pick(WORDS)}`;
          fields.title = issue.title;
          paths.add("title");
          break;
        case "body":
          issue.body = this.#words(8);
          fields.body = issue.body;
          paths.add("body");
          break;
        case "state": {
          const state = this.#pick([State.OPEN, State.IN_PROGRESS, State.CLOSED]);
          const reason = state === State.CLOSED ? this.#pick(REASONS) : CloseReason.UNSPECIFIED;
          issue.state = state;
          issue.closeReason = reason;
          fields.state = `STATE_${State[state]}`;
          fields.close_reason =
            reason === CloseReason.UNSPECIFIED ? null : `CLOSE_REASON_${CloseReason[reason]}`;
          paths.add("state");
          paths.add("close_reason");
          break;
        }
        case "priority":
          issue.priority = this.#pick(PRIORITIES);
          fields.priority = `PRIORITY_${Priority[issue.priority]}`;
          paths.add("priority");
          break;
        case "assignee":
          issue.assignee = this.random() < 0.2 ? "" : this.#pick(this.world.users);
          fields.assignee = issue.assignee === "" ? null : issue.assignee;
          paths.add("assignee");
          break;
        case "labels":
          issue.labels = this.#labels(project);
          fields.labels = issue.labels;
          paths.add("labels");
          break;
      }
    }
    if (canonical(fields) === canonical(current.fields)) {
      // Nothing would change (no new version, no history): change the title too.
      issue.title = `${this.name} edit ${++this.#serial}`;
      fields.title = issue.title;
      paths.add("title");
    }
    return { issue, paths: [...paths], intended: { fields, deleted: current.deleted } };
  }

  #projectOf(issueName: string): ProjectInfo {
    const project = this.world.projects.find((p) => issueName.startsWith(`${p.name}/`));
    if (!project) throw new Error(`no project for ${issueName}`);
    return project;
  }

  #labels(project: ProjectInfo): string[] {
    return this.#some(project.labels, 0, 3).sort();
  }

  #words(count: number): string {
    return Array.from({ length: count }, () => this.#pick(WORDS)).join(" ");
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  #some<T>(items: readonly T[], min: number, max: number): T[] {
    const count = min + Math.floor(this.random() * (max - min + 1));
    const pool = [...items];
    const chosen: T[] = [];
    while (chosen.length < count && pool.length > 0) {
      chosen.push(pool.splice(Math.floor(this.random() * pool.length), 1)[0] as T);
    }
    return chosen;
  }
}

type Attempted<T> =
  | { value: T; inDoubt: boolean; error?: undefined }
  | { value?: undefined; error: ConnectError; inDoubt: boolean };
