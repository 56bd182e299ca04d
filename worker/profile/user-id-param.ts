/**
 * The user id in an admin route's path: pseudonymous (an email-shaped id is refused with 400
 * USER_ID_NOT_PSEUDONYMOUS), 1-128 characters, no control characters (400 BAD_REQUEST). `held`: a route that
 * reads or erases what is stored (right of access, erasure) also takes an id shaped like an address only through
 * a look-alike `@` or `.` (core/events.ts HeldUserIdSchema), which earlier versions stored.
 */
import { HeldUserIdSchema, looksLikeEmail, looksLikeEmailAsSent, UserIdSchema } from "../../core/events";
import { ApiError } from "../errors";
import { invalidInput } from "../lib/zod-issues";

export function userIdParam(id: string, held = false): string {
  const parsed = (held ? HeldUserIdSchema : UserIdSchema).safeParse(id);
  if (parsed.success) return parsed.data;
  if (id.length <= 128 && (held ? looksLikeEmailAsSent(id) : looksLikeEmail(id))) {
    throw new ApiError(
      "USER_ID_NOT_PSEUDONYMOUS",
      "user ids must be pseudonymous: hash email addresses with a secret salt first",
    );
  }
  throw invalidInput(parsed.error, "BAD_REQUEST", "user id");
}
