import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Member, MemberService, Member_Role as Role } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { inProcessTransport } from "./support/in-process.js";
import { testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, transportFor } from "./support/transports.js";

let server: TestServer;
// In process (the handler tier) where the protocol does not matter, over
// every protocol on a socket in "MemberService over ..."; requests come from alice.
let members: Client<typeof MemberService>;
let projects: Client<typeof ProjectService>;
let alice: string;
beforeAll(async () => {
  server = await startTestServer();
  members = createClient(MemberService, inProcessTransport(server.ctx));
  projects = createClient(ProjectService, inProcessTransport(server.ctx));
  alice = (await createClient(UserService, inProcessTransport(server.ctx)).getCurrentUser({})).name;
});
afterAll(() => server.close());

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

// Projects and users are shared by all tests, so each test makes its own.
let sequence = 0;
const unique = () =>
  `${(sequence++).toString(36).toUpperCase().padStart(4, "0")}${Math.floor(Math.random() * 1e4)}`;

/** A project alice creates, which makes her its first admin. */
async function newProject(): Promise<string> {
  const key = `M${unique()}`;
  return (await projects.createProject({ projectId: key, project: { displayName: key } })).name;
}

/** A user who has called the API once, and so exists. */
async function newUser(): Promise<string> {
  const users = createClient(UserService, inProcessTransport(server.ctx, `member-${unique()}`));
  return (await users.getCurrentUser({})).name;
}

const uidOf = (user: string) => user.slice("users/".length);
const memberOf = (parent: string, user: string) => `${parent}/members/${uidOf(user)}`;

async function addMember(parent: string, role = Role.READER): Promise<Member> {
  return members.createMember({ parent, member: { user: await newUser(), role } });
}

async function listAll(parent: string, pageSize = 1000): Promise<Member[]> {
  const all: Member[] = [];
  let pageToken = "";
  for (;;) {
    const response = await members.listMembers({ parent, pageSize, pageToken });
    expect(response.members.length).toBeLessThanOrEqual(pageSize);
    all.push(...response.members);
    if (response.nextPageToken === "") return all;
    pageToken = response.nextPageToken;
  }
}

describe.each(PROTOCOLS)("MemberService over %s", (protocol) => {
  let client: Client<typeof MemberService>;
  beforeAll(() => {
    client = createClient(MemberService, transportFor(protocol, server.baseUrl));
  });

  it("makes the creator of a project its first admin", async () => {
    const parent = await newProject();
    const { members: listed, nextPageToken } = await client.listMembers({ parent });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: memberOf(parent, alice), user: alice, role: Role.ADMIN });
    expect(nextPageToken).toBe("");
  });

  it("adds a user with a role, lists, updates and removes the member", async () => {
    const parent = await newProject();
    const user = await newUser();
    const created = await client.createMember({ parent, member: { user, role: Role.WRITER } });
    expect(created).toMatchObject({
      name: memberOf(parent, user),
      user,
      role: Role.WRITER,
      etag: expect.stringMatching(/.+/),
    });
    expect(created.createTime?.seconds).toBeGreaterThan(0n);
    expect(created.updateTime).toEqual(created.createTime);
    expect((await client.listMembers({ parent })).members).toContainEqual(created);

    const updated = await client.updateMember({
      member: { ...created, role: Role.ADMIN },
      updateMask: mask("role"),
    });
    expect(updated).toMatchObject({ name: created.name, role: Role.ADMIN, createTime: created.createTime });
    expect(updated.etag).not.toBe(created.etag);
    expect(updated.updateTime).not.toEqual(created.updateTime);

    await client.deleteMember({ name: updated.name, etag: updated.etag });
    expect((await client.listMembers({ parent })).members.map((member) => member.user)).toEqual([alice]);
  });
});

