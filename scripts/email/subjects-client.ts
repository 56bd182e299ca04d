/**
 * Subject lines for `npm run email` from the Worker (POST /v1/admin/subjects, in batches of
 * MAX_SUBJECT_USERS): the campaign's subject rules decided on what the Worker knows of each reader now.
 * The admin key comes from ADMIN_API_KEY, else the first of ADMIN_API_KEYS in `.dev.vars` (local).
 */
import { MAX_SUBJECT_USERS, type SubjectAnswer } from "../../core/subject-request";
import { readDevVars } from "../lib/dev-vars";

export function adminKey(): string {
  const key = process.env.ADMIN_API_KEY ?? readDevVars().ADMIN_API_KEYS?.split(",")[0]?.trim();
  if (!key) throw new Error("no admin key: set ADMIN_API_KEY (or run `npm start` once for a local .dev.vars)");
  return key;
}

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
      throw new Error(`could not reach ${url} (${(e as Error).message}): pass --subject to give everyone one subject`);
    }
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as { subjects: SubjectAnswer[] };
    for (const s of body.subjects) out.set(s.user, s);
  }
  return out;
}
