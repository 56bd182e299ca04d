/**
 * Whether the campaign `npm run email` builds for is stored on the Worker (GET /v1/admin/campaigns/<id>): an id
 * with none stored is not refused (its opens get the defaults, as the admin API documents), but a misspelt id would
 * otherwise go out under the defaults unnoticed, so the CLI says so. Null when the Worker cannot tell (unreachable,
 * refused, an answer not read): the suppression check that follows fails closed on its own.
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
