/**
 * Subject lines for `npm run email` from the Worker (POST /v1/admin/subjects, in batches of
 * MAX_SUBJECT_USERS): the campaign's subject rules decided on what the Worker knows of each reader now.
 */
import { MAX_SUBJECT_USERS, type SubjectAnswer } from "../../core/subject-request";
import { batchesOf, postBatches } from "./admin-batches";

export async function fetchSubjects(
  apiBase: string,
  key: string,
  campaign: string,
  users: readonly string[],
  /** false: a build not to be sent (a dry run): the Worker records no experiment arm for these readers */
  record = true,
): Promise<Map<string, SubjectAnswer>> {
  const answers = await postBatches(
    apiBase,
    "/v1/admin/subjects",
    key,
    // `record` only when false: a Worker older than it refuses the field
    batchesOf(users, MAX_SUBJECT_USERS).map((batch) => ({ campaign, users: batch, ...(!record && { record }) })),
    (json) => (json as { subjects: SubjectAnswer[] }).subjects,
    (problem, url) =>
      // the subjects come from --api-url, else --base-url: a build for a Worker not running yet names where to ask
      new Error(
        problem.kind === "unreachable"
          ? `could not reach ${url} (${problem.message}): is the Worker running there? --api-url <origin> names the Worker to ask (the local one: http://127.0.0.1:8787), or --subject gives everyone one subject`
          : problem.kind === "refused"
            ? `${url} answered ${problem.status}: ${problem.text}`
            : `${url} answered what this version does not read: ${problem.text}`,
      ),
  );
  return new Map(answers.flat().map((s) => [s.user, s]));
}
