import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueEvent_Kind as Kind } from "../gen/proto/tracker/v1/issue_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol, transportFor } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const commentsAs = (user = "alice", protocol: Protocol = "Connect binary over HTTP/2") =>
  createClient(CommentService, transportFor(protocol, server.baseUrl, user));

async function newIssue(): Promise<string> {
  const parent = await createProject(server);
  return (await clientsFor(server).issues.createIssue({ parent, issue: { title: "discussed" } })).name;
}

describe.each(PROTOCOLS)("CommentService over %s", (protocol) => {
  it("creates, lists, edits and deletes a comment", async () => {
    const issue = await newIssue();
    const comments = commentsAs("alice", protocol);
    const created = await comments.createComment({ parent: issue, comment: { body: "First!" } });
    expect(created).toMatchObject({
      name: `${issue}/comments/${created.uid}`,
      body: "First!",
      author: await userNamed(server, "alice"),
    });
    expect((await comments.listComments({ parent: issue })).comments).toEqual([created]);
    const edited = await comments.updateComment({
      comment: { name: created.name, body: "First, edited", etag: created.etag },
      updateMask: { paths: ["body"] },
    });
    expect(edited.body).toBe("First, edited");
    expect(edited.etag).not.toBe(created.etag);
    await comments.deleteComment({ name: created.name, etag: edited.etag });
    expect((await comments.listComments({ parent: issue })).comments).toEqual([]);
  });
});

describe("CommentService", () => {
  it("records every comment change in the issue's history", async () => {
    const issue = await newIssue();
    await addMember(server, issue.split("/issues/")[0] ?? "", "bob", "writer");
    const comments = commentsAs("bob");
    const comment = await comments.createComment({ parent: issue, comment: { body: "hello" } });
    await comments.updateComment({
      comment: { name: comment.name, body: "hello there" },
      updateMask: { paths: ["*"] },
    });
    const beforeDelete = (await clientsFor(server).issues.listIssueEvents({ parent: issue })).events;
    const edit = beforeDelete[2]?.changes[0];
    expect([edit?.oldValue?.kind.value, edit?.newValue?.kind.value]).toEqual(["hello", "hello there"]);
    await comments.deleteComment({ name: comment.name });
    const { events } = await clientsFor(server).issues.listIssueEvents({ parent: issue });
    expect(events.map((event) => [event.kind, event.comment])).toEqual([
      [Kind.ISSUE_CREATED, ""],
      [Kind.COMMENT_CREATED, comment.name],
      [Kind.COMMENT_UPDATED, comment.name],
      [Kind.COMMENT_DELETED, comment.name],
    ]);
    expect(events[1]?.actor).toBe(await userNamed(server, "bob"));
    expect(events[3]?.changes).toEqual([]);
    // The deleted text is gone from the earlier events too.
    expect(events[1]?.changes).toEqual([]);
    expect(events[2]?.changes).toEqual([]);
  });

  it("pages comments oldest first", async () => {
    const issue = await newIssue();
    const comments = commentsAs();
    for (let i = 0; i < 5; i++) await comments.createComment({ parent: issue, comment: { body: `c${i}` } });
    const first = await comments.listComments({ parent: issue, pageSize: 2 });
    const second = await comments.listComments({
      parent: issue,
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    const third = await comments.listComments({
      parent: issue,
      pageSize: 2,
      pageToken: second.nextPageToken,
    });
    expect([...first.comments, ...second.comments, ...third.comments].map((c) => c.body)).toEqual([
      "c0",
      "c1",
      "c2",
      "c3",
      "c4",
    ]);
    expect(third.nextPageToken).toBe("");
  });

  it("rejects an empty or oversized body, and an unknown mask path", async () => {
    const issue = await newIssue();
    const comments = commentsAs();
    const empty = await expectError(
      comments.createComment({ parent: issue, comment: { body: "" } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(empty)).toEqual(["comment.body"]);
    const huge = await expectError(
      comments.createComment({ parent: issue, comment: { body: "x".repeat(65_537) } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(huge)).toEqual(["comment.body"]);
    const comment = await comments.createComment({ parent: issue, comment: { body: "ok" } });
    const badMask = await expectError(
      comments.updateComment({
        comment: { name: comment.name, body: "x" },
        updateMask: { paths: ["author"] },
      }),
      Code.InvalidArgument,
    );
    expect(violatedFields(badMask)).toEqual(["update_mask"]);
    const cleared = await expectError(
      comments.updateComment({ comment: { name: comment.name, body: "" }, updateMask: { paths: ["body"] } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(cleared)).toEqual(["comment.body"]);
  });

  it("answers NOT_FOUND for a missing issue or comment, ABORTED for a stale etag", async () => {
    const issue = await newIssue();
    const comments = commentsAs();
    await expectError(comments.createComment({ parent: `${issue}9`, comment: { body: "x" } }), Code.NotFound);
    await expectError(comments.deleteComment({ name: `${issue}/comments/${randomUUID()}` }), Code.NotFound);
    const comment = await comments.createComment({ parent: issue, comment: { body: "v1" } });
    await comments.updateComment({
      comment: { name: comment.name, body: "v2" },
      updateMask: { paths: ["body"] },
    });
    await expectError(
      comments.deleteComment({ name: comment.name, etag: comment.etag }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect((await comments.listComments({ parent: issue })).comments.map((c) => c.body)).toEqual(["v2"]);
  });

  it("refuses comments on a deleted issue: FAILED_PRECONDITION", async () => {
    const issue = await newIssue();
    await clientsFor(server).issues.deleteIssue({ name: issue });
    await expectError(
      commentsAs().createComment({ parent: issue, comment: { body: "x" } }),
      Code.FailedPrecondition,
      "ISSUE_DELETED",
    );
  });

  it("comments once per request_id", async () => {
    const issue = await newIssue();
    const comments = commentsAs();
    const request = { parent: issue, comment: { body: "once" }, requestId: randomUUID() };
    const results = await Promise.all(Array.from({ length: 5 }, () => comments.createComment(request)));
    expect(new Set(results.map((comment) => comment.name)).size).toBe(1);
    expect((await comments.listComments({ parent: issue })).comments).toHaveLength(1);
  });
});
