import { Code, type ConnectRouter, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { type LabelRow, toLabel } from "../src/domain/labels/label-mapping.js";
import { lockLabel } from "../src/domain/labels/label-store.js";
import { mutate, type Scope } from "../src/services/unit-of-work.js";
import { expectError } from "./support/errors.js";
import { inProcessTransport } from "./support/in-process.js";
import { startTestServer, type TestServer } from "./support/server.js";

// What the unit of work guarantees every mutation, shown with handlers that
// try to get it wrong (in process, with the server's interceptors).

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** What the handlers below saw: whether anything past the access check ran. */
const reached = { target: 0, handler: 0 };

/** LabelService.UpdateLabel by a careless handler: it bumps the label and forgets the audit event. */
function carelessRoutes(router: ConnectRouter) {
  router.service(LabelService, {
    updateLabel: (req, context) => {
      const name = req.label?.name ?? "";
      const scope: Scope<LabelRow> = {
        resource: name,
        role: "writer",
        target: async ({ tx, project }) => {
          reached.target++;
          return lockLabel(tx, project, name);
        },
      };
      return mutate(server.ctx, context, req, scope, async ({ tx, project, target, ...work }) => {
        reached.handler++;
        const updated = await tx
          .updateTable("labels")
          .set({ display_name: "changed", ...work.bump() })
          .where("uid", "=", target.uid)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toLabel(project.key, updated);
      });
    },
  });
}

async function newLabel(): Promise<string> {
  const projects = createClient(ProjectService, inProcessTransport(server.ctx));
  const key = `U${Math.floor(Math.random() * 1e8)}`;
  const project = await projects.createProject({ projectId: key, project: { displayName: key } });
  const labels = createClient(LabelService, inProcessTransport(server.ctx));
  return (await labels.createLabel({ parent: project.name, labelId: "bug", label: { displayName: "Bug" } }))
    .name;
}

describe("the unit of work", () => {
  it("refuses to commit a change without its audit event: INTERNAL, and nothing changed", async () => {
    const name = await newLabel();
    const labels = createClient(LabelService, inProcessTransport(server.ctx));
    const before = await labels.getLabel({ name });
    const careless = createClient(LabelService, inProcessTransport(server.ctx, "alice", carelessRoutes));
    await expectError(
      careless.updateLabel({ label: { name }, updateMask: { paths: ["display_name"] } }),
      Code.Internal,
    );
    expect(await labels.getLabel({ name })).toEqual(before);
  });

  it("decides access before it locks or reads anything of the project", async () => {
    const name = await newLabel();
    const outsider = createClient(LabelService, inProcessTransport(server.ctx, "outsider", carelessRoutes));
    const seen = { ...reached };
    await expectError(
      outsider.updateLabel({ label: { name }, updateMask: { paths: ["display_name"] } }),
      Code.NotFound,
    );
    expect(reached).toEqual(seen);
  });
});
