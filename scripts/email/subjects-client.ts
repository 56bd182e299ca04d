/**
 * Subject lines for `npm run email` from the Worker (POST /v1/admin/subjects, in batches of
 * MAX_SUBJECT_USERS): the campaign's subject rules decided on what the Worker knows of each reader now.
 */

import { z } from "zod";
import { MAX_SUBJECT_USERS, type SubjectAnswer } from "../../core/subject-request";
import { batchesOf, postBatches } from "./admin-batches";

/** What the builder reads of the answer (core/subject-request.ts SubjectAnswer); other fields are let through. */
const line = z.string().nullable();
const SubjectsAnswerShape = z.object({
  subjects: z.array(
    z.looseObject({
      user: z.string(),
      subject: line,
      preheader: line,
      rule: line,
      why: z.string(),
      copy: z.looseObject({ block: z.string(), headline: line, subline: line, cta: line }).nullable(),
    }),
  ),
});

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
    // a line per reader, each naming them (the rest is the route's own, core/subject-request.ts): an answer without
    // them is one this version does not read, not a TypeError further on
    (json) => SubjectsAnswerShape.parse(json).subjects satisfies SubjectAnswer[],
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
