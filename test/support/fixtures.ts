import { createClient } from "@connectrpc/connect";
import { IssueService } from "../../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../../gen/proto/tracker/v1/project_pb.js";
import type { TestServer } from "./server.js";
import { type Protocol, transportFor } from "./transports.js";

let projects = 0;

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

/** The `users/{uid}` name of a user known by its development subject. */
export async function userNamed(server: TestServer, subject: string): Promise<string> {
  const user = await server.database.db
    .selectFrom("users")
    .select("uid")
    .where("subject", "=", subject)
    .executeTakeFirstOrThrow();
  return `users/${user.uid}`;
}
