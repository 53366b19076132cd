import type { LabelRow } from "../../domain/labels/label-mapping.js";
import { lockLabel } from "../../domain/labels/label-store.js";
import type { Scope } from "../unit-of-work.js";

/** What a change of the label `name` locks: its project, then the label (writers may change labels). */
export const labelScope = (name: string, etag: string): Scope<LabelRow> => ({
  resource: name,
  role: "writer",
  target: ({ tx, project }) => lockLabel(tx, project, name),
  etag,
});
