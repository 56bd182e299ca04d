/**
 * Typed bindings and the configuration parsed from them (once per isolate). Configuration problems never
 * take an email endpoint down: they are logged once and the affected feature degrades (no secret ->
 * every token is refused -> generic content; no allow-list -> every AMP request is refused).
 */
import { z } from "zod";
import { PSI_ALERT_THRESHOLD } from "../core/drift";
import { DEFAULT_MAIL_ORIGINS } from "./amp/mail-origins";
import type { EventsMessage } from "./events/queue";
import { logEvent } from "./lib/log";

export interface Bindings {
  OPENTIME_KV: KVNamespace;
  /** HMAC secret for URL tokens (`wrangler secret put TOKEN_SECRET`; `.dev.vars` locally) */
  TOKEN_SECRET?: string;
  /** previous secret, still accepted while tokens signed with it are alive (rotation) */
  TOKEN_SECRET_PREVIOUS?: string;
  /** comma-separated sender allow-list: `news@shop.com`, `*@shop.com`, or `*` (testing only) */
  AMP_ALLOWED_SENDERS?: string;
  /** comma-separated mail-client origins accepted by AMP CORS v1 (default: worker/amp/mail-origins.ts) */
  AMP_ALLOWED_ORIGINS?: string;
  /** purchases newer than this many days are not recommended again (0 = no exclusion) */
  EXCLUDE_PURCHASED_DAYS?: string;
  /** how often an isolate re-reads the active model pointer */
  MODEL_REFRESH_SECONDS?: string;
  /** absolute origin used to resolve catalog paths (`/demo/img/x.png`); defaults to the request's origin */
  PUBLIC_BASE_URL?: string;
  /**
   * "true" (local development only: `.dev.vars`, written by `npm start`) serves the demo shop's images and
   * product pages, and the preview page, open without a key on a loopback host (127.0.0.1, localhost)
   */
  DEMO_ROUTES?: string;
  /** "true" serves the preview page (GET /, /v1/preview/*) in production: admin key or Cloudflare Access only */
  PREVIEW_PAGE?: string;
  /** Cloudflare Access team domain (`<team>.cloudflareaccess.com`): its signed identity opens the preview */
  ACCESS_TEAM_DOMAIN?: string;
  /** the Access application's audience tag (AUD): required with ACCESS_TEAM_DOMAIN */
  ACCESS_AUD?: string;
  /** "all" (re-buys allowed outside the exclusion window) or "novel" (never what the reader bought) */
  RECS_MODE?: string;
  /** at most 20 pixel events per token a minute (`[[ratelimits]]` in wrangler.toml) */
  PIXEL_RATE_LIMITER?: RateLimit;
  /** the writers of reader state (worker/state/reader-shard.ts), one per shard of readers */
  READERS?: DurableObjectNamespace<import("./state/reader-shard").ReaderShard>;
  /** the writer of the live catalog (worker/state/catalog-writer.ts), one instance */
  CATALOG?: DurableObjectNamespace<import("./state/catalog-writer").CatalogWriter>;
  /** the writer of experiments (worker/state/experiment-registry.ts), one instance */
  EXPERIMENT_REGISTRY?: DurableObjectNamespace<import("./state/experiment-registry").ExperimentRegistry>;
  /** the campaigns' one writer (worker/state/campaign-writer.ts), one instance */
  CAMPAIGN_WRITER?: DurableObjectNamespace<import("./state/campaign-writer").CampaignWriter>;
  /** the Worker's writer of model moves (worker/state/model-mover.ts), one instance */
  MODEL_MOVER?: DurableObjectNamespace<import("./state/model-mover").ModelMover>;
  /** the experiment store (worker/experiments/experiment-db.ts): exposures, attributed outcomes, daily aggregates */
  DB?: D1Database;
  /** the events queue (producer); the same Worker consumes it */
  EVENTS?: Queue<EventsMessage>;
  /** secret: comma-separated API keys for POST /v1/events (several, for rotation) */
  EVENTS_API_KEYS?: string;
  /** secret: signs trigger webhooks (core/webhook-signature.ts); without it no trigger is delivered */
  TRIGGER_WEBHOOK_SECRET?: string;
  /** secret: comma-separated keys for the admin API (erasure, consent) */
  ADMIN_API_KEYS?: string;
  /** events older than this many days are refused (the profile keeps recent behaviour) */
  EVENT_MAX_AGE_DAYS?: string;
  /**
   * days an erasure's tombstone lives (1-3650, default 45): while it does, the erased reader's queued events,
   * opens and clicks record nothing. It must exceed the longest token TTL you mint (`npm run token` and
   * `npm run email` default to 30 days): a token outliving the tombstone would record the reader again.
   */
  ERASURE_TOMBSTONE_DAYS?: string;
  /** the drift job's alert threshold on a feature's PSI (default 0.25: a significant shift) */
  DRIFT_PSI_ALERT?: string;
  /** the currency of purchase events that name none (ISO 4217): reports count them in it */
  SHOP_CURRENCY?: string;
  /** the drift job's alert threshold on the propensity's expected calibration error (default 0.1) */
  DRIFT_ECE_ALERT?: string;
}

export type AppEnv = { Bindings: Bindings };

/** The drift job's default alert on the propensity's expected calibration error. */
export const DEFAULT_ECE_ALERT = 0.1;

