/**
 * The preview page (DEMO_ROUTES, or PREVIEW_PAGE in production; 404 otherwise):
 *   GET  /                                   pick a user and a campaign, see the email's parts live
 *   GET  /v1/preview/users                   user ids with a profile or model features (up to 50)
 *   GET  /v1/preview/email?user&campaign&layout   token, rendered parts, recommendations and why
 *   GET  /v1/preview/decisions?user&campaign      the stored open-time decisions of that email
 *   POST /v1/preview/reset?user&campaign     forgets those decisions (to watch `freeze` decide again)
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import ampTemplate from "../../amp-templates/recs-email.amp.html";
import htmlTemplate from "../../amp-templates/recs-email.html";
import textTemplate from "../../amp-templates/recs-email.txt";
import { CampaignIdSchema } from "../../core/campaign";
import { emailLinks, renderEmail } from "../../core/email-template";
import { UserIdSchema } from "../../core/events";
import { isOwnKey, kvKeys } from "../../core/kv-keys";
import { LAYOUT_NAMES, layoutSlots, slotKey } from "../../core/layouts";
import { mintToken } from "../../core/token";
import { getCampaign } from "../decisions/campaign-store";
import { DecisionSchema } from "../decisions/decide-slot";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { ampStaticView } from "../preview/amp-static";
import { PREVIEW_PAGE } from "../preview/preview-page";
import { toAmpItem } from "../recs/amp-items";
import { recommend } from "../recs/recommend";

const TOKEN_TTL_SECONDS = 7 * 86400;

const PreviewQuery = z.object({
  user: UserIdSchema,
  campaign: CampaignIdSchema.default("demo"),
  layout: z.enum(LAYOUT_NAMES as [string, ...string[]]).default("row"),
});

function enabled(c: Context<AppEnv>): void {
  if (!getConfig(c.env).previewPage)
    throw new ApiError("NOT_FOUND", "the preview page is disabled (DEMO_ROUTES / PREVIEW_PAGE)");
}

function query(c: Context<AppEnv>) {
  const parsed = PreviewQuery.safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError("BAD_REQUEST", `${issue?.path.join(".") || "query"}: ${issue?.message}`);
  }
  return parsed.data as { user: string; campaign: string; layout: (typeof LAYOUT_NAMES)[number] };
}

async function listUsers(kv: KVNamespace): Promise<string[]> {
  const ids = new Set<string>();
  for (const prefix of ["profile:", "features:"]) {
    const page = await kv.list({ prefix, limit: 50 });
    for (const k of page.keys) ids.add(k.name.slice(prefix.length).split(":")[0] as string);
    if (ids.size >= 50) break;
  }
  return [...ids].sort().slice(0, 50);
}

export function registerPreview(app: Hono<AppEnv>): void {
  app.get("/", (c) => {
    enabled(c);
    return c.html(PREVIEW_PAGE, 200, { "Cache-Control": "no-store" });
  });

  app.get("/v1/preview/users", async (c) => {
    enabled(c);
    return c.json({ users: await listUsers(c.env.OPENTIME_KV) });
  });

  app.get("/v1/preview/email", async (c) => {
    enabled(c);
    const q = query(c);
    const config = getConfig(c.env);
    const secret = config.tokenSecrets[0];
    if (!secret)
      throw new ApiError("MODEL_UNAVAILABLE", "TOKEN_SECRET is not set: run `npm start` once to create .dev.vars");
    const base = config.publicBaseUrl ?? new URL(c.req.url).origin;
    const token = await mintToken(secret, { user: q.user, campaign: q.campaign, ttlSeconds: TOKEN_TTL_SECONDS });
    const links = emailLinks({ baseUrl: base, token, layout: q.layout });
    const parts = renderEmail(
      { amp: ampTemplate, html: htmlTemplate, text: textTemplate },
      { headline: "Picked for you", shopName: "the opentime demo shop", shopUrl: `${base}/`, count: 6, ...links },
    );
    const rec = await recommend({ kv: c.env.OPENTIME_KV, config, token, n: 6 });
    const items = rec.items.map((it, i) => ({
      ...toAmpItem(it, base),
      rank: i + 1,
      score: rec.scores?.[i] ?? null,
    }));
    const campaign = await getCampaign(c.env.OPENTIME_KV, q.campaign);
    return c.json(
      {
        user: q.user,
        campaign: q.campaign,
        settings: campaign,
        token,
        recs: { reason: rec.reason, scorer: rec.scorer, model: rec.modelVersion, excluded: rec.excluded ?? 0, items },
        slots: links.slots,
        parts: { html: parts.html, text: parts.text, amp: parts.amp, ampStatic: ampStaticView(parts.amp, items) },
      },
      200,
      { "Cache-Control": "no-store" },
    );
  });

  app.get("/v1/preview/decisions", async (c) => {
    enabled(c);
    const q = query(c);
    const decisions = await Promise.all(
      layoutSlots(q.layout).map(async (s) => {
        const raw = await c.env.OPENTIME_KV.get(kvKeys.decision(q.user, q.campaign, slotKey(s)), "json");
        const d = DecisionSchema.safeParse(raw);
        return d.success
          ? {
              slot: slotKey(s),
              item: d.data.item.id,
              title: d.data.item.title,
              state: d.data.state,
              via: d.data.via,
              reason: d.data.reason,
              scorer: d.data.scorer,
              decidedAt: new Date(d.data.decidedAt).toISOString(),
            }
          : { slot: slotKey(s), item: null };
      }),
    );
    return c.json({ decisions }, 200, { "Cache-Control": "no-store" });
  });

  app.post("/v1/preview/reset", async (c) => {
    enabled(c);
    const q = query(c);
    const prefix = kvKeys.decisionsPrefix(q.user);
    const own = (await c.env.OPENTIME_KV.list({ prefix: `${prefix}${q.campaign}:` })).keys.filter((k) =>
      isOwnKey(prefix, k.name),
    );
    await Promise.all(own.map((k) => c.env.OPENTIME_KV.delete(k.name)));
    return c.json({ deleted: own.length });
  });
}
