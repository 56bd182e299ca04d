/**
 * Records the campaign's send to the recipients `npm run email` is about to write messages for (POST
 * /v1/admin/sends, in batches of MAX_SUPPRESSION_USERS), so that each reader's frequency preference counts it when
 * the next campaign is checked. Recorded before anything is written, and all or nothing for the build: a batch the
 * Worker does not record (unreachable, refused, a shard down, an older Worker without the route) throws
 * SendsNotRecorded, and the CLI writes nothing, as when the check fails. The batches recorded before it stay
 * recorded: they are this campaign's own sends, which never hold back its own recipients, so running the same
 * build again is safe and records the rest (a send recorded again only moves its time).
 */
import { MAX_SUPPRESSION_USERS, SendsAnswerSchema } from "../../core/suppressions";

/** Some sends could not be recorded: nothing may be built from this run. */
export class SendsNotRecorded extends Error {}

/** Returns how many sends the Worker recorded (an erased reader's is not). */
export async function recordSends(
  apiBase: string,
  key: string,
  campaign: string,
  users: readonly string[],
): Promise<number> {
  const url = `${apiBase.replace(/\/+$/, "")}/v1/admin/sends`;
  const unique = [...new Set(users)];
  let recorded = 0;
  for (let i = 0; i < unique.length; i += MAX_SUPPRESSION_USERS) {
    const failed = (why: string) =>
      new SendsNotRecorded(
        `could not record the campaign's sends at ${url} (${why}; ${i} of ${unique.length} recorded): nothing was built, so that no reader is mailed more often than their frequency preference allows. Run the same build again (this campaign's own recorded sends never hold back its recipients), or pass --dry-run to build without recording (not for sending)`,
      );
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ campaign, users: unique.slice(i, i + MAX_SUPPRESSION_USERS) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw failed((e as Error).message);
    }
    const text = await res.text();
    if (!res.ok)
      throw failed(
        `${res.status}${res.status === 404 ? ", a Worker older than the recording of sends: deploy this version" : ""}: ${text.slice(0, 200)}`,
      );
    try {
      recorded += SendsAnswerSchema.parse(JSON.parse(text)).recorded;
    } catch {
      throw failed(`an answer this version does not read: ${text.slice(0, 200)}`);
    }
  }
  return recorded;
}