/** Longer than the 30-day default token TTL (`npm run token`, `npm run email`). */
export const DEFAULT_ERASURE_TOMBSTONE_DAYS = 45;

const ConfigSchema = z.object({
  tokenSecrets: z.array(z.string().min(16)),
  allowedSenders: z.array(z.string().min(1)),
  mailOrigins: z.array(z.string().min(1)),
  excludePurchasedDays: z.coerce.number().min(0).max(3650).catch(30),
  modelRefreshSeconds: z.coerce.number().min(1).max(3600).catch(30),
  /** http(s) only: it is the base of every click-through and picture URL */
  publicBaseUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .catch(undefined),
  demoRoutes: z.boolean(),
  previewPage: z.boolean(),
  /** both set and well-formed, or null: Access identities are then accepted on the preview */
  access: z
    .object({
      teamDomain: z
        .string()
        .transform((d) =>
          d
            .replace(/^https:\/\//, "")
            .replace(/\/+$/, "")
            .toLowerCase(),
        )
        .pipe(z.string().regex(/^[a-z0-9-]+\.cloudflareaccess\.com$/)),
      aud: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
    })
    .nullable()
    .catch(null),
  recsMode: z.enum(["all", "novel"]).catch("all"),
  eventsApiKeys: z.array(z.string().min(16)),
  adminApiKeys: z.array(z.string().min(16)),
  eventMaxAgeDays: z.coerce.number().min(1).max(3650).catch(30),
  erasureTombstoneDays: z.coerce.number().min(1).max(3650).catch(DEFAULT_ERASURE_TOMBSTONE_DAYS),
  driftPsiAlert: z.coerce.number().positive().max(10).catch(PSI_ALERT_THRESHOLD),
  driftEceAlert: z.coerce.number().positive().max(1).catch(DEFAULT_ECE_ALERT),
  shopCurrency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .nullable()
    .catch(null),
});
export type Config = z.infer<typeof ConfigSchema>;

let cached: { env: Bindings; config: Config } | null = null;

/** Comma-separated keys; keys shorter than 16 characters are ignored (and so refuse everything). */
function keys(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length >= 16);
}

export function getConfig(env: Bindings): Config {
  if (cached?.env === env) return cached.config;
  const secrets = [env.TOKEN_SECRET, env.TOKEN_SECRET_PREVIOUS].filter((s): s is string => !!s && s.length >= 16);
  if (!env.TOKEN_SECRET || env.TOKEN_SECRET.length < 16) {
    logEvent("error", "config.token_secret_missing", {
      detail: "TOKEN_SECRET is missing or shorter than 16 characters; every token is refused",
    });
  }
  const senders = (env.AMP_ALLOWED_SENDERS ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (senders.length === 0) {
    logEvent("error", "config.allowed_senders_empty", {
      detail: "AMP_ALLOWED_SENDERS is empty; every AMP request is refused",
    });
  }
  const config = ConfigSchema.parse({
    tokenSecrets: secrets,
    allowedSenders: senders,
    mailOrigins: env.AMP_ALLOWED_ORIGINS
      ? env.AMP_ALLOWED_ORIGINS.split(",")
          .map((o) => o.trim().toLowerCase())
          .filter(Boolean)
      : [...DEFAULT_MAIL_ORIGINS],
    excludePurchasedDays: env.EXCLUDE_PURCHASED_DAYS ?? 30,
    modelRefreshSeconds: env.MODEL_REFRESH_SECONDS ?? 30,
    publicBaseUrl: env.PUBLIC_BASE_URL || undefined,
    demoRoutes: env.DEMO_ROUTES === "true",
    previewPage: env.PREVIEW_PAGE === "true" || env.DEMO_ROUTES === "true",
    access:
      env.ACCESS_TEAM_DOMAIN || env.ACCESS_AUD ? { teamDomain: env.ACCESS_TEAM_DOMAIN, aud: env.ACCESS_AUD } : null,
    recsMode: env.RECS_MODE ?? "all",
    eventsApiKeys: keys(env.EVENTS_API_KEYS),
    adminApiKeys: keys(env.ADMIN_API_KEYS),
    eventMaxAgeDays: env.EVENT_MAX_AGE_DAYS ?? 30,
    erasureTombstoneDays: env.ERASURE_TOMBSTONE_DAYS ?? DEFAULT_ERASURE_TOMBSTONE_DAYS,
    driftPsiAlert: env.DRIFT_PSI_ALERT ?? PSI_ALERT_THRESHOLD,
    driftEceAlert: env.DRIFT_ECE_ALERT ?? DEFAULT_ECE_ALERT,
    shopCurrency: env.SHOP_CURRENCY ? env.SHOP_CURRENCY.trim().toUpperCase() : null,
  });
  if (env.SHOP_CURRENCY && !config.shopCurrency) {
    logEvent("error", "config.shop_currency_invalid", {
      detail: "SHOP_CURRENCY must be an ISO 4217 code (three letters, e.g. GBP); purchases without one count as none",
    });
  }
  if ((env.ACCESS_TEAM_DOMAIN || env.ACCESS_AUD) && !config.access) {
    logEvent("error", "config.access_invalid", {
      detail:
        "ACCESS_TEAM_DOMAIN (<team>.cloudflareaccess.com) and ACCESS_AUD must both be set; Access identities are refused",
    });
  }
  cached = { env, config };
  return config;
}
