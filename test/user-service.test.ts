import { randomUUID } from "node:crypto";
import { type Client, Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../client/node.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, BLANK_LOOKING, createProject, uniqueProjectKey } from "./support/fixtures.js";
import { testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, transportFor } from "./support/transports.js";

let server: TestServer;

/** A transport that sends exactly this bearer token. */
function transportWithToken(token: string) {
  return createConnectTransport({
    baseUrl: server.baseUrl,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
}

/** A client that sends exactly this bearer token. */
const usersWithToken = (token: string) => createClient(UserService, transportWithToken(token));
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

// Users are global, so every test acts as people of its own.
let sequence = 0;
const newSubject = () => `user-${sequence++}-${randomUUID().slice(0, 8)}`;

const usersAs = (subject: string) =>
  createClient(UserService, transportFor("Connect binary over HTTP/2", server.baseUrl, subject));

describe.each(PROTOCOLS)("UserService over %s", (protocol) => {
  let subject: string;
  let client: Client<typeof UserService>;
  beforeAll(() => {
    subject = newSubject();
    client = createClient(UserService, transportFor(protocol, server.baseUrl, subject));
  });

  it("returns the caller as the current user, named after its uid", async () => {
    const user = await client.getCurrentUser({});
    expect(user.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(user.name).toBe(`users/${user.uid}`);
    expect(user.createTime?.seconds).toBeGreaterThan(0n);
    expect(user.updateTime).toEqual(user.createTime);
  });

  it("returns the same user on every call of the same caller", async () => {
    const first = await client.getCurrentUser({});
    const second = await client.getCurrentUser({});
    expect(second).toEqual(first);
  });

  it("gets another user by name once they share a project, NOT_FOUND before", async () => {
    const otherSubject = newSubject();
    const other = await usersAs(otherSubject).getCurrentUser({});
    await expectError(client.getUser({ name: other.name }), Code.NotFound);
    const project = await createProject(server, subject);
    await addMember(server, project, otherSubject, "reader", subject);
    const fetched = await client.getUser({ name: other.name });
    expect(fetched).toEqual(other);
    expect(fetched.uid).not.toBe((await client.getCurrentUser({})).uid);
  });

  it("returns NOT_FOUND for a user that does not exist", async () => {
    const name = `users/${randomUUID()}`;
    const error = await expectError(client.getUser({ name }), Code.NotFound, "RESOURCE_NOT_FOUND");
    expect(error.rawMessage).toBe(`${name} does not exist`);
  });

  it("takes no display name that would pass for a handle, and none with surrounding blanks", async () => {
    const issuer = await testIssuer();
    const signedInAs = async (subject: string, name: string, email?: string) => {
      const token = await issuer.mint(subject, { name, ...(email !== undefined && { email }) });
      const bearer: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      };
      return createClient(
        UserService,
        createNodeTransport(protocol, server.baseUrl, [bearer]),
      ).getCurrentUser({});
    };
    // No handle: no preferred_username nor e-mail to take one from.
    const blanksFirst = BLANK_LOOKING.map((blank) => `${blank}@alice`);
    for (const name of ["@alice", "  @alice", "\u200B@alice", "\uFF20alice", ...blanksFirst]) {
      const user = await signedInAs(newSubject(), name);
      expect(user, JSON.stringify(name)).toMatchObject({ handle: "", displayName: "" });
    }
    // Nor an e-mail that is no address: clients show the e-mail of a user without either.
    for (const email of ["@alice", "\uFF20alice", "\u2800@alice", "\u0301@alice", "alice"]) {
      const user = await signedInAs(newSubject(), "", email);
      expect(user, JSON.stringify(email)).toMatchObject({ handle: "", displayName: "", email: "" });
    }
    const subject = newSubject();
    expect((await signedInAs(subject, "  Alice Liddell ")).displayName).toBe("Alice Liddell");
    // A later token's handle-like name is as good as none: the known name stays.
    expect((await signedInAs(subject, "@alice")).displayName).toBe("Alice Liddell");
  });
});

describe("UserService", () => {
  it("takes the display name and e-mail from the token and keeps them when a token omits them", async () => {
    const subject = newSubject();
    const issuer = await testIssuer();
    const withProfile = usersWithToken(
      await issuer.mint(subject, { name: "Ada Lovelace", email: "ada@example.com" }),
    );
    const user = await withProfile.getCurrentUser({});
    expect(user).toMatchObject({ displayName: "Ada Lovelace", email: "ada@example.com" });
    const bare = usersWithToken(await issuer.mint(subject));
    expect(await bare.getCurrentUser({})).toMatchObject({
      uid: user.uid,
      displayName: "Ada Lovelace",
      email: "ada@example.com",
    });
    const renamed = usersWithToken(
      await issuer.mint(subject, { name: "Ada King", email: "ada@example.com" }),
    );
    expect((await renamed.getCurrentUser({})).displayName).toBe("Ada King");
  });

  it("leaves the e-mail empty when the token gives none", async () => {
    const user = await usersWithToken(await (await testIssuer()).mint(newSubject())).getCurrentUser({});
    expect(user.email).toBe("");
  });

  it.each([
    ["no prefix", randomUUID()],
    ["a subject instead of a uid", "users/alice"],
    ["an upper-case uid", `users/${randomUUID().toUpperCase()}`],
    ["an empty name", ""],
  ])("rejects a name with %s with INVALID_ARGUMENT naming the field", async (_, name) => {
    const error = await expectError(
      usersAs(newSubject()).getUser({ name }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["name"]);
  });

  it("refuses callers without a token: UNAUTHENTICATED", async () => {
    const anonymous = createClient(UserService, transportFor("gRPC over HTTP/2", server.baseUrl, ""));
    await expectError(anonymous.getCurrentUser({}), Code.Unauthenticated, "UNAUTHENTICATED");
  });
});

describe("SearchUsers", () => {
  /** A user whose token carries this profile, with the transport that acts as them. */
  async function person(name: string, email: string) {
    const transport = transportWithToken(await (await testIssuer()).mint(newSubject(), { name, email }));
    const user = await createClient(UserService, transport).getCurrentUser({});
    return { user, transport, users: createClient(UserService, transport) };
  }

  /**
   * Me, with a project where Grace and Ada are members, and a stranger who
   * shares no project with me but matches every query that finds Grace.
   */
  async function circle() {
    const tag = randomUUID().slice(0, 8);
    const me = await person(`Me ${tag}`, `me-${tag}@example.com`);
    const grace = await person(`Grace ${tag} Hopper`, `gh-${tag}@navy.example`);
    const ada = await person(`Ada ${tag}`, `grace-${tag}@example.org`);
    const stranger = await person(`Grace ${tag} Stranger`, `gh-${tag}@stranger.example`);
    const projectId = `S${randomUUID()
      .replace(/[^0-9]/g, "")
      .slice(0, 8)}`;
    const project = await createClient(ProjectService, me.transport).createProject({
      projectId,
      project: { displayName: tag },
    });
    const members = createClient(MemberService, me.transport);
    for (const colleague of [grace, ada]) {
      await members.createMember({
        parent: project.name,
        member: { user: colleague.user.name, role: Member_Role.READER },
      });
    }
    return { tag, me, grace, ada, stranger };
  }

  const namesOf = (users: { name: string }[]) => users.map((user) => user.name);

  it("finds people who share a project by display-name prefix, in any case, never a stranger", async () => {
    const { tag, me, grace, stranger } = await circle();
    const { users, nextPageToken } = await me.users.searchUsers({ query: `gRACE ${tag}` });
    expect(namesOf(users)).toEqual([grace.user.name]);
    expect(users[0]).toEqual(grace.user);
    expect(namesOf(users)).not.toContain(stranger.user.name);
    expect(nextPageToken).toBe("");
  });

  it("finds people by e-mail prefix, in any case; a stranger is not found even by their whole e-mail", async () => {
    const { tag, me, grace, ada, stranger } = await circle();
    expect(namesOf((await me.users.searchUsers({ query: `GH-${tag}@` })).users)).toEqual([grace.user.name]);
    expect(namesOf((await me.users.searchUsers({ query: `grace-${tag}` })).users)).toEqual([ada.user.name]);
    expect((await me.users.searchUsers({ query: stranger.user.email })).users).toEqual([]);
    expect((await me.users.searchUsers({ query: stranger.user.displayName })).users).toEqual([]);
  });

  it("finds the caller themselves, and a stranger finds no one of the project", async () => {
    const { tag, me, stranger } = await circle();
    expect((await me.users.searchUsers({ query: `me ${tag}` })).users).toEqual([me.user]);
    expect(namesOf((await stranger.users.searchUsers({ query: `Grace ${tag}` })).users)).toEqual([
      stranger.user.name,
    ]);
    expect((await stranger.users.searchUsers({ query: `me-${tag}` })).users).toEqual([]);
  });

  it("pages by display name like every List, and binds the token to the query", async () => {
    const { tag, me, grace, ada } = await circle();
    const first = await me.users.searchUsers({ query: `g`, pageSize: 1 });
    expect(first.users).toHaveLength(1);
    expect(first.nextPageToken).not.toBe("");
    const seen = [...first.users];
    let pageToken = first.nextPageToken;
    while (pageToken !== "") {
      const page = await me.users.searchUsers({ query: `g`, pageSize: 1, pageToken });
      seen.push(...page.users);
      pageToken = page.nextPageToken;
    }
    // Everyone I may see whose name or e-mail starts with "g", by display name: Ada (e-mail grace-...) then Grace.
    expect(namesOf(seen)).toEqual([ada.user.name, grace.user.name]);
    await expectError(
      me.users.searchUsers({ query: `grace ${tag}`, pageSize: 1, pageToken: first.nextPageToken }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
  });

  it("takes %, _ and \\ in the query literally", async () => {
    const { me } = await circle();
    for (const query of ["%", "_", "\\"]) {
      expect((await me.users.searchUsers({ query })).users).toEqual([]);
    }
  });

  it.each([
    ["an empty query", { query: "" }, "query"],
    ["a query over 100 characters", { query: "a".repeat(101) }, "query"],
    ["a negative page size", { query: "a", pageSize: -1 }, "page_size"],
    ["a page token over 1024 characters", { query: "a", pageToken: "t".repeat(1025) }, "page_token"],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, field) => {
    const error = await expectError(usersAs(newSubject()).searchUsers(request), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual([field]);
  });
});

describe("handles", () => {
  /** Signs in as a new person whose token carries these claims; returns the user and their client. */
  async function signIn(claims: { preferredUsername?: string; email?: string; name?: string }) {
    const token = await (await testIssuer()).mint(newSubject(), {
      email: claims.email,
      name: claims.name,
      extraClaims:
        claims.preferredUsername === undefined ? {} : { preferred_username: claims.preferredUsername },
    });
    const transport = transportWithToken(token);
    const users = createClient(UserService, transport);
    return { user: await users.getCurrentUser({}), users, transport };
  }
  const tag = () => randomUUID().slice(0, 8);

  it("takes the token's preferred_username at first sign-in, in lower case, and keeps it after", async () => {
    const t = tag();
    const { user } = await signIn({ preferredUsername: `Ada-${t}`, email: `someone-${t}@example.com` });
    expect(user.handle).toBe(`ada-${t}`);
    expect(user.etag).not.toBe("");
    const subject = newSubject();
    const issuer = await testIssuer();
    const first = await usersWithToken(
      await issuer.mint(subject, { extraClaims: { preferred_username: `grace-${t}` } }),
    ).getCurrentUser({});
    const renamed = await usersWithToken(
      await issuer.mint(subject, { extraClaims: { preferred_username: `hopper-${t}` } }),
    ).getCurrentUser({});
    expect(renamed).toMatchObject({ uid: first.uid, handle: `grace-${t}`, etag: first.etag });
  });

  it("falls back to the e-mail's local part when preferred_username is taken, in any case, or no handle", async () => {
    const t = tag();
    await signIn({ preferredUsername: `ada-${t}` });
    const second = await signIn({ preferredUsername: `ADA-${t}`, email: `Ada.Lovelace_${t}@example.com` });
    expect(second.user.handle).toBe(`ada-lovelace-${t}`);
    const third = await signIn({ preferredUsername: `ada-${t}`, email: `ada.lovelace-${t}@example.org` });
    expect(third.user.handle).toBe("");
  });

  it.each([
    ["a dot", "ada.lovelace"],
    ["an e-mail address", "ada@example.com"],
    ["a double hyphen", "ada--l"],
    ["a leading hyphen", "-ada"],
    ["a Cyrillic а", "\u0430da"],
    ["the Kelvin sign, which lower-cases to k", "\u212Aate"],
    ["fullwidth letters", "\uff41\uff44\uff41"],
    ["40 characters", "a".repeat(40)],
  ])("does not take a preferred_username with %s, but the e-mail's local part", async (_, preferred) => {
    const t = tag();
    const { user } = await signIn({ preferredUsername: `${preferred}${t}`, email: `mail-${t}@example.com` });
    expect(user.handle).toBe(`mail-${t}`);
  });

  it("gives the caller for users/me in GetUser", async () => {
    const { user, users } = await signIn({ preferredUsername: `me-${tag()}` });
    expect(await users.getUser({ name: "users/me" })).toEqual(user);
  });

  it("finds people by handle prefix in SearchUsers, never a stranger with a matching handle", async () => {
    const t = tag();
    const me = await signIn({ preferredUsername: `boss-${t}`, name: `Boss ${t}` });
    const colleague = await signIn({ preferredUsername: `hx${t}-colleague`, name: "Colleague" });
    const stranger = await signIn({ preferredUsername: `hx${t}-stranger`, name: "Stranger" });
    const projects = createClient(ProjectService, me.transport);
    const project = await projects.createProject({
      projectId: uniqueProjectKey("H"),
      project: { displayName: t },
    });
    await createClient(MemberService, me.transport).createMember({
      parent: project.name,
      userLookup: { case: "userHandle", value: colleague.user.handle },
      member: { role: Member_Role.READER },
    });
    const found = await me.users.searchUsers({ query: `HX${t}` });
    expect(found.users.map((user) => user.name)).toEqual([colleague.user.name]);
    expect((await me.users.searchUsers({ query: stranger.user.handle })).users).toEqual([]);
  });
});

describe("UpdateUser", () => {
  const handleMask = { paths: ["handle"] };
  const fresh = async () => {
    const subject = newSubject();
    const users = usersAs(subject);
    return { users, user: await users.getCurrentUser({}) };
  };
  const newHandle = () => `h-${randomUUID().slice(0, 8)}`;

  it("changes the caller's handle, by users/me or their own name, with a new etag", async () => {
    const { users, user } = await fresh();
    const first = newHandle();
    const changed = await users.updateUser({
      user: { name: "users/me", handle: first },
      updateMask: handleMask,
    });
    expect(changed).toMatchObject({ name: user.name, handle: first, displayName: user.displayName });
    expect(changed.etag).not.toBe(user.etag);
    const second = newHandle();
    const again = await users.updateUser({
      user: { name: user.name, handle: second, etag: changed.etag },
      updateMask: handleMask,
    });
    expect(again.handle).toBe(second);
    expect(await users.getCurrentUser({})).toEqual(again);
  });

  it("refuses a reserved handle: `me` is the caller wherever a user is named", async () => {
    const { users } = await fresh();
    for (const handle of ["me", "admin"]) {
      const error = await expectError(
        users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask }),
        Code.InvalidArgument,
        "HANDLE_RESERVED",
      );
      expect(violatedFields(error)).toEqual(["user.handle"]);
    }
  });

  it("changes nothing for an empty mask or the same handle: the same etag", async () => {
    const { users } = await fresh();
    const handle = newHandle();
    const user = await users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask });
    expect(await users.updateUser({ user: { name: "users/me" } })).toEqual(user);
    expect(await users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask })).toEqual(
      user,
    );
  });

  it("refuses a handle another user has: ALREADY_EXISTS, and the caller keeps theirs", async () => {
    const a = await fresh();
    const b = await fresh();
    const handle = newHandle();
    await a.users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask });
    const before = await b.users.getCurrentUser({});
    const error = await expectError(
      b.users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask }),
      Code.AlreadyExists,
      "HANDLE_ALREADY_EXISTS",
    );
    expect(error.rawMessage).not.toContain(a.user.uid);
    expect(await b.users.getCurrentUser({})).toEqual(before);
  });

  it("gives the handle to exactly one of two users asking at once", async () => {
    const a = await fresh();
    const b = await fresh();
    const handle = newHandle();
    const results = await Promise.allSettled(
      [a, b].map(({ users }) =>
        users.updateUser({ user: { name: "users/me", handle }, updateMask: handleMask }),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((result) => result.status === "rejected");
    expect((rejected as PromiseRejectedResult).reason).toMatchObject({ code: Code.AlreadyExists });
  });

  it("fails with ABORTED on a stale etag and changes nothing", async () => {
    const { users, user } = await fresh();
    const changed = await users.updateUser({
      user: { name: "users/me", handle: newHandle() },
      updateMask: handleMask,
    });
    await expectError(
      users.updateUser({
        user: { name: "users/me", handle: newHandle(), etag: user.etag },
        updateMask: handleMask,
      }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect(await users.getCurrentUser({})).toEqual(changed);
  });

  it("refuses another user's profile with PERMISSION_DENIED, whether they exist or not", async () => {
    const { users } = await fresh();
    const other = await fresh();
    for (const name of [other.user.name, `users/${randomUUID()}`]) {
      await expectError(
        users.updateUser({ user: { name, handle: newHandle() }, updateMask: handleMask }),
        Code.PermissionDenied,
        "NOT_OWN_PROFILE",
      );
    }
    expect(await other.users.getCurrentUser({})).toEqual(other.user);
  });

  it.each([
    ["an empty handle", { handle: "" }, ["user.handle"]],
    ["an upper-case handle", { handle: "Ada" }, ["user.handle"]],
    ["a handle over 39 characters", { handle: "a".repeat(40) }, ["user.handle"]],
    ["a double hyphen", { handle: "ada--l" }, ["user.handle"]],
    ["a trailing hyphen", { handle: "ada-" }, ["user.handle"]],
    ["a Cyrillic а (a confusable)", { handle: "\u0430da" }, ["user.handle"]],
    ["the Kelvin sign", { handle: "\u212Aate" }, ["user.handle"]],
    ["a fullwidth handle", { handle: "\uff41\uff44\uff41" }, ["user.handle"]],
    ["a zero-width joiner", { handle: "a\u200dda" }, ["user.handle"]],
    ["a 70 000-character handle", { handle: "a".repeat(70_000) }, ["user.handle"]],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, fields, expected) => {
    const { users } = await fresh();
    const error = await expectError(
      users.updateUser({ user: { name: "users/me", ...fields }, updateMask: handleMask }),
      Code.InvalidArgument,
    );
    // Over 39 characters breaks both the length and the pattern: one field, two violations.
    expect([...new Set(violatedFields(error))]).toEqual(expected);
  });

  it.each([
    ["an output-only path", { paths: ["email"] }],
    ["an unknown path", { paths: ["login"] }],
  ])("rejects a mask with %s with INVALID_ARGUMENT", async (_, updateMask) => {
    const { users } = await fresh();
    const error = await expectError(
      users.updateUser({ user: { name: "users/me", handle: newHandle() }, updateMask }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["update_mask"]);
  });

  it("rejects a name that is no user name with INVALID_ARGUMENT", async () => {
    const { users } = await fresh();
    const error = await expectError(
      users.updateUser({ user: { name: "users/someone", handle: newHandle() }, updateMask: handleMask }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["user"]);
  });
});