describe("ListMembers", () => {
  it("pages through every member once, in the order they joined", async () => {
    const parent = await newProject();
    const added: string[] = [memberOf(parent, alice)];
    for (let n = 0; n < 6; n++) added.push((await addMember(parent)).name);
    expect((await listAll(parent, 2)).map((member) => member.name)).toEqual(added);
  });

  it("neither repeats nor skips a member while members join between pages", async () => {
    const parent = await newProject();
    for (let n = 0; n < 5; n++) await addMember(parent);
    const before = (await listAll(parent)).map((member) => member.name);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const response = await members.listMembers({ parent, pageSize: 2, pageToken });
      seen.push(...response.members.map((member) => member.name));
      pageToken = response.nextPageToken;
      if (pageToken !== "") await addMember(parent);
    } while (pageToken !== "");
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, before.length)).toEqual(before);
  });

  it("returns NOT_FOUND for a project that does not exist", async () => {
    await expectError(members.listMembers({ parent: "projects/NOPE" }), Code.NotFound, "RESOURCE_NOT_FOUND");
  });

  it("rejects a negative page size and a token of another project", async () => {
    const negative = await expectError(
      members.listMembers({ parent: "projects/CORE", pageSize: -1 }),
      Code.InvalidArgument,
    );
    expect(violatedFields(negative)).toEqual(["page_size"]);

    const parent = await newProject();
    await addMember(parent);
    const { nextPageToken } = await members.listMembers({ parent, pageSize: 1 });
    const mismatch = await expectError(
      members.listMembers({ parent: await newProject(), pageToken: nextPageToken }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    expect(violatedFields(mismatch)).toEqual(["page_token"]);
  });
});

