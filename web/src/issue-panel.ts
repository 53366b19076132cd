// One open issue: read it, edit it with its etag (a conflict is told, never
// swallowed), close or reopen it, and discuss it; live events refresh it.
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  type Comment,
  ConnectError,
  type Issue,
  Issue_CloseReason,
  Issue_Priority,
  Issue_State,
  type IssueEvent,
  IssueEvent_Kind,
  type IssueRelation,
  IssueRelation_Type,
  type IssueSchema,
  isConflict,
  type Label,
  type Member,
  Member_Role,
} from "../../client/index.js";
import { field, h, mount, reconcile } from "./dom.js";
import { type Draft, drafted, hasDraft, takeDraft } from "./drafts.js";
import { closeReasonLabel, describeError, priorityLabel, STATES, slug, stateLabel, when } from "./format.js";
import { historyList } from "./history.js";
import { newRequestId } from "./ids.js";
import { DEADLINE_MS, plainText, renderMarkdown } from "./markdown.js";
import { issueNameFrom, issueNameOfKey, projectOf } from "./names.js";
import type { Session } from "./session.js";
import { closeReasonSelect, initials, labelChip, prioritySelect } from "./widgets.js";

/**
 * Worker time an issue's bodies may take before each of the rest gets
 * FAST_DEADLINE_MS: comments written to take marked most of a second each,
 * by the hundred, would otherwise hold every body after them for minutes.
 */
const WORKER_BUDGET_MS = 5_000;
/** Over what the longest bodies people write take marked on a loaded machine. */
const FAST_DEADLINE_MS = 300;

/** What an issue can be set to in its project: its labels, and its members to assign. */
export interface ProjectData {
  labels: Label[];
  members: Member[];
}

/** `user`'s role in the project, from its members: undefined for someone not (or no longer) a member. */
export function roleIn(data: ProjectData, user: string | undefined): Member_Role | undefined {
  return data.members.find((member) => member.user === user)?.role;
}

/** Writers and admins change issues, labels and comments; readers only look. */
export function mayWrite(role: Member_Role | undefined): boolean {
  return role === Member_Role.WRITER || role === Member_Role.ADMIN;
}

/** What the panel needs from the board around it. */
export interface Board {
  /** `users/{uid}` of who is signed in. */
  readonly currentUserName: string | undefined;
  projectData(project: string): Promise<ProjectData>;
  openIssue(name: string): Promise<void>;
  readonly session: Session;
  fail(error: unknown): void;
  info(message: string): void;
  refreshList(): Promise<void>;
  userName(name: string): Promise<string>;
  userSpan(name: string): HTMLSpanElement;
}

const ISSUE_KINDS = new Set([
  IssueEvent_Kind.ISSUE_CREATED,
  IssueEvent_Kind.ISSUE_UPDATED,
  IssueEvent_Kind.ISSUE_DELETED,
  IssueEvent_Kind.ISSUE_UNDELETED,
]);

type Mode = "view" | "edit";

