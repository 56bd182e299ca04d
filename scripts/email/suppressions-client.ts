/**
 * Whom `npm run email` must not mail, from the Worker (POST /v1/admin/suppressions, in batches of
 * MAX_SUPPRESSION_USERS): the recipients opentime knows were erased, unsubscribed, paused their emails, or whose
 * consent it cannot read, and (the request names the campaign) those whose frequency preference another recent
 * send holds back (its own sends recorded by an earlier build never do). Fails closed: a Worker that cannot be reached, refuses, or answers what this version does
 * not read stops the build (SuppressionCheckFailed); it never reads as "nobody to leave out".
 */
import { MAX_SUPPRESSION_USERS, type SuppressionReason, SuppressionsAnswerSchema } from "../../core/suppressions";
import { batchesOf, postBatches, problemText } from "./admin-batches";

/** What a refusal says of a Worker older than this builder. */
const OLDER: Record<number, string> = {
  404: ", a Worker older than the check: deploy this version",
  400: ", perhaps a Worker older than this builder (one that takes no campaign in the check): deploy this version",
};

/** The check could not be made: nothing may be built from it. */
export class SuppressionCheckFailed extends Error {}

export async function fetchSuppressions(
  apiBase: string,
  key: string,
  users: readonly string[],
  campaign: string,
): Promise<Map<string, SuppressionReason>> {
  const answers = await postBatches(
    apiBase,
    "/v1/admin/suppressions",
    key,
    batchesOf([...new Set(users)], MAX_SUPPRESSION_USERS).map((batch) => ({ users: batch, campaign })),
    (json) => SuppressionsAnswerSchema.parse(json).suppressed,
    (problem, url) =>
      new SuppressionCheckFailed(
        `could not ask ${url} which recipients must not be mailed (${problemText(problem, OLDER)}): nothing was built, so that no reader who unsubscribed is mailed. Mend it and run again, or pass --skip-suppression-check to build for every recipient unchecked (readers who unsubscribed, paused or were erased in opentime are then mailed: your list's own suppressions must leave them out)`,
      ),
  );
  return new Map(answers.flat().map((s) => [s.user, s.reason]));
}
