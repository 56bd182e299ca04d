/**
 * Whether the campaign `npm run email` builds for is stored on the Worker (GET /v1/admin/campaigns/<id>): the admin
 * API serves an id with none stored under the defaults, but a misspelt id would then go out under them unnoticed, and
 * its sends recorded under that id, so the CLI refuses one (a campaign meant for the defaults is stored as `{}`). Null
 * when the Worker cannot tell (unreachable, refused, an answer not read): the suppression check that follows fails
 * closed on its own.
 */

export async function campaignStored(apiBase: string, key: string, campaign: string): Promise<boolean | null> {
  try {
    const res = await fetch(`${apiBase.replace(/\/+$/, "")}/v1/admin/campaigns/${encodeURIComponent(campaign)}`, {
      headers: { Authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) return null;
    const stored = ((await res.json()) as { stored?: unknown }).stored;
    return typeof stored === "boolean" ? stored : null;
  } catch {
    return null;
  }
}
