// main.ts (rewritten by the app builder, issue 14 phase 2) still imports from here.
export { expireRequestIds } from "../domain/shared/idempotency.js";
