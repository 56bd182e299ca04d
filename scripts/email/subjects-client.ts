/**
 * Subject lines for `npm run email` from the Worker (POST /v1/admin/subjects, in batches of
 * MAX_SUBJECT_USERS): the campaign's subject rules decided on what the Worker knows of each reader now.
 */
import { MAX_SUBJECT_USERS, type SubjectAnswer } from "../../core/subject-request";

export async function fetchSubjects(
  apiBase: string,
  key: string,
  campaign: string,
  users: readonly string[],
): Promise<Map<string, SubjectAnswer>> {
  const out = new Map<string, SubjectAnswer>();
  const url = `${apiBase.replace(/\/+$/, "")}/v1/admin/subjects`;
  for (let i = 0; i < users.length; i += MAX_SUBJECT_USERS) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ campaign, users: users.slice(i, i + MAX_SUBJECT_USERS) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      // the subjects come from --api-url, else --base-url: a build for a Worker not running yet names where to ask
      throw new Error(
        `could not reach ${url} (${(e as Error).message}): is the Worker running there? --api-url <origin> names the Worker to ask (the local one: http://127.0.0.1:8787), or --subject gives everyone one subject`,
      );
    }
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as { subjects: SubjectAnswer[] };
    for (const s of body.subjects) out.set(s.user, s);
  }
  return out;
}