export class IssuePanel {
  readonly element = h("article", { class: "issue" });
  private readonly head = h("div");
  private readonly notice = h("div", { class: "notice-slot" });
  private readonly commentList = h("ol", {
    class: "comments",
    "data-testid": "comments",
    "aria-label": "Comments",
  });
  private readonly commentHeading = h("h3", null, "Comments");
  private readonly history = h("section", { class: "history", "aria-label": "History" });
  private readonly links = h("section", {
    class: "links",
    "aria-label": "Related issues",
    "data-testid": "links",
  });
  issue: Issue | undefined;
  private data: ProjectData = { labels: [], members: [] };
  private comments: Comment[] = [];
  /** Formatted Markdown by comment (or issue) name, with the text it shows: a refresh formats only what changed. */
  private readonly formatted = new Map<string, { text: string; element: HTMLElement }>();
  /**
   * Each comment's item as shown, and what it shows (its version, whether it is the caller's and
   * being edited). Items stay in place across refreshes: one taken out and put back is laid out
   * again, which for long Markdown takes longer than formatting it.
   */
  private readonly commentItems = new Map<
    string,
    { shows: string; item: HTMLLIElement; time: HTMLElement }
  >();
  /**
   * Bodies shown as plain text, in order, to format one at a time: marked, in a worker (markdown.ts),
   * may take 0.3 s over one, and an issue shows up to 1,000 comments.
   */
  private unformatted: Array<{ key: string; text: string; slot: HTMLElement }> = [];
  private formatting = false;
  /** Worker time this issue's bodies took, against WORKER_BUDGET_MS. */
  private workerMs = 0;
  /** Unformatted bodies on (or near) the screen, formatted first. */
  private readonly visible = new Set<Element>();
  private readonly onScreen = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) this.visible.add(entry.target);
        else this.visible.delete(entry.target);
      }
    },
    { rootMargin: "200px" },
  );
  /** The comment being edited (one at a time), whose draft a refresh must not wipe. */
  private editingComment: string | undefined;
  private mode: Mode = "view";
  private closing = false;
  private readonly commentForm: HTMLFormElement;
  /** The assignee last chosen on the select, until saved (arrow keys choose at every step, faster than saves return). */
  private chosenAssignee: string | undefined;
  /** The assignee's saves, one after another, each with the etag the one before returned. */
  private assigneeSaves = Promise.resolve();
  /** Saves started, and how many are still going: a read from before one must not replace what it returns. */
  private savesStarted = 0;
  private savesGoing = 0;
  loaded = false;

  constructor(
    private readonly app: Board,
    readonly name: string,
  ) {
    const body = drafted(
      h("textarea", {
        rows: 3,
        required: true,
        placeholder: "Leave a comment…",
        maxLength: 65536,
        value: takeDraft(`${name}/comment`)?.body ?? "",
      }),
      `${name}/comment`,
      "body",
    );
    const send = h("button", { type: "submit", class: "button primary" }, "Comment");
    const form = h(
      "form",
      {
        class: "comment-form",
        // Until the caller's role is known: a reader gets none.
        hidden: true,
        onsubmit: async (event: Event) => {
          event.preventDefault();
          send.disabled = true;
          try {
            const comment = await this.app.session.clients.comments.createComment({
              parent: this.name,
              comment: { body: body.value },
              requestId: newRequestId(),
            });
            body.value = "";
            if (!this.comments.some((known) => known.name === comment.name)) this.comments.push(comment);
            this.renderComments();
          } catch (error) {
            this.app.fail(error);
          } finally {
            send.disabled = false;
          }
        },
      },
      field("Add a comment", body),
      h("div", { class: "actions" }, send),
    );
    this.commentForm = form;
    mount(
      this.element,
      this.notice,
      this.head,
      this.links,
      h(
        "section",
        { class: "discussion", "aria-label": "Discussion" },
        this.commentHeading,
        this.commentList,
        form,
      ),
      this.history,
    );
    mount(this.head, h("div", { class: "skeleton" }, "Loading…"));
  }

  private get clients() {
    return this.app.session.clients;
  }

  /** Fetches the issue and its comments; leaves an edit in progress alone. */
  async reload() {
    const savesBefore = this.savesStarted;
    try {
      const [issue, comments, data] = await Promise.all([
        this.clients.issues.getIssue({ name: this.name }),
        this.listComments(),
        this.app.projectData(projectOf(this.name)),
      ]);
      void this.loadHistory();
      void this.loadLinks(issue);
      this.loaded = true;
      this.comments = comments;
      this.data = data;
      this.commentForm.hidden = !this.canWrite();
      // A comment being edited when the session ended is edited again.
      this.editingComment ??= comments.find((comment) => hasDraft(comment.name))?.name;
      if (!this.editingComment || !this.commentList.querySelector(".comment-edit")) this.renderComments();
      if (this.mode === "edit" || this.savesGoing > 0 || this.savesStarted !== savesBefore) return;
      this.issue = issue;
      this.renderView();
      const draft = takeDraft(`${this.name}/edit`);
      if (draft) this.enterEdit(draft);
    } catch (error) {
      // Never loaded (a wrong link, or an issue gone): one error in place of the whole
      // panel, no comment box; once shown, a failed refresh is only reported.
      if (this.loaded || ConnectError.from(error).code === Code.Unauthenticated) {
        this.app.fail(error);
        return;
      }
      mount(
        this.element,
        h(
          "div",
          { class: "empty", role: "alert", "data-testid": "issue-error" },
          h(
            "h2",
            null,
            ConnectError.from(error).code === Code.NotFound ? "Issue not found" : "Could not load the issue",
          ),
          h("p", { class: "muted" }, describeError(error)),
        ),
      );
    }
  }

  /** Its parent, sub-issues and relations, each with its key and title, as links. */
  private async loadLinks(issue: Issue) {
    try {
      const [subIssues, relations, parent] = await Promise.all([
        this.clients.issues.listIssues({
          parent: projectOf(this.name),
          pageSize: 100,
          orderBy: "sub_issue_order",
          filter: { parent: this.name },
        }),
        this.clients.relations.listIssueRelations({ parent: this.name, pageSize: 100 }),
        issue.parent ? this.clients.issues.getIssue({ name: issue.parent }) : undefined,
      ]);
      const related = await Promise.all(
        relations.issueRelations.map(async (relation) => ({
          relation,
          // Shown to us, so readable; a race with its deletion leaves just the name.
          issue: await this.clients.issues.getIssue({ name: relation.relatedIssue }).catch(() => undefined),
        })),
      );
      const writer = this.canWrite();
      const item = (name: string, target: Issue | undefined, prefix?: string, remove?: HTMLElement | false) =>
        h(
          "li",
          { "data-testid": "link" },
          prefix && h("span", { class: "muted" }, `${prefix} `),
          h(
            "a",
            {
              href: `/${name}`,
              onclick: (event: MouseEvent) => {
                if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                event.preventDefault();
                void this.app.openIssue(name);
              },
            },
            target ? `${target.key} ${target.title}` : name,
          ),
          target && target.state === Issue_State.CLOSED && h("span", { class: "muted small" }, " (closed)"),
          remove,
        );
      const removeButton = (label: string, run: () => Promise<unknown>) =>
        h("button", {
          type: "button",
          // Its × is drawn by CSS, so the link's text stays the link's.
          class: "icon-button remove-link",
          "aria-label": label,
          title: label,
          onclick: async () => {
            try {
              await run();
              this.app.info("Link removed");
              await this.reload();
            } catch (error) {
              this.app.fail(error);
            }
          },
        });
      mount(
        this.links,
        parent && [
          h("h3", null, "Parent issue"),
          h(
            "ul",
            { class: "link-list" },
            item(
              parent.name,
              parent,
              undefined,
              writer &&
                removeButton(`Remove from ${parent.key}`, () =>
                  this.clients.issues.updateIssue({
                    issue: { name: issue.name, etag: this.issue?.etag ?? issue.etag, parent: "" },
                    updateMask: { paths: ["parent"] },
                  }),
                ),
            ),
          ),
        ],
        subIssues.issues.length > 0 && [
          h("h3", null, `Sub-issues (${subIssues.issues.length})`),
          h(
            "ul",
            { class: "link-list", "data-testid": "sub-issues" },
            subIssues.issues.map((sub) => item(sub.name, sub)),
          ),
        ],
        related.length > 0 && [
          h("h3", null, "Relations"),
          h(
            "ul",
            { class: "link-list", "data-testid": "relations" },
            related.map(({ relation, issue: target }) =>
              item(
                relation.relatedIssue,
                target,
                relationLabel(relation),
                writer &&
                  removeButton(`Remove link to ${target?.key ?? relation.relatedIssue}`, () =>
                    this.clients.relations.deleteIssueRelation({ name: relation.name }),
                  ),
              ),
            ),
          ),
        ],
        writer && this.linkForms(),
      );
    } catch (error) {
      this.app.fail(error);
    }
  }

  /** A writer's or an admin's: a reader is not offered what would fail. */
  private canWrite(): boolean {
    return mayWrite(roleIn(this.data, this.app.currentUserName));
  }

  /** Examples in this project's key, not another's. */
  private get exampleKey(): string {
    return projectOf(this.name).slice("projects/".length);
  }

  /** Relating another issue, and adding a sub-issue: a new one by its title, or an existing one by its key. */
  private linkForms(): HTMLElement {
    const project = projectOf(this.name);
    const inlineForm = (
      label: string,
      controls: HTMLElement[],
      submit: string,
      run: (error: HTMLElement) => Promise<void>,
    ) => {
      const error = h("p", { class: "form-error", role: "alert" });
      const button = h("button", { type: "submit", class: "button" }, submit);
      return h(
        "form",
        {
          class: "link-form",
          "aria-label": label,
          onsubmit: async (event: Event) => {
            event.preventDefault();
            error.textContent = "";
            button.disabled = true;
            try {
              await run(error);
            } catch (failure) {
              error.textContent = describeError(failure);
            } finally {
              button.disabled = false;
            }
          },
        },
        controls,
        button,
        error,
      );
    };
    const type = h(
      "select",
      null,
      LINK_TYPES.map(([value, text]) => h("option", { value: String(value) }, text)),
    );
    const related = h("input", {
      required: true,
      autocomplete: "off",
      maxLength: 200,
      placeholder: `${this.exampleKey}-12`,
    });
    const relate = inlineForm(
      "Link an issue",
      [field("Relation", type), field("Issue", related)],
      "Link",
      async (error) => {
        const typed = related.value;
        const relatedIssue = issueNameFrom(typed, project);
        if (!relatedIssue) {
          error.textContent = `Name the issue by its key (${this.exampleKey}-12), its number, or its link.`;
          return;
        }
        await this.clients.relations.createIssueRelation({
          parent: this.name,
          issueRelation: { type: Number(type.value), relatedIssue },
          requestId: newRequestId(),
        });
        // Unless the next one is typed already.
        if (related.value === typed) related.value = "";
        this.app.info("Linked");
        await this.reload();
      },
    );
    const sub = h("input", {
      required: true,
      autocomplete: "off",
      maxLength: 256,
      placeholder: `A new sub-issue's title, or ${this.exampleKey}-7 to move one here`,
    });
    const addSub = inlineForm("Add a sub-issue", [field("Sub-issue", sub)], "Add sub-issue", async () => {
      const typed = sub.value;
      // A key moves that issue here; anything else is the title of a new one.
      const existing = issueNameOfKey(typed);
      if (existing) {
        const moved = await this.clients.issues.getIssue({ name: existing });
        await this.clients.issues.updateIssue({
          issue: { name: existing, etag: moved.etag, parent: this.name },
          updateMask: { paths: ["parent"] },
        });
        this.app.info(`Moved ${moved.key} under ${this.issue?.key ?? "this issue"}`);
      } else {
        const created = await this.clients.issues.createIssue({
          parent: project,
          issue: { title: typed.trim(), parent: this.name },
          requestId: newRequestId(),
        });
        this.app.info(`Filed ${created.key}`);
      }
      if (sub.value === typed) sub.value = "";
      await Promise.all([this.reload(), this.app.refreshList()]);
    });
    return h("div", { class: "link-forms" }, relate, addSub);
  }

  /** The latest 200 events at most, oldest first: a timeline, not an audit export. */
  private async loadHistory() {
    try {
      const page = await this.clients.issues.listIssueEvents({ parent: this.name, pageSize: 200 });
      mount(
        this.history,
        h("h3", null, "History"),
        historyList(page.events, { labels: this.data.labels, userSpan: (name) => this.app.userSpan(name) }),
      );
    } catch (error) {
      this.app.fail(error);
    }
  }

  private async listComments(): Promise<Comment[]> {
    const comments: Comment[] = [];
    let pageToken = "";
    do {
      const page = await this.clients.comments.listComments({ parent: this.name, pageSize: 200, pageToken });
      comments.push(...page.comments);
      pageToken = page.nextPageToken;
    } while (pageToken && comments.length < 1000);
    return comments;
  }

  /** A live event about this issue. */
  onEvent(event: IssueEvent) {
    void this.loadHistory();
    if (event.kind === IssueEvent_Kind.RELATION_CREATED || event.kind === IssueEvent_Kind.RELATION_DELETED) {
      if (this.issue) void this.loadLinks(this.issue);
      return;
    }
    if (!ISSUE_KINDS.has(event.kind)) {
      void this.listComments()
        .then((comments) => {
          this.comments = comments;
          if (!this.editingComment) this.renderComments();
        })
        .catch((error) => this.app.fail(error));
      return;
    }
    if (this.mode === "edit") this.showStale();
    else void this.reload();
  }

  onReconnected() {
    if (this.loaded && this.mode === "view") void this.reload();
  }

  // ---- Reading ------------------------------------------------------------

  private renderView() {
    const issue = this.issue as Issue;
    this.mode = "view";
    const state = stateLabel(issue.state);
    const priority = priorityLabel(issue.priority);
    const created = when(issue.createTime);
    const updated = when(issue.updateTime);
    const closed = issue.state === Issue_State.CLOSED;
    // A re-render (a save, a live update) must not take the keyboard's place away, say from the
    // assignee select mid arrow keys: the control of the same name gets the focus back.
    const focused = this.head.contains(document.activeElement)
      ? document.activeElement?.getAttribute("name")
      : undefined;
    mount(
      this.head,
      h(
        "header",
        { class: "issue-head" },
        h(
          "div",
          { class: "issue-meta" },
          h("span", { class: "issue-key" }, issue.key),
          h("span", { class: "muted" }, " · opened by "),
          this.app.userSpan(issue.reporter),
          h("time", { class: "muted", title: created.title }, ` ${created.text}`),
        ),
        h("h2", { class: "issue-heading", "data-testid": "issue-title" }, issue.title),
        h(
          "div",
          { class: "badges" },
          h("span", { class: `badge state-${slug(state)}`, "data-testid": "issue-state" }, state),
          closed && issue.closeReason
            ? h("span", { class: "badge subtle-badge" }, closeReasonLabel(issue.closeReason))
            : null,
          issue.deleteTime ? h("span", { class: "badge state-deleted" }, "Deleted") : null,
          h(
            "span",
            { class: `badge priority-badge priority-${slug(priority)}`, "data-testid": "issue-priority" },
            h("span", { class: `priority-icon priority-${slug(priority)}`, "aria-hidden": "true" }),
            priority,
          ),
          h("span", { class: "muted small", title: updated.title }, `updated ${updated.text}`),
        ),
        issue.labels.length > 0 &&
          h(
            "div",
            { class: "badges", "data-testid": "issue-labels" },
            issue.labels.map((name) => {
              const label = this.data.labels.find((known) => known.name === name);
              return label ? labelChip(label) : null;
            }),
          ),
      ),
      this.peopleAndLabels(issue),
      this.canWrite() &&
        h(
          "div",
          { class: "issue-actions" },
          h("button", { type: "button", class: "button", onclick: () => this.enterEdit() }, "Edit"),
          closed
            ? h(
                "button",
                { type: "button", class: "button", onclick: () => void this.reopen() },
                "Reopen issue",
              )
            : h(
                "button",
                {
                  type: "button",
                  class: "button",
                  "aria-expanded": String(this.closing),
                  onclick: () => {
                    this.closing = !this.closing;
                    this.renderView();
                  },
                },
                "Close issue",
              ),
        ),
      this.closing && !closed ? this.closeForm() : null,
      issue.body
        ? this.markdown(this.name, issue.body, { class: "issue-body markdown", "data-testid": "issue-body" })
        : h("p", { class: "issue-body muted" }, "No description."),
    );
    void this.formatLater();
    if (focused) this.head.querySelector<HTMLElement>(`[name="${CSS.escape(focused)}"]`)?.focus();
  }

  /** The assignee, from the project's members, and the labels, from the project's. */
  private peopleAndLabels(issue: Issue): HTMLElement {
    // What the select shows: the choice not yet saved, if any, lest a save in between move it back.
    const shown = this.chosenAssignee ?? issue.assignee;
    const assignee = h(
      "select",
      {
        name: "assignee",
        onchange: () => {
          this.chosenAssignee = assignee.value;
          this.assigneeSaves = this.assigneeSaves.then(() => this.saveChosenAssignee());
        },
      },
      h("option", { value: "" }, "Unassigned"),
      // A former member still assigned stays visible.
      shown && !this.data.members.some((member) => member.user === shown)
        ? this.userOption(shown, true)
        : null,
      this.data.members.map((member) => this.userOption(member.user, member.user === shown)),
    );
    // A reader may look, not change: the assignee shows, disabled, instead of failing on use.
    const reader = !this.canWrite();
    assignee.disabled = reader;
    const boxes = this.data.labels.map((label) =>
      h(
        "label",
        { class: "label-option" },
        h("input", {
          type: "checkbox",
          name: label.name,
          disabled: reader,
          checked: issue.labels.includes(label.name),
          onchange: (event: Event) => {
            const on = (event.target as HTMLInputElement).checked;
            const labels = on
              ? [...issue.labels, label.name].sort()
              : issue.labels.filter((name) => name !== label.name);
            void this.update(
              { name: issue.name, etag: issue.etag, labels },
              ["labels"],
              [["Labels", labels.map((name) => name.slice(name.lastIndexOf("/") + 1)).join(", ")]],
            );
          },
        }),
        labelChip(label),
      ),
    );
    return h(
      "div",
      { class: "issue-fields" },
      field("Assignee", assignee),
      h(
        "fieldset",
        { class: "label-options" },
        h("legend", { class: "field-label" }, "Labels"),
        boxes.length ? boxes : h("span", { class: "muted small" }, "No labels in this project yet."),
      ),
    );
  }

  private userOption(user: string, selected: boolean): HTMLOptionElement {
    const option = h("option", { value: user, selected }, "…");
    void this.app.userName(user).then((name) => {
      option.textContent = name;
    });
    return option;
  }

  private renderComments() {
    this.commentHeading.textContent = this.comments.length
      ? `Comments (${this.comments.length})`
      : "Comments";
    reconcile(
      this.commentList,
      this.comments.length === 0
        ? [h("li", { class: "muted small no-comments" }, "No comments yet.")]
        : this.comments.map((comment) => this.commentItem(comment)),
    );
    void this.formatLater();
  }

  /** The comment's item: the one shown already if nothing it shows changed, with its time brought up to date. */
  private commentItem(comment: Comment): HTMLLIElement {
    const written = when(comment.createTime);
    // A reader (say, a writer made one) may no longer change even their own.
    const own = comment.author === this.app.currentUserName && this.canWrite();
    const editing = own && comment.name === this.editingComment;
    const shows = `${comment.etag} ${own} ${editing}`;
    const known = this.commentItems.get(comment.name);
    if (known?.shows === shows) {
      known.time.textContent = ` ${written.text}`;
      return known.item;
    }
    const avatar = h("span", { class: "avatar small", "aria-hidden": "true" }, "•");
    void this.app.userName(comment.author).then((name) => {
      avatar.textContent = initials(name);
    });
    const time = h("time", { class: "muted small", title: written.title }, ` ${written.text}`);
    const item = h(
      "li",
      { class: "comment", "data-testid": "comment" },
      avatar,
      h(
        "div",
        { class: "comment-main" },
        h(
          "div",
          { class: "comment-meta" },
          this.app.userSpan(comment.author),
          time,
          own && !editing
            ? h(
                "span",
                { class: "comment-actions" },
                h(
                  "button",
                  {
                    type: "button",
                    class: "button subtle small",
                    onclick: () => {
                      this.editingComment = comment.name;
                      this.renderComments();
                    },
                  },
                  "Edit comment",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "button subtle small",
                    onclick: () => void this.deleteComment(comment),
                  },
                  "Delete comment",
                ),
              )
            : null,
        ),
        editing ? this.commentEditor(comment) : this.markdown(comment.name, comment.body, COMMENT_BODY),
      ),
    );
    this.commentItems.set(comment.name, { shows, item, time });
    return item;
  }

  /** `text` as Markdown if formatted already, else as plain text until its turn (the issue's body first). */
  private markdown(key: string, text: string, props: Record<string, string>): HTMLElement {
    const known = this.formatted.get(key);
    if (known?.text === text) return known.element;
    const slot = h("div", props, plainText(text, "it is not formatted yet"));
    const body = { key, text, slot };
    if (key === this.name) this.unformatted.unshift(body);
    else this.unformatted.push(body);
    this.onScreen.observe(slot);
    return slot;
  }

  /**
   * The next body to format: the first on screen, else the first in order.
   * Whatever comes before, what the reader is looking at waits one body at most.
   */
  private nextUnformatted() {
    const index = this.unformatted.findIndex((body) => this.visible.has(body.slot));
    return this.unformatted.splice(Math.max(index, 0), 1)[0];
  }

  /** Formats the bodies left as plain text, one at a time, once they are on the page. */
  private async formatLater() {
    if (this.formatting) return;
    this.formatting = true;
    for (let next = this.nextUnformatted(); next; next = this.nextUnformatted()) {
      this.onScreen.unobserve(next.slot);
      this.visible.delete(next.slot);
      // One a newer rendering replaced, or of a panel closed since, is not worth the time.
      if (!next.slot.isConnected) continue;
      const deadline = this.workerMs < WORKER_BUDGET_MS ? DEADLINE_MS : FAST_DEADLINE_MS;
      const started = performance.now();
      next.slot.replaceChildren(await renderMarkdown(next.text, deadline));
      this.workerMs += performance.now() - started;
      this.formatted.set(next.key, { text: next.text, element: next.slot });
    }
    this.formatting = false;
  }

  private commentEditor(comment: Comment): HTMLFormElement {
    // A draft kept when the session ended carries the etag it was editing.
    const draft = takeDraft(comment.name);
    const etag = draft?.etag ?? comment.etag;
    const body = drafted(
      h("textarea", { rows: 3, required: true, maxLength: 65536, value: draft?.body ?? comment.body }),
      comment.name,
      "body",
    );
    const save = h("button", { type: "submit", class: "button primary" }, "Save comment");
    const form = h(
      "form",
      {
        class: "comment-edit",
        onsubmit: async (event: Event) => {
          event.preventDefault();
          save.disabled = true;
          try {
            // With the etag read: an edit made meanwhile elsewhere is refused, not overwritten.
            const updated = await this.clients.comments.updateComment({
              comment: { name: comment.name, body: body.value, etag },
              updateMask: { paths: ["body"] },
            });
            this.comments = this.comments.map((known) => (known.name === updated.name ? updated : known));
            this.editingComment = undefined;
            this.renderComments();
          } catch (error) {
            this.app.fail(error);
            save.disabled = false;
          }
        },
      },
      field("Edit your comment", body),
      drafted(h("input", { type: "hidden", value: etag }), comment.name, "etag"),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "button subtle",
            onclick: () => {
              this.editingComment = undefined;
              this.renderComments();
            },
          },
          "Cancel",
        ),
        save,
      ),
    );
    queueMicrotask(() => body.focus());
    return form;
  }

  private async deleteComment(comment: Comment) {
    if (!window.confirm("Delete this comment? This cannot be undone.")) return;
    try {
      await this.clients.comments.deleteComment({ name: comment.name, etag: comment.etag });
      this.comments = this.comments.filter((known) => known.name !== comment.name);
      this.renderComments();
      this.app.info("Comment deleted");
    } catch (error) {
      this.app.fail(error);
    }
  }

  // ---- Changing -----------------------------------------------------------

  private closeForm(): HTMLElement {
    const reason = closeReasonSelect(Issue_CloseReason.COMPLETED);
    const original = h("input", {
      autocomplete: "off",
      maxLength: 200,
      placeholder: `${this.exampleKey}-12`,
    });
    const originalField = field("Duplicate of", original, "optional: the original, which gets linked");
    const error = h("p", { class: "form-error", role: "alert" });
    const showOriginal = () => {
      originalField.hidden = Number(reason.value) !== Issue_CloseReason.DUPLICATE;
    };
    reason.addEventListener("change", showOriginal);
    showOriginal();
    return h(
      "form",
      {
        class: "close-form",
        "aria-label": "Close issue",
        onsubmit: async (event: Event) => {
          event.preventDefault();
          const issue = this.issue as Issue;
          const duplicate = Number(reason.value) === Issue_CloseReason.DUPLICATE && original.value.trim();
          const duplicateOf = duplicate ? issueNameFrom(original.value, projectOf(issue.name)) : "";
          if (duplicateOf === undefined) {
            error.textContent = `Name the original by its key (${this.exampleKey}-12), its number, or its link.`;
            return;
          }
          await this.update(
            {
              name: issue.name,
              etag: issue.etag,
              state: Issue_State.CLOSED,
              closeReason: Number(reason.value),
            },
            ["state", "close_reason"],
            [["State", "Closed"]],
            duplicateOf,
          );
        },
      },
      field("Close reason", reason),
      originalField,
      error,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "button subtle",
            onclick: () => {
              this.closing = false;
              this.renderView();
            },
          },
          "Cancel",
        ),
        h("button", { type: "submit", class: "button danger" }, "Confirm close"),
      ),
    );
  }

  private async reopen() {
    const issue = this.issue as Issue;
    await this.update(
      { name: issue.name, etag: issue.etag, state: Issue_State.OPEN },
      ["state"],
      [["State", "Open"]],
    );
  }

  /** The edit form, filled from the issue, or from the draft kept when the session ended. */
  private enterEdit(draft?: Draft) {
    const issue = this.issue as Issue;
    this.mode = "edit";
    this.closing = false;
    mount(this.notice);
    // The version being edited: saving sends its etag, so a change by
    // someone else meanwhile is a conflict instead of a silent overwrite.
    // A draft's is the version it was typed on.
    const etag = draft?.etag ?? issue.etag;
    const key = `${this.name}/edit`;
    const title = drafted(
      h("input", { required: true, maxLength: 256, value: draft?.title ?? issue.title, autocomplete: "off" }),
      key,
      "title",
    );
    const body = drafted(
      h("textarea", { rows: 8, maxLength: 65536, value: draft?.body ?? issue.body }),
      key,
      "body",
    );
    const draftState = draft?.state ? Number(draft.state) : issue.state;
    const state = drafted(
      h(
        "select",
        null,
        STATES.map(([value, label]) =>
          h("option", { value: String(value), selected: value === draftState }, label),
        ),
      ),
      key,
      "state",
    );
    const reason = drafted(
      closeReasonSelect(
        draft?.reason
          ? (Number(draft.reason) as Issue_CloseReason)
          : issue.closeReason || Issue_CloseReason.COMPLETED,
      ),
      key,
      "reason",
    );
    const reasonField = field("Close reason", reason);
    const syncReason = () => {
      reasonField.hidden = Number(state.value) !== Issue_State.CLOSED;
    };
    state.addEventListener("change", syncReason);
    syncReason();
    const priority = drafted(
      prioritySelect(
        draft?.priority ? (Number(draft.priority) as Issue_Priority) : issue.priority || Issue_Priority.NONE,
      ),
      key,
      "priority",
    );
    const save = h("button", { type: "submit", class: "button primary" }, "Save");
    mount(
      this.head,
      h(
        "form",
        {
          class: "edit-form",
          "aria-label": `Edit ${issue.key}`,
          onsubmit: async (event: Event) => {
            event.preventDefault();
            const changes: MessageInitShape<typeof IssueSchema> = { name: issue.name, etag };
            const paths: string[] = [];
            const draft: Array<[string, string]> = [];
            if (title.value.trim() !== issue.title) {
              paths.push("title");
              changes.title = title.value.trim();
              draft.push(["Title", changes.title]);
            }
            if (body.value !== issue.body) {
              paths.push("body");
              changes.body = body.value;
              draft.push(["Description", body.value]);
            }
            const newState = Number(state.value) as Issue_State;
            const newReason = Number(reason.value) as Issue_CloseReason;
            if (newState !== issue.state) {
              paths.push("state");
              changes.state = newState;
              draft.push(["State", stateLabel(newState)]);
            }
            if (
              newState === Issue_State.CLOSED &&
              (newState !== issue.state || newReason !== issue.closeReason)
            ) {
              paths.push("close_reason");
              changes.closeReason = newReason;
              draft.push(["Close reason", closeReasonLabel(newReason)]);
            }
            const newPriority = Number(priority.value) as Issue_Priority;
            if (newPriority !== issue.priority) {
              paths.push("priority");
              changes.priority = newPriority;
              draft.push(["Priority", priorityLabel(newPriority)]);
            }
            if (paths.length === 0) {
              this.renderView();
              return;
            }
            save.disabled = true;
            try {
              await this.update(changes, paths, draft);
            } finally {
              save.disabled = false;
            }
          },
        },
        h(
          "div",
          { class: "issue-meta" },
          h("span", { class: "issue-key" }, issue.key),
          h("span", { class: "muted" }, " · editing"),
        ),
        field("Title", title),
        drafted(h("input", { type: "hidden", value: etag }), key, "etag"),
        field("Description", body, "Markdown is fine."),
        h("div", { class: "form-row" }, field("State", state), reasonField, field("Priority", priority)),
        h(
          "div",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              class: "button subtle",
              onclick: () => {
                mount(this.notice);
                this.mode = "view";
                void this.reload();
              },
            },
            "Cancel",
          ),
          save,
        ),
      ),
    );
    title.focus();
  }

  /**
   * Saves the assignee last chosen, if not saved yet, with the etag of the issue as
   * the save before left it: choices made meanwhile were coalesced into this one.
   */
  private async saveChosenAssignee() {
    const chosen = this.chosenAssignee;
    const issue = this.issue;
    if (chosen === undefined || !issue) return;
    if (chosen !== issue.assignee) {
      const who = chosen ? await this.app.userName(chosen) : "Unassigned";
      await this.update(
        { name: issue.name, etag: issue.etag, assignee: chosen },
        ["assignee"],
        [["Assignee", who]],
      );
    }
    // A newer choice is saved by the save queued with it.
    if (this.chosenAssignee === chosen) this.chosenAssignee = undefined;
  }

  /** UpdateIssue with the etag read; a conflict is told, never swallowed. */
  private async update(
    changes: MessageInitShape<typeof IssueSchema>,
    paths: string[],
    draft: Array<[string, string]>,
    duplicateOf = "",
  ) {
    this.savesStarted += 1;
    this.savesGoing += 1;
    try {
      const updated = await this.clients.issues.updateIssue({
        issue: changes,
        updateMask: { paths },
        duplicateOf,
      });
      this.issue = updated;
      this.closing = false;
      mount(this.notice);
      this.renderView();
      void this.loadHistory();
      this.app.info(`Saved ${updated.key}`);
      void this.app.refreshList();
    } catch (error) {
      if (isConflict(error)) this.showConflict(draft);
      else this.app.fail(error);
    } finally {
      this.savesGoing -= 1;
    }
  }

  /** While editing, someone else changed the issue: say so now, not only on save. */
  private showStale() {
    if (this.notice.querySelector("[data-testid=conflict]")) return;
    mount(
      this.notice,
      h(
        "div",
        { class: "notice notice-warning", role: "status", "data-testid": "stale-notice" },
        h(
          "p",
          null,
          h("strong", null, "Heads up: "),
          "someone just changed this issue. Saving now will conflict.",
        ),
        h(
          "div",
          { class: "notice-actions" },
          h(
            "button",
            { type: "button", class: "button subtle", onclick: () => void this.discardAndReload() },
            "Discard my edit and reload",
          ),
        ),
      ),
    );
  }

  private showConflict(draft: Array<[string, string]>) {
    const key = this.issue?.key ?? "This issue";
    const reloadButton = h(
      "button",
      { type: "button", class: "button primary", onclick: () => void this.discardAndReload() },
      "Reload issue",
    );
    mount(
      this.notice,
      h(
        "div",
        { class: "notice notice-conflict", role: "alert", "data-testid": "conflict" },
        h("h3", null, "Conflict: your changes were not saved"),
        h(
          "p",
          null,
          `${key} was changed by someone else after you opened it. Nothing was overwritten. `,
          "Reload to see the latest version, then make your change again.",
        ),
        draft.length > 0 &&
          h(
            "details",
            null,
            h("summary", null, "Your unsaved changes"),
            h(
              "dl",
              { class: "draft" },
              draft.map(([label, value]) => [h("dt", null, label), h("dd", null, value || "(empty)")]),
            ),
          ),
        h("div", { class: "notice-actions" }, reloadButton),
      ),
    );
    reloadButton.focus({ preventScroll: false });
  }

  private async discardAndReload() {
    mount(this.notice);
    this.mode = "view";
    this.closing = false;
    await this.reload();
    this.app.info(`Reloaded ${this.issue?.key ?? "the issue"}`);
  }
}

const COMMENT_BODY = { class: "comment-body markdown" };

/** What "Link an issue" offers, as seen from this issue. */
const LINK_TYPES: Array<[IssueRelation_Type, string]> = [
  [IssueRelation_Type.BLOCKS, "Blocks"],
  [IssueRelation_Type.BLOCKED_BY, "Blocked by"],
  [IssueRelation_Type.RELATES_TO, "Relates to"],
  [IssueRelation_Type.DUPLICATE_OF, "Duplicate of"],
  [IssueRelation_Type.DUPLICATED_BY, "Duplicated by"],
];

function relationLabel(relation: IssueRelation): string {
  switch (relation.type) {
    case IssueRelation_Type.BLOCKS:
      return "Blocks";
    case IssueRelation_Type.BLOCKED_BY:
      return "Blocked by";
    case IssueRelation_Type.DUPLICATE_OF:
      return "Duplicate of";
    case IssueRelation_Type.DUPLICATED_BY:
      return "Duplicated by";
    default:
      return "Relates to";
  }
}
