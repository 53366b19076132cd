import type { ServiceImpl } from "@connectrpc/connect";
import { UserSchema, type UserService } from "../../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../../context.js";
import { DomainError, invalidArgument, required } from "../../domain/errors.js";
import { assertFresh } from "../../domain/shared/etag.js";
import { resolveUserName, userName } from "../../domain/shared/names.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { RESERVED_HANDLES } from "../../domain/users/handles.js";
import { toUser } from "../../domain/users/user-mapping.js";
import { changeHandle, lockUser } from "../../domain/users/user-store.js";
import { callerOf } from "../../shared/caller.js";
import { mutateOutsideProjects } from "../unit-of-work.js";

/** What a user may change of their profile; the rest comes from the identity provider. */
const WRITABLE_USER_FIELDS = ["handle"] as const;

export const updateUser =
  (ctx: AppContext): ServiceImpl<typeof UserService>["updateUser"] =>
  (req, context) => {
    const user = req.user;
    if (!user) throw invalidArgument("user", "is required");
    const fields = maskedFields(req.updateMask, WRITABLE_USER_FIELDS);
    const caller = callerOf(context);
    // The same answer for every other name, whether it is someone's or nobody's.
    if (resolveUserName(user.name, caller) !== userName(caller.userUid))
      throw new DomainError(
        "permission_denied",
        "NOT_OWN_PROFILE",
        "a user can only change their own profile",
        {
          resource: user.name,
        },
      );
    const noRequestId = async () => {};
    return mutateOutsideProjects(ctx, context, req, noRequestId, async ({ tx, ...work }) => {
      const row = await lockUser(tx, caller.userUid);
      assertFresh(user.etag, row.revision, userName(row.uid));
      const before = toUser(row);
      // An empty mask, or the handle the user already has, changes nothing (AIP-134).
      if (!fields.has("handle") || user.handle === before.handle) return before;
      const handle = required(user.handle, "user.handle");
      if (RESERVED_HANDLES.has(handle)) {
        throw invalidArgument("user.handle", `"${handle}" is reserved`, "HANDLE_RESERVED");
      }
      const after = toUser(await changeHandle(tx, row.uid, handle, work.bump()));
      await work.audit({ resource: after.name, schema: UserSchema, before, after });
      return after;
    });
  };
