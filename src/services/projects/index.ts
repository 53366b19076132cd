import type { ConnectRouter } from "@connectrpc/connect";
import { ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { createProject } from "./create-project.js";
import { deleteProject } from "./delete-project.js";
import { getProject } from "./get-project.js";
import { listProjects } from "./list-projects.js";
import { undeleteProject } from "./undelete-project.js";
import { updateProject } from "./update-project.js";

export function projectService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(ProjectService, {
      createProject: createProject(ctx),
      getProject: getProject(ctx),
      listProjects: listProjects(ctx),
      updateProject: updateProject(ctx),
      deleteProject: deleteProject(ctx),
      undeleteProject: undeleteProject(ctx),
    });
}
