import { createClient } from "@connectrpc/connect";
import { IssueService } from "../../gen/proto/tracker/v1/issue_pb.js";
import { Member_Role, MemberService } from "../../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../../gen/proto/tracker/v1/user_pb.js";
import type { TestServer } from "./server.js";
import { type Protocol, transportFor } from "./transports.js";

let projects = 0;

/**
 * What every one-line name and title refuses (Issue.title in the contract):
 * characters that break the line, reorder it or hide in it.
 */
export const REFUSED_IN_ONE_LINE = [
  ..."\u2028\u2029", // line and paragraph separators
  ..."\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069", // bidi embeddings, overrides, isolates
  ..."\u061C\u200E\u200F", // bidi marks
  ..."\u200B\u2060\u2061\u2062\u2063\u2064\uFEFF", // zero-width space, word joiner, invisible operators, BOM
  ..."\uFFF9\uFFFA\uFFFB", // interlinear annotation
  ..."\u{E0000}\u{E0001}\u{E0041}\u{E007F}", // tags
  ..."\u115F\u1160\u3164\uFFA0", // Hangul fillers
];

/** `U+202E`: which character of such a table a failed assertion is about. */
export const codePoint = (character: string) =>
  `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Characters that show as a blank, which no display name may put before an
 * "@" (displayNameFrom): Unicode's White_Space, the Braille blank and the
 * Hangul fillers.
 */
export const BLANK_LOOKING = [
  ..."\t\n\v\f\r \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A",
  ..."\u2028\u2029\u202F\u205F\u3000",
  ..."\u2800\u115F\u1160\u3164\uFFA0",
];

/** ZWNJ and ZWJ, in a Persian word and an emoji sequence: one-line names keep them. */
export const JOINED = "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645 \u{1F469}\u200D\u{1F4BB}";

/** A fresh project key, unique within a test run. */
export function uniqueProjectKey(prefix = "T"): string {
  projects += 1;
  return `${prefix}${process.pid.toString(36).toUpperCase().slice(-3)}${projects.toString(36).toUpperCase()}`.slice(
    0,
    10,
  );
}

/** Typed clients for one user over one protocol. */
export function clientsFor(
  server: TestServer,
  user = "alice",
  protocol: Protocol = "Connect binary over HTTP/2",
) {
  const transport = transportFor(protocol, server.baseUrl, user);
  return {
    projects: createClient(ProjectService, transport),
    issues: createClient(IssueService, transport),
  };
}

/** Creates a project as `user` (its admin) and returns its name. */
export async function createProject(server: TestServer, user = "alice"): Promise<string> {
  const key = uniqueProjectKey();
  const project = await clientsFor(server, user).projects.createProject({
    projectId: key,
    project: { displayName: key },
  });
  return project.name;
}

/** The `users/{uid}` name of the user with this token subject (created on first call). */
export async function userNamed(server: TestServer, subject: string): Promise<string> {
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, subject);
  return (await createClient(UserService, transport).getCurrentUser({})).name;
}

/** Makes `subject` a member of `project` with `role`, as the project's admin `admin`. */
export async function addMember(
  server: TestServer,
  project: string,
  subject: string,
  role: "reader" | "writer" | "admin" = "writer",
  admin = "alice",
): Promise<void> {
  const roles = { reader: Member_Role.READER, writer: Member_Role.WRITER, admin: Member_Role.ADMIN };
  const members = createClient(
    MemberService,
    transportFor("Connect binary over HTTP/2", server.baseUrl, admin),
  );
  await members.createMember({
    parent: project,
    member: { user: await userNamed(server, subject), role: roles[role] },
  });
}
