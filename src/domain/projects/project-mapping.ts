import { create } from "@bufbuild/protobuf";
import { type Project, ProjectSchema } from "../../../gen/proto/tracker/v1/project_pb.js";
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
