import { randomUUID } from "node:crypto";
import { createClient, type Transport } from "@connectrpc/connect";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import type { ProjectInfo, World } from "./clients.js";
import { type Ledger, markerOf, versionOf } from "./ledger.js";
import { sleep } from "./server-process.js";

/**
 * The world the load runs in, made through the API before it starts: every
 * user known to the server, `projectCount` projects with six labels each,
 * the clients as writers and the watchers as readers of every project, and
 * two shared ("hot") issues per project, in the ledger. The soak and the
 * topology suite (test/topology/) share it.
 */
export async function setUpWorld(options: {
  admin: Transport;
  clients: Transport[];
  watchers: Transport[];
  projectCount: number;
  ledger: Ledger;
}): Promise<{ projects: ProjectInfo[]; world: World }> {
  const { ledger } = options;
  const userOf = (transport: Transport) =>
    retry(() => createClient(UserService, transport).getCurrentUser({})).then((user) => user.name);
  const clientUsers: string[] = [];
  for (const transport of options.clients) clientUsers.push(await userOf(transport));
  const watcherUsers: string[] = [];
  for (const transport of options.watchers) watcherUsers.push(await userOf(transport));
  const admin = {
    projects: createClient(ProjectService, options.admin),
    labels: createClient(LabelService, options.admin),
    members: createClient(MemberService, options.admin),
    issues: createClient(IssueService, options.admin),
  };
  const projects: ProjectInfo[] = [];
  for (let p = 0; p < options.projectCount; p++) {
    const key = `SOAK${String.fromCharCode(65 + p)}`;
    const project = await retry(() =>
      admin.projects.createProject({ projectId: key, project: { displayName: `Soak ${key}` } }),
    );
    const labels: string[] = [];
    for (const labelId of ["backend", "bug", "docs", "feature", "perf", "ui"]) {
      const label = await retry(() =>
        admin.labels.createLabel({
          parent: project.name,
          labelId,
          label: { displayName: labelId, color: "#aabbcc" },
        }),
      );
      labels.push(label.name);
    }
    const members = [
      ...clientUsers.map((user) => ({ user, role: Member_Role.WRITER })),
      ...watcherUsers.map((user) => ({ user, role: Member_Role.READER })),
    ];
    for (const member of members) {
      await retry(() => admin.members.createMember({ parent: project.name, member }));
    }
    const hot: string[] = [];
    for (let h = 0; h < 2; h++) {
      const requestId = randomUUID();
      ledger.beginCreate("issue", requestId, "admin", project.name);
      const issue = await retry(() =>
        admin.issues.createIssue(
          {
            parent: project.name,
            requestId,
            issue: { title: `Shared issue ${h + 1}`, body: markerOf(requestId) },
          },
          { headers: { "x-request-id": requestId } },
        ),
      );
      ledger.acknowledgeCreate("issue", requestId, {
        name: issue.name,
        uid: issue.uid,
        after: versionOf(issue),
      });
      hot.push(issue.name);
    }
    projects.push({ key, name: project.name, labels, hot });
  }
  return { projects, world: { projects, users: clientUsers } };
}

/** Setup calls run before any fault, but the machine may be busy: a few tries. */
export async function retry<T>(call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(250 * attempt);
    }
  }
}
