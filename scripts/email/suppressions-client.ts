/**
 * Whom `npm run email` must not mail, from the Worker (POST /v1/admin/suppressions, in batches of
 * MAX_SUPPRESSION_USERS): the recipients opentime knows were erased, unsubscribed, paused their emails, or whose
 * consent it cannot read, and (the request names the campaign) those whose frequency preference another recent
 * send holds back (its own sends recorded by an earlier build never do). Fails closed: a Worker that cannot be reached, refuses, or answers what this version does
 * not read stops the build (SuppressionCheckFailed); it never reads as "nobody to leave out".
 */
import { MAX_SUPPRESSION_USERS, type SuppressionReason, SuppressionsAnswerSchema } from "../../core/suppressions";

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
  const out = new Map<string, SuppressionReason>();
  const url = `${apiBase.replace(/\/+$/, "")}/v1/admin/suppressions`;
  const failed = (why: string) =>
    new SuppressionCheckFailed(
      `could not ask ${url} which recipients must not be mailed (${why}): nothing was built, so that no reader who unsubscribed is mailed. Mend it and run again, or pass --skip-suppression-check to build for every recipient unchecked (readers who unsubscribed, paused or were erased in opentime are then mailed: your list's own suppressions must leave them out)`,
    );
  const unique = [...new Set(users)];
  for (let i = 0; i < unique.length; i += MAX_SUPPRESSION_USERS) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ users: unique.slice(i, i + MAX_SUPPRESSION_USERS), campaign }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw failed((e as Error).message);
    }
    const text = await res.text();
    if (!res.ok) throw failed(`${res.status}${OLDER[res.status] ?? ""}: ${text.slice(0, 200)}`);
    let answer: ReturnType<typeof SuppressionsAnswerSchema.parse>;
    try {
      answer = SuppressionsAnswerSchema.parse(JSON.parse(text));
    } catch {
      throw failed(`an answer this version does not read: ${text.slice(0, 200)}`);
    }
    for (const s of answer.suppressed) out.set(s.user, s.reason);
  }
  return out;
}
