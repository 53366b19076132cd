import type { ServiceImpl } from "@connectrpc/connect";
import type { ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { pageOfProjects } from "../../domain/projects/project-store.js";
import { callerOf } from "../../shared/caller.js";

export const listProjects =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["listProjects"] =>
  async (req, context) => {
    const { page, nextPageToken } = await pageOfProjects(ctx.db, callerOf(context).userUid, req);
    return { projects: page.map(toProject), nextPageToken };
  };
