/**
 * The user id in an admin route's path: pseudonymous (an email-shaped id is refused with 400
 * USER_ID_NOT_PSEUDONYMOUS), 1-128 characters, no control characters (400 BAD_REQUEST).
 */
import { looksLikeEmail, UserIdSchema } from "../../core/events";
import { ApiError } from "../errors";
import { invalidInput } from "../lib/zod-issues";

export function userIdParam(id: string): string {
  const parsed = UserIdSchema.safeParse(id);
  if (parsed.success) return parsed.data;
  if (id.length <= 128 && looksLikeEmail(id)) {
    throw new ApiError(
      "USER_ID_NOT_PSEUDONYMOUS",
      "user ids must be pseudonymous: hash email addresses with a secret salt first",
    );
  }
  throw invalidInput(parsed.error, "BAD_REQUEST", "user id");
}
