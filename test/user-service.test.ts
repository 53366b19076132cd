import { randomUUID } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, createProject } from "./support/fixtures.js";
import { testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, transportFor } from "./support/transports.js";

let server: TestServer;

/** A client that sends exactly this bearer token. */
function usersWithToken(token: string) {
  return createClient(
    UserService,
    createConnectTransport({
      baseUrl: server.baseUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );
}
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
