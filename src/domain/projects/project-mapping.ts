import { create } from "@bufbuild/protobuf";
import { type Project, ProjectSchema } from "../../../gen/proto/tracker/v1/project_pb.js";
import { required } from "../errors.js";
import { etagOf } from "../shared/etag.js";
import { projectName } from "../shared/names.js";
import type { ProjectRow } from "../shared/projects.js";
import { timestampFromPg } from "../shared/timestamps.js";

export function toProject(row: ProjectRow): Project {
  return create(ProjectSchema, {
    name: projectName(row.key),
    uid: row.uid,
    displayName: row.display_name,
    description: row.description,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    deleteTime: row.delete_time === null ? undefined : timestampFromPg(row.delete_time),
    etag: etagOf(row.revision),
  });
}

/** The fields UpdateProject may change, by their names in the contract. */
export const WRITABLE_PROJECT_FIELDS = ["display_name", "description"] as const;

/**
 * What an update writes to `row`: the masked `fields` of `project`, whose
 * display name may not be emptied; undefined when nothing changes (no new version).
 */
export function projectChanges(
  row: Pick<ProjectRow, "display_name" | "description">,
  project: Pick<Project, "displayName" | "description"> | undefined,
  fields: Set<(typeof WRITABLE_PROJECT_FIELDS)[number]>,
): Pick<ProjectRow, "display_name" | "description"> | undefined {
  const displayName = fields.has("display_name")
    ? required(project?.displayName, "project.display_name")
    : row.display_name;
  const description = fields.has("description") ? (project?.description ?? "") : row.description;
  if (displayName === row.display_name && description === row.description) return undefined;
  return { display_name: displayName, description };
}