describe("CreateMember", () => {
  it("returns NOT_FOUND for a user that does not exist", async () => {
    const user = `users/${randomUUID()}`;
    const error = await expectError(
      members.createMember({ parent: await newProject(), member: { user, role: Role.READER } }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    expect(error.rawMessage).toBe(`${user} does not exist`);
  });

  it("returns NOT_FOUND for a project that does not exist", async () => {
    const error = await expectError(
      members.createMember({ parent: "projects/NOPE", member: { user: await newUser(), role: Role.READER } }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    expect(error.rawMessage).toBe("projects/NOPE does not exist");
  });

  it("refuses a user who already is a member: ALREADY_EXISTS", async () => {
    const parent = await newProject();
    const member = await addMember(parent, Role.READER);
    await expectError(
      members.createMember({ parent, member: { user: member.user, role: Role.ADMIN } }),
      Code.AlreadyExists,
      "MEMBER_ALREADY_EXISTS",
    );
    await expectError(
      members.createMember({ parent, member: { user: alice, role: Role.READER } }),
      Code.AlreadyExists,
      "MEMBER_ALREADY_EXISTS",
    );
    expect((await listAll(parent)).find((listed) => listed.name === member.name)).toEqual(member);
  });

  it("ignores output-only fields sent on create", async () => {
    const parent = await newProject();
    const user = await newUser();
    const created = await members.createMember({
      parent,
      member: { name: "projects/OTHER/members/x", user, role: Role.READER, etag: "999" },
    });
    expect(created.name).toBe(memberOf(parent, user));
    expect(created.etag).not.toBe("999");
  });

  it.each([
    [
      "a malformed parent",
      { parent: "CORE", member: { user: `users/${randomUUID()}`, role: Role.READER } },
      ["parent"],
    ],
    ["no member", { parent: "projects/CORE" }, ["member"]],
    ["no user", { parent: "projects/CORE", member: { role: Role.READER } }, ["member.user"]],
    [
      "a user that is no user name",
      { parent: "projects/CORE", member: { user: "alice", role: Role.READER } },
      ["member"],
    ],
    ["no role", { parent: "projects/CORE", member: { user: `users/${randomUUID()}` } }, ["member.role"]],
    [
      "an undefined role",
      { parent: "projects/CORE", member: { user: `users/${randomUUID()}`, role: 7 } },
      ["member.role"],
    ],
    [
      "a request_id that is no UUID",
      {
        parent: "projects/CORE",
        member: { user: `users/${randomUUID()}`, role: Role.READER },
        requestId: "42",
      },
      ["request_id"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(members.createMember(request), Code.InvalidArgument, "INVALID_ARGUMENT");
    expect(violatedFields(error)).toEqual(fields);
  });

  it("replays a retried create with the same request_id instead of failing", async () => {
    const request = {
      parent: await newProject(),
      member: { user: await newUser(), role: Role.WRITER },
      requestId: randomUUID(),
    };
    const first = await members.createMember(request);
    expect(await members.createMember(request)).toEqual(first);
  });

  it("adds the member once when the same request arrives 10 times at once", async () => {
    const parent = await newProject();
    const request = { parent, member: { user: await newUser(), role: Role.READER }, requestId: randomUUID() };
    const results = await Promise.all(Array.from({ length: 10 }, () => members.createMember(request)));
    expect(new Set(results.map((member) => member.etag + member.name)).size).toBe(1);
    expect((await listAll(parent)).map((member) => member.user)).toEqual([alice, request.member.user]);
  });

  it("refuses a request_id reused for a different request", async () => {
    const parent = await newProject();
    const requestId = randomUUID();
    await members.createMember({ parent, member: { user: await newUser(), role: Role.READER }, requestId });
    const error = await expectError(
      members.createMember({ parent, member: { user: await newUser(), role: Role.READER }, requestId }),
      Code.InvalidArgument,
      "REQUEST_ID_REUSED",
    );
    expect(violatedFields(error)).toEqual(["request_id"]);
  });
});

describe("UpdateMember", () => {
  it("changes nothing for an empty mask and returns the member as it is", async () => {
    const member = await addMember(await newProject(), Role.READER);
    expect(await members.updateMember({ member: { ...member, role: Role.ADMIN } })).toEqual(member);
  });

  it("changes the role for *", async () => {
    const member = await addMember(await newProject(), Role.READER);
    const updated = await members.updateMember({
      member: { ...member, role: Role.WRITER },
      updateMask: mask("*"),
    });
    expect(updated.role).toBe(Role.WRITER);
  });

  it("fails with ABORTED and changes nothing when the etag is stale", async () => {
    const parent = await newProject();
    const member = await addMember(parent, Role.READER);
    const changed = await members.updateMember({
      member: { ...member, role: Role.WRITER },
      updateMask: mask("role"),
    });
    await expectError(
      members.updateMember({ member: { ...member, role: Role.ADMIN }, updateMask: mask("role") }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect((await listAll(parent)).find((listed) => listed.name === member.name)).toEqual(changed);
  });

  it("returns NOT_FOUND for a user who is no member", async () => {
    const name = memberOf(await newProject(), await newUser());
    const error = await expectError(
      members.updateMember({ member: { name, role: Role.WRITER }, updateMask: mask("role") }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    expect(error.rawMessage).toBe(`${name} does not exist`);
  });

  it.each([
    ["an output-only path", mask("create_time")],
    ["the immutable user", mask("user")],
    ["an unknown path", mask("rank")],
  ])("rejects a mask with %s with INVALID_ARGUMENT", async (_, updateMask) => {
    const member = await addMember(await newProject(), Role.READER);
    const error = await expectError(
      members.updateMember({ member: { ...member, role: Role.WRITER }, updateMask }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["update_mask"]);
  });

  it.each([
    ["no member", {}, ["member"]],
    ["a malformed name", { member: { name: "projects/CORE/members/alice", role: Role.READER } }, ["member"]],
    [
      "no role",
      { member: { name: `projects/CORE/members/${randomUUID()}` }, updateMask: mask("role") },
      ["member.role"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(members.updateMember(request), Code.InvalidArgument, "INVALID_ARGUMENT");
    expect(violatedFields(error)).toEqual(fields);
  });
});

describe("DeleteMember", () => {
  it("fails with ABORTED and removes nothing when the etag is stale", async () => {
    const parent = await newProject();
    const member = await addMember(parent, Role.READER);
    await members.updateMember({ member: { ...member, role: Role.WRITER }, updateMask: mask("role") });
    await expectError(
      members.deleteMember({ name: member.name, etag: member.etag }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect((await listAll(parent)).map((listed) => listed.name)).toContain(member.name);
  });

  it("returns NOT_FOUND for a member that does not exist, also when removed twice", async () => {
    const member = await addMember(await newProject());
    await members.deleteMember({ name: member.name });
    await expectError(members.deleteMember({ name: member.name }), Code.NotFound, "RESOURCE_NOT_FOUND");
    await expectError(
      members.deleteMember({ name: `projects/NOPE/members/${randomUUID()}` }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
  });

  it("lets a removed user join again", async () => {
    const parent = await newProject();
    const member = await addMember(parent, Role.READER);
    await members.deleteMember({ name: member.name });
    const again = await members.createMember({ parent, member: { user: member.user, role: Role.WRITER } });
    expect(again).toMatchObject({ name: member.name, role: Role.WRITER });
  });

  it("rejects a malformed name with INVALID_ARGUMENT", async () => {
    const error = await expectError(
      members.deleteMember({ name: "projects/CORE/members/alice" }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["name"]);
  });
});

describe("the last admin of a project", () => {
  const adminOf = async (parent: string) => {
    const [creator] = await listAll(parent);
    if (creator?.role !== Role.ADMIN) throw new Error(`${parent} has no admin first`);
    return creator;
  };

  it("can neither be demoted nor removed: FAILED_PRECONDITION", async () => {
    const parent = await newProject();
    await addMember(parent, Role.WRITER);
    const admin = await adminOf(parent);
    for (const role of [Role.WRITER, Role.READER]) {
      await expectError(
        members.updateMember({ member: { ...admin, role }, updateMask: mask("role") }),
        Code.FailedPrecondition,
        "LAST_ADMIN",
      );
    }
    await expectError(members.deleteMember({ name: admin.name }), Code.FailedPrecondition, "LAST_ADMIN");
    expect(await adminOf(parent)).toEqual(admin);
  });

  it("may stay admin, as an update to the same role leaves an admin", async () => {
    const admin = await adminOf(await newProject());
    const updated = await members.updateMember({ member: admin, updateMask: mask("role") });
    expect(updated.role).toBe(Role.ADMIN);
  });

  it("may step down once another member is admin, who then is the last", async () => {
    const parent = await newProject();
    const admin = await adminOf(parent);
    const subject = `member-${unique()}`;
    const asOther = createClient(MemberService, inProcessTransport(server.ctx, subject));
    const otherUser = (
      await createClient(UserService, inProcessTransport(server.ctx, subject)).getCurrentUser({})
    ).name;
    const other = await members.createMember({ parent, member: { user: otherUser, role: Role.READER } });
    const promoted = await members.updateMember({
      member: { ...other, role: Role.ADMIN },
      updateMask: mask("role"),
    });

    await members.updateMember({ member: { ...admin, role: Role.READER }, updateMask: mask("role") });
    // Stepped down, alice manages members no more.
    await expectError(
      members.updateMember({ member: { ...promoted, role: Role.WRITER }, updateMask: mask("role") }),
      Code.PermissionDenied,
      "ROLE_TOO_LOW",
    );
    await expectError(
      asOther.updateMember({ member: { ...promoted, role: Role.WRITER }, updateMask: mask("role") }),
      Code.FailedPrecondition,
      "LAST_ADMIN",
    );
    await expectError(asOther.deleteMember({ name: promoted.name }), Code.FailedPrecondition, "LAST_ADMIN");
    await asOther.deleteMember({ name: admin.name });
    const { members: left } = await asOther.listMembers({ parent });
    expect(left.map((member) => [member.name, member.role])).toEqual([[promoted.name, Role.ADMIN]]);
  });

  it("remains when two admins step down at the same time: exactly one succeeds", async () => {
    const parent = await newProject();
    const admin = await adminOf(parent);
    const subject = `member-${unique()}`;
    const asOther = createClient(MemberService, inProcessTransport(server.ctx, subject));
    const otherUser = (
      await createClient(UserService, inProcessTransport(server.ctx, subject)).getCurrentUser({})
    ).name;
    const other = await members.createMember({ parent, member: { user: otherUser, role: Role.ADMIN } });
    const outcomes = await Promise.allSettled([
      members.updateMember({ member: { ...admin, role: Role.READER }, updateMask: mask("role") }),
      asOther.updateMember({ member: { ...other, role: Role.READER }, updateMask: mask("role") }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const [failure] = outcomes.filter((outcome) => outcome.status === "rejected");
    await expectError(Promise.reject(failure?.reason), Code.FailedPrecondition, "LAST_ADMIN");
    const { members: all } = await asOther.listMembers({ parent });
    expect(all.filter((member) => member.role === Role.ADMIN)).toHaveLength(1);
  });
});

describe("members of a deleted project", () => {
  it("can still be listed, but not added or given another role: FAILED_PRECONDITION", async () => {
    const parent = await newProject();
    const member = await addMember(parent, Role.READER);
    await projects.deleteProject({ name: parent });

    const before = await listAll(parent);
    expect(before.map((listed) => listed.name)).toEqual([memberOf(parent, alice), member.name]);
    await expectError(addMember(parent), Code.FailedPrecondition, "PROJECT_DELETED");
    await expectError(
      members.updateMember({ member: { ...member, role: Role.WRITER }, updateMask: mask("role") }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
    expect(await listAll(parent)).toEqual(before);
  });

  it("may leave, and an admin may remove them; the last admin still may not leave", async () => {
    const parent = await newProject();
    const subject = `member-${unique()}`;
    const asLeaver = createClient(MemberService, inProcessTransport(server.ctx, subject));
    const leaver = (
      await createClient(UserService, inProcessTransport(server.ctx, subject)).getCurrentUser({})
    ).name;
    const leaverMember = await members.createMember({ parent, member: { user: leaver, role: Role.WRITER } });
    const removed = await addMember(parent, Role.READER);
    await projects.deleteProject({ name: parent });

    await asLeaver.deleteMember({ name: leaverMember.name });
    await members.deleteMember({ name: removed.name, etag: removed.etag });
    expect((await listAll(parent)).map((listed) => listed.name)).toEqual([memberOf(parent, alice)]);
    // Gone: the project is NOT_FOUND to them, as to any outsider.
    await expectError(asLeaver.listMembers({ parent }), Code.NotFound);
    await expectError(
      members.deleteMember({ name: memberOf(parent, alice) }),
      Code.FailedPrecondition,
      "LAST_ADMIN",
    );
  });
});

describe("CreateMember by handle or e-mail address", () => {
  /** Someone who signed in with these claims, over a socket with a token of the test issuer. */
  async function person(claims: { preferredUsername?: string; email?: string }) {
    const token = await (await testIssuer()).mint(`person-${unique()}`, {
      email: claims.email,
      extraClaims: claims.preferredUsername ? { preferred_username: claims.preferredUsername } : {},
    });
    const transport = createConnectTransport({
      baseUrl: server.baseUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const user = await createClient(UserService, transport).getCurrentUser({});
    return { user, members: createClient(MemberService, transport) };
  }
  const tag = () => randomUUID().slice(0, 8);
  const byHandle = (value: string) => ({ case: "userHandle", value }) as const;
  const byEmail = (value: string) => ({ case: "userEmail", value }) as const;

  it("adds a user by their handle or their whole e-mail address, in any case", async () => {
    const t = tag();
    const grace = await person({ preferredUsername: `grace-${t}` });
    const ada = await person({ email: `Ada.${t}@Example.org` });
    const parent = await newProject();
    const byTheirHandle = await members.createMember({
      parent,
      userLookup: byHandle(`GRACE-${t}`),
      member: { role: Role.WRITER },
    });
    expect(byTheirHandle).toMatchObject({ user: grace.user.name, name: memberOf(parent, grace.user.name) });
    const byTheirEmail = await members.createMember({
      parent,
      userLookup: byEmail(`ada.${t}@EXAMPLE.ORG`),
      member: { role: Role.READER },
    });
    expect(byTheirEmail.user).toBe(ada.user.name);
  });

  it("answers NOT_FOUND alike for a handle and an e-mail address that are nobody's", async () => {
    const parent = await newProject();
    const t = tag();
    const unknownHandle = await expectError(
      members.createMember({ parent, userLookup: byHandle(`nobody-${t}`), member: { role: Role.READER } }),
      Code.NotFound,
      "USER_NOT_FOUND",
    );
    const unknownEmail = await expectError(
      members.createMember({
        parent,
        userLookup: byEmail(`nobody-${t}@example.com`),
        member: { role: Role.READER },
      }),
      Code.NotFound,
      "USER_NOT_FOUND",
    );
    expect(unknownHandle.rawMessage).toBe("no user has this handle");
    expect(unknownEmail.rawMessage).toBe("no user has this e-mail address");
    expect(await listAll(parent)).toHaveLength(1);
  });

  it("does not take an e-mail address that is another only once lower-cased (the Kelvin sign is a k)", async () => {
    const t = tag();
    await person({ email: `\u212Aate-${t}@example.com` });
    await expectError(
      members.createMember({
        parent: await newProject(),
        userLookup: byEmail(`kate-${t}@example.com`),
        member: { role: Role.READER },
      }),
      Code.NotFound,
      "USER_NOT_FOUND",
    );
  });

  it("refuses an e-mail address two users have: FAILED_PRECONDITION, add by handle", async () => {
    const t = tag();
    const email = `shared-${t}@example.com`;
    await person({ email });
    await person({ email: email.toUpperCase() });
    const parent = await newProject();
    await expectError(
      members.createMember({ parent, userLookup: byEmail(email), member: { role: Role.READER } }),
      Code.FailedPrecondition,
      "AMBIGUOUS_EMAIL",
    );
    expect(await listAll(parent)).toHaveLength(1);
  });

  it("answers a writer PERMISSION_DENIED and an outsider NOT_FOUND, whether the user exists or not", async () => {
    const t = tag();
    const known = await person({ preferredUsername: `known-${t}`, email: `known-${t}@example.com` });
    const writer = await person({});
    const outsider = await person({});
    const parent = await newProject();
    await members.createMember({ parent, member: { user: writer.user.name, role: Role.WRITER } });
    const lookups = [
      byHandle(known.user.handle),
      byHandle(`unknown-${t}`),
      byEmail(known.user.email),
      byEmail(`unknown-${t}@example.com`),
    ];
    for (const userLookup of lookups) {
      const request = { parent, userLookup, member: { role: Role.READER } };
      const denied = await expectError(writer.members.createMember(request), Code.PermissionDenied);
      const hidden = await expectError(outsider.members.createMember(request), Code.NotFound);
      expect(denied.rawMessage).not.toMatch(/handle|e-mail/);
      expect(hidden.rawMessage).toBe(`${parent} does not exist`);
    }
    expect((await listAll(parent)).map((member) => member.user).sort()).toEqual(
      [alice, writer.user.name].sort(),
    );
  });

  it("takes users/me as the caller: an admin is already a member", async () => {
    const parent = await newProject();
    await expectError(
      members.createMember({ parent, member: { user: "users/me", role: Role.READER } }),
      Code.AlreadyExists,
      "MEMBER_ALREADY_EXISTS",
    );
  });

  it.each([
    [
      "both member.user and user_handle",
      { member: { user: "users/me", role: Role.READER }, userLookup: byHandle("ada") },
      ["member.user"],
    ],
    [
      "a handle over 39 characters",
      { member: { role: Role.READER }, userLookup: byHandle("a".repeat(40)) },
      ["user_handle"],
    ],
    [
      "a handle with a Cyrillic а",
      { member: { role: Role.READER }, userLookup: byHandle("\u0430da") },
      ["user_handle"],
    ],
    [
      "a handle with the Kelvin sign",
      { member: { role: Role.READER }, userLookup: byHandle("\u212Aate") },
      ["user_handle"],
    ],
    [
      "a handle with a double hyphen",
      { member: { role: Role.READER }, userLookup: byHandle("a--b") },
      ["user_handle"],
    ],
    ["an empty handle", { member: { role: Role.READER }, userLookup: byHandle("") }, ["user_handle"]],
    ["no e-mail address", { member: { role: Role.READER }, userLookup: byEmail("ada") }, ["user_email"]],
    [
      "an e-mail address with a display name",
      { member: { role: Role.READER }, userLookup: byEmail("Ada <ada@example.com>") },
      ["user_email"],
    ],
    [
      "an e-mail address over 320 characters",
      { member: { role: Role.READER }, userLookup: byEmail(`${"a".repeat(64)}@${"b".repeat(300)}.com`) },
      ["user_email"],
    ],
    [
      "a 70 000-character e-mail address",
      { member: { role: Role.READER }, userLookup: byEmail(`${"a".repeat(70_000)}@example.com`) },
      ["user_email"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(
      members.createMember({ parent: "projects/CORE", ...request }),
      Code.InvalidArgument,
    );
    expect([...new Set(violatedFields(error))]).toEqual(fields);
  });
});
