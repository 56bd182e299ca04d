/**
 * The dashboard's pages and forms as a browser uses them, for the tests of its buttons: a form posted from the
 * dashboard's own origin, the page drawn, a redirect followed to the message it shows, a ship form's fields; and
 * the experiment those tests set up on their campaign.
 */
import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { Experiment } from "../../../core/experiments/experiment";
import { experimentRegistry } from "../../../worker/experiments/registry-stub";
import { ADMIN_HEADERS, freshExperimentState, putCampaign, putExperiment, send } from "./harness";

/** The dashboard's own origin (the Worker's, as the tests call it). */
export const ORIGIN = "https://opentime.test";

/** A button's form posted as the page posts it (`origin`: the Origin header, null for none), to `bindings`. */
export function press(
  path: string,
  form: Record<string, string> = {},
  origin: string | null = ORIGIN,
  bindings: typeof env = env,
): Promise<Response> {
  return send(
    path,
    {
      method: "POST",
      headers: {
        Authorization: ADMIN_HEADERS.Authorization,
        "Content-Type": "application/x-www-form-urlencoded",
        ...(origin !== null && { Origin: origin }),
      },
      body: new URLSearchParams(form).toString(),
    },
    bindings,
  );
}

/** The dashboard at `query` as `bindings` draw it: it answers 200. */
export async function page(query: string, bindings: typeof env = env): Promise<string> {
  const res = await send(`/dashboard${query}`, { headers: ADMIN_HEADERS }, bindings);
  expect(res.status).toBe(200);
  return res.text();
}

/** Where a 303 leads, and the message the page there (drawn by `bindings`) shows. */
export async function followed(
  res: Response,
  bindings: typeof env = env,
): Promise<{ location: string; message: string | null }> {
  expect(res.status).toBe(303);
  const location = res.headers.get("Location") as string;
  const html = await page(location.slice("/dashboard".length), bindings);
  return { location, message: /<p data-testid="experiment-message"><b>([^<]*)<\/b>/.exec(html)?.[1] ?? null };
}

/** The ship form the page shows for `arm` (its hidden fields), or null when it offers none. */
export function shipForm(html: string, arm: string): Record<string, string> | null {
  const row = new RegExp(`<tr data-ship="${arm}">(.*?)</tr>`, "s").exec(html)?.[1] ?? "";
  const fields = [...row.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)];
  if (fields.length === 0) return null;
  return Object.fromEntries(fields.map(([, name, value]) => [name, (value as string).replaceAll("&quot;", '"')]));
}

/** An experiment stored through the admin API, as the tests of its buttons set it up: it answers 200. */
export async function storeExperiment(id: string, body: unknown): Promise<void> {
  expect((await putExperiment(id, body)).status).toBe(200);
}

/** A campaign's content: its default block, `block`, of recommendations. */
export const recs = (block: string) => ({ v: 2, default: { id: block, type: "recommendations" } });

/**
 * The body of the experiment the tests of its buttons store on `campaign`: arms a and b (blocks picks-a and picks-b),
 * then `more`; the function it returns lays `over` on it.
 */
export const experimentOn =
  (campaign: string, more: readonly Record<string, unknown>[] = []) =>
  (over: Record<string, unknown> = {}) => ({
    campaign,
    variants: [
      { id: "a", weight: 1, content: recs("picks-a") },
      { id: "b", weight: 1, content: recs("picks-b") },
      ...more,
    ],
    ...over,
  });

/** No experiments, and `campaign` stored with its own content (block picks): it answers 200. */
export async function freshCampaign(campaign: string): Promise<void> {
  await freshExperimentState();
  expect((await putCampaign(campaign, recs("picks"))).status).toBe(200);
}

/** The experiment as the registry holds it. */
export const stored = async (id: string) => (await experimentRegistry(env).get(id)) as Experiment;
