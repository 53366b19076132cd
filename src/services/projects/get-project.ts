import type { ServiceImpl } from "@connectrpc/connect";
import type { ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const getProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["getProject"] =>
  async (req, context) =>
    toProject(await projectFor(ctx.db, callerOf(context), req.name, "reader"));
