/**
 * Records the campaign's send to the recipients `npm run email` is about to write messages for (POST
 * /v1/admin/sends, in batches of MAX_SUPPRESSION_USERS), so that each reader's frequency preference counts it when
 * the next campaign is checked. Recorded before anything is written, and all or nothing for the build: a batch the
 * Worker does not record (unreachable, refused, a shard down, an older Worker without the route) throws
 * SendsNotRecorded, and the CLI writes nothing, as when the check fails. The batches recorded before it stay
 * recorded: they are this campaign's own sends, which for 20 hours from the first build never hold back its
 * own recipients, so running the same build again then is safe and records the rest (the same send again).
 * Readers a shard holds back at the recording (their state changed since the check) come back in `held`: the CLI
 * leaves them out.
 */
import { MAX_SUPPRESSION_USERS, SendsAnswerSchema, type SuppressionReason } from "../../core/suppressions";
import { batchesOf, postBatches, problemText } from "./admin-batches";

/** Some sends could not be recorded: nothing may be built from this run. */
export class SendsNotRecorded extends Error {}

/** What a refusal says of a Worker older than this builder. */
const OLDER: Record<number, string> = { 404: ", a Worker older than the recording of sends: deploy this version" };

/**
 * Returns how many sends the Worker recorded (an erased reader's is not), and the readers it held back at the
 * recording, with why (their shard's state since the check: an unsubscribe, a pause, another send their frequency
 * preference counts): the builder leaves them out.
 */
export async function recordSends(
  apiBase: string,
  key: string,
  campaign: string,
  users: readonly string[],
): Promise<{ recorded: number; held: Map<string, SuppressionReason> }> {
  const unique = [...new Set(users)];
  const answers = await postBatches(
    apiBase,
    "/v1/admin/sends",
    key,
    batchesOf(unique, MAX_SUPPRESSION_USERS).map((batch) => ({ campaign, users: batch })),
    (json) => SendsAnswerSchema.parse(json),
    (problem, url, done) =>
      new SendsNotRecorded(
        `could not record the campaign's sends at ${url} (${problemText(problem, OLDER)}; ${done * MAX_SUPPRESSION_USERS} of ${unique.length} recorded): nothing was built, so that no reader is mailed more often than their frequency preference allows. Run the same build again (this campaign's own issue begun in the last 20 hours never holds back its recipients), or pass --dry-run to build without recording (not for sending)`,
      ),
  );
  const held = new Map<string, SuppressionReason>();
  for (const a of answers) for (const h of a.held) held.set(h.user, h.reason);
  return { recorded: answers.reduce((n, a) => n + a.recorded, 0), held };
}
