/**
 * Typed bindings and the configuration parsed from them (once per isolate). Configuration problems never
 * take an email endpoint down: they are logged once and the affected feature degrades (no secret ->
 * every token is refused -> generic content; no allow-list -> every AMP request is refused).
 */
import { z } from "zod";
import { PSI_ALERT_THRESHOLD } from "../core/drift";
import { DEFAULT_ERASURE_TOMBSTONE_DAYS } from "../core/erasure-key";
import { isPlaceholderSecret, MIN_SECRET_LENGTH } from "../core/placeholder-secret";
import { DEFAULT_TOKEN_TTL_DAYS } from "../core/token";
import { DEFAULT_MAIL_ORIGINS, isOriginValue } from "./amp/mail-origins";
import { asciiSender, isWellFormedSender } from "./amp/sender-allowlist";
import type { EventsMessage } from "./events/queue";
import { logEvent } from "./lib/log";

/**
 * A [vars] value as wrangler hands it to the Worker: a string, or what TOML wrote when it is not one
 * (`PREVIEW_PAGE = true`, `EXCLUDE_PURCHASED_DAYS = 30`, `AMP_ALLOWED_SENDERS = ["news@shop.com"]` arrive as a
 * boolean, a number, an array). getConfig reads every one through `text`, never as a string.
 */
export type Var = unknown;

export interface Bindings {
  OPENTIME_KV: KVNamespace;
  /** HMAC secret for URL tokens (`wrangler secret put TOKEN_SECRET`; `.dev.vars` locally) */
  TOKEN_SECRET?: string;
  /** previous secret, still accepted while tokens signed with it are alive (rotation) */
  TOKEN_SECRET_PREVIOUS?: string;
  /** comma-separated sender allow-list: `news@shop.com`, `*@shop.com`, or `*` (testing only) */
  AMP_ALLOWED_SENDERS?: Var;
  /** comma-separated mail-client origins accepted by AMP CORS v1 (default: worker/amp/mail-origins.ts) */
  AMP_ALLOWED_ORIGINS?: Var;
  /** purchases newer than this many days are not recommended again (0 = no exclusion) */
  EXCLUDE_PURCHASED_DAYS?: Var;
  /** how often an isolate re-reads the active model pointer */
  MODEL_REFRESH_SECONDS?: Var;
  /** absolute origin used to resolve catalog paths (`/demo/img/x.png`); defaults to the request's origin */
  PUBLIC_BASE_URL?: Var;
  /**
   * the shop's home page: where a click goes that has nothing else to go to (no product, no campaign
   * `fallbackUrl`, a broken link); defaults to the root of PUBLIC_BASE_URL, else of the request's origin
   */
  SHOP_URL?: Var;
  /**
   * "true" (local development only: `.dev.vars`, written by `npm start`) serves the demo shop's images and
   * product pages, and the preview page, open without a key on a loopback host (127.0.0.1, localhost)
   */
  DEMO_ROUTES?: Var;
  /** "true" serves the preview page (GET /, /v1/preview/*) in production: admin key or Cloudflare Access only */
  PREVIEW_PAGE?: Var;
  /** Cloudflare Access team domain (`<team>.cloudflareaccess.com`): its signed identity opens the preview */
  ACCESS_TEAM_DOMAIN?: Var;
  /** the Access application's audience tag (AUD): required with ACCESS_TEAM_DOMAIN */
  ACCESS_AUD?: Var;
  /** "all" (re-buys allowed outside the exclusion window) or "novel" (never what the reader bought) */
  RECS_MODE?: Var;
  /** 20 pixel events per token a minute, counted per Cloudflare location (`[[ratelimits]]` in wrangler.toml) */
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
  /**
   * secret: signs trigger webhooks (core/webhook-signature.ts); without it, or shorter than MIN_SECRET_LENGTH
   * characters, no trigger is delivered (read through getConfig: `webhookSecret`)
   */
  TRIGGER_WEBHOOK_SECRET?: string;
  /** secret: comma-separated keys for the admin API (erasure, consent) */
  ADMIN_API_KEYS?: string;
  /** events older than this many days are refused (the profile keeps recent behaviour) */
  EVENT_MAX_AGE_DAYS?: Var;
  /**
   * days an erasure's tombstone lives (1-3650, default 45): while it does, the erased reader's queued events,
   * opens and clicks record nothing. It must exceed the longest token TTL you mint (`npm run token` and
   * `npm run email` default to 30 days): a token outliving the tombstone would record the reader again.
   */
  ERASURE_TOMBSTONE_DAYS?: Var;
  /** the drift job's alert threshold on a feature's PSI (default 0.25: a significant shift) */
  DRIFT_PSI_ALERT?: Var;
  /** the currency of purchase events that name none (ISO 4217): reports count them in it */
  SHOP_CURRENCY?: Var;
  /** the drift job's alert threshold on the propensity's expected calibration error (default 0.1) */
  DRIFT_ECE_ALERT?: Var;
}

export type AppEnv = { Bindings: Bindings };

/** The drift job's default alert on the propensity's expected calibration error. */
export const DEFAULT_ECE_ALERT = 0.1;

/**
 * The variables read as a number, a choice or a flag, and the values each takes. A value set but not one of them
 * (`90d`, `-1`, `Novel`, `yes`) is its default, and named in `config.var_invalid`; an empty one is unset.
 */
const SETTINGS = {
  EXCLUDE_PURCHASED_DAYS: z.coerce.number().min(0).max(3650),
  MODEL_REFRESH_SECONDS: z.coerce.number().min(1).max(3600),
  RECS_MODE: z.enum(["all", "novel"]),
  EVENT_MAX_AGE_DAYS: z.coerce.number().min(1).max(3650),
  ERASURE_TOMBSTONE_DAYS: z.coerce.number().min(1).max(3650),
  DRIFT_PSI_ALERT: z.coerce.number().positive().max(10),
  DRIFT_ECE_ALERT: z.coerce.number().positive().max(1),
  DEMO_ROUTES: z.enum(["true", "false"]),
  PREVIEW_PAGE: z.enum(["true", "false"]),
} as const satisfies Partial<Record<keyof Bindings, z.ZodType>>;

const ConfigSchema = z.object({
  tokenSecrets: z.array(z.string().min(MIN_SECRET_LENGTH)),
  allowedSenders: z.array(z.string().min(1)),
  mailOrigins: z.array(z.string().min(1)),
  excludePurchasedDays: SETTINGS.EXCLUDE_PURCHASED_DAYS.catch(30),
  modelRefreshSeconds: SETTINGS.MODEL_REFRESH_SECONDS.catch(30),
  /** http(s) only: it is the base of every click-through and picture URL */
  publicBaseUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .catch(undefined),
  /** http(s) only: readers are sent there */
  shopUrl: z
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
  recsMode: SETTINGS.RECS_MODE.catch("all"),
  /** null when unset or shorter than MIN_SECRET_LENGTH characters: a trigger's delivery then waits (nothing signed) */
  webhookSecret: z.string().min(MIN_SECRET_LENGTH).nullable(),
  eventsApiKeys: z.array(z.string().min(MIN_SECRET_LENGTH)),
  adminApiKeys: z.array(z.string().min(MIN_SECRET_LENGTH)),
  eventMaxAgeDays: SETTINGS.EVENT_MAX_AGE_DAYS.catch(30),
  erasureTombstoneDays: SETTINGS.ERASURE_TOMBSTONE_DAYS.catch(DEFAULT_ERASURE_TOMBSTONE_DAYS),
  driftPsiAlert: SETTINGS.DRIFT_PSI_ALERT.catch(PSI_ALERT_THRESHOLD),
  driftEceAlert: SETTINGS.DRIFT_ECE_ALERT.catch(DEFAULT_ECE_ALERT),
  shopCurrency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .nullable()
    .catch(null),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * What a deployment's configuration lacks or got wrong, each logged once per isolate as `config.<problem>` and
 * listed by `GET /v1/health` (names only, never a value), so a first deploy shows what to set.
 */
export const CONFIG_PROBLEMS = [
  "kv_binding_missing",
  "token_secret_missing",
  "allowed_senders_empty",
  "allowed_senders_example",
  "shop_url_unset",
  "public_base_url_invalid",
  "erasure_tombstone_short",
  "api_key_short",
  "secret_placeholder",
  "webhook_secret_short",
  "shop_currency_invalid",
  "access_invalid",
  "var_invalid",
] as const;
export type ConfigProblem = (typeof CONFIG_PROBLEMS)[number];

let cached: { env: Bindings; config: Config; problems: ConfigProblem[] } | null = null;

/**
 * Bindings made from the runtime's (worker/index.ts gives each kind of handler KV with its own deadlines), by the
 * bindings they were made from: they hold the same configuration, parsed and logged once for all of them. Keyed by
 * each made object, its problems were logged again whenever an email route's request followed an API route's.
 */
const sources = new WeakMap<Bindings, Bindings>();

/** `derived`, made from `source` with the same vars and secrets: its configuration is `source`'s. */
export function sameConfigAs(derived: Bindings, source: Bindings): Bindings {
  sources.set(derived, sources.get(source) ?? source);
  return derived;
}

/**
 * `raw` as text: a string as it is, a number or a boolean as TOML wrote it, a list of those comma-joined (a list
 * setting written as a TOML array); anything else (a table, a nested list) is undefined, its name pushed onto
 * `invalid` (never its value: it may be a secret put in [vars] by mistake).
 */
function text(name: string, raw: Var, invalid: string[]): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === "string") return raw;
  const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
  if (scalar(raw)) return String(raw);
  if (Array.isArray(raw) && raw.every(scalar)) return raw.join(",");
  invalid.push(name);
  return undefined;
}

/** Logs and lists, once, the variables whose value is a placeholder (by name, never the value). */
function placeholders(names: readonly string[], problems: ConfigProblem[]): void {
  if (names.length === 0) return;
  problems.push("secret_placeholder");
  logEvent("error", "config.secret_placeholder", {
    detail: `${names.join(", ")}: the .dev.vars.example placeholder is ignored; set a long random value (wrangler secret put)`,
  });
}

/**
 * Comma-separated keys; keys shorter than MIN_SECRET_LENGTH characters are ignored (and so refuse everything), and
 * logged by the variable's name and how many (never a key), so an operator seeing 401s is told why.
 */
function keys(name: string, raw: string | undefined, problems: ConfigProblem[], placeheld: string[]): string[] {
  // a placeholder copied into a secret is ignored as a short key is: a published placeholder opens no route
  const given = (raw ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const all = given.filter((k) => !isPlaceholderSecret(k));
  if (all.length < given.length) placeheld.push(name);
  const kept = all.filter((k) => k.length >= MIN_SECRET_LENGTH);
  if (kept.length < all.length) {
    problems.push("api_key_short");
    logEvent("error", "config.api_key_short", {
      detail: `${name}: ${all.length - kept.length} key(s) shorter than ${MIN_SECRET_LENGTH} characters are ignored`,
    });
  }
  return kept;
}

export function getConfig(bindings: Bindings): Config {
  const env = sources.get(bindings) ?? bindings;
  if (cached?.env === env) return cached.config;
  const invalid: string[] = [];
  const problems: ConfigProblem[] = [];
  const v = (name: keyof Bindings) => text(name, env[name], invalid);
  // a number, a choice or a flag (SETTINGS): trimmed, empty as unset, a value it does not take named in `invalid`
  const setting = (name: keyof typeof SETTINGS) => {
    const value = v(name)?.trim() || undefined;
    if (value !== undefined && !SETTINGS[name].safeParse(value).success) invalid.push(name);
    return value;
  };
  const demoRoutes = setting("DEMO_ROUTES") === "true";
  // the variables holding a placeholder, logged once at the end (placeholders)
  const placeheld: string[] = [];
  const secret = (name: "TOKEN_SECRET" | "TOKEN_SECRET_PREVIOUS" | "TRIGGER_WEBHOOK_SECRET") => {
    const value = v(name);
    if (value === undefined || !isPlaceholderSecret(value)) return value;
    placeheld.push(name);
    return undefined;
  };
  // without its KV namespace nothing can be read or kept: the email's routes serve their fallbacks, the dashboard what
  // the registry and D1 hold (routes/dashboard.ts), the others 503
  if (!env.OPENTIME_KV) {
    problems.push("kv_binding_missing");
    logEvent("error", "config.kv_binding_missing", {
      detail: "the OPENTIME_KV binding is not configured (kv_namespaces in wrangler.toml): nothing can be read or kept",
    });
  }
  const tokenSecret = secret("TOKEN_SECRET");
  // without a TOKEN_SECRET no token is minted or accepted, TOKEN_SECRET_PREVIOUS's included: the previous secret
  // only verifies, beside a current one (rotation), and is never promoted to sign
  const hasSecret = !!tokenSecret && tokenSecret.length >= MIN_SECRET_LENGTH;
  const secrets = hasSecret
    ? [tokenSecret, secret("TOKEN_SECRET_PREVIOUS")].filter((s): s is string => !!s && s.length >= MIN_SECRET_LENGTH)
    : [];
  if (!hasSecret) {
    problems.push("token_secret_missing");
    logEvent("error", "config.token_secret_missing", {
      detail: `TOKEN_SECRET is missing, shorter than ${MIN_SECRET_LENGTH} characters or a placeholder; every token is refused`,
    });
  }
  // an entry no sender can match (`@shop.com`, `shop.com`: neither an address, `*@domain` nor `*`) is dropped and
  // named in `invalid`; the others serve
  const listed = (v("AMP_ALLOWED_SENDERS") ?? "")
    .split(",")
    .map((s) => asciiSender(s.trim().toLowerCase()))
    .filter(Boolean);
  const senders = listed.filter((s) => s === "*" || isWellFormedSender(s));
  if (senders.length < listed.length) invalid.push("AMP_ALLOWED_SENDERS");
  if (senders.length === 0) {
    problems.push("allowed_senders_empty");
    logEvent("error", "config.allowed_senders_empty", {
      detail: "AMP_ALLOWED_SENDERS is empty; every AMP request is refused",
    });
  }
  // wrangler.toml ships example senders (RFC 2606's reserved `.example` domains), which no mail provider sends from:
  // left as they are on a deployed Worker, every real AMP request is refused (local development uses them)
  const exampleDomain = (sender: string) => /(^|\.)example$/.test(sender.slice(sender.lastIndexOf("@") + 1));
  if (senders.length > 0 && senders.every(exampleDomain) && !demoRoutes) {
    problems.push("allowed_senders_example");
    logEvent("error", "config.allowed_senders_example", {
      detail:
        "AMP_ALLOWED_SENDERS holds only example senders (at .example domains, as wrangler.toml ships them); every real AMP request is refused until it names your sending addresses",
    });
  }
  // an entry no `Origin` header can equal (`https://mail.example/`, `mail.example`) is dropped the same way
  const origins = v("AMP_ALLOWED_ORIGINS")
    ?.split(",")
    .map((o) => o.trim().toLowerCase())
    .filter(Boolean);
  const mailOrigins = origins?.filter(isOriginValue);
  if (mailOrigins && mailOrigins.length < (origins?.length ?? 0)) invalid.push("AMP_ALLOWED_ORIGINS");
  const accessTeam = v("ACCESS_TEAM_DOMAIN");
  const accessAud = v("ACCESS_AUD");
  const currency = v("SHOP_CURRENCY");
  const webhookSecret = secret("TRIGGER_WEBHOOK_SECRET");
  if (webhookSecret && webhookSecret.length < MIN_SECRET_LENGTH) {
    problems.push("webhook_secret_short");
    logEvent("error", "config.webhook_secret_short", {
      detail: `TRIGGER_WEBHOOK_SECRET is shorter than ${MIN_SECRET_LENGTH} characters; no trigger is delivered`,
    });
  }
  const config = ConfigSchema.parse({
    tokenSecrets: secrets,
    allowedSenders: senders,
    mailOrigins: origins?.length ? (mailOrigins ?? []) : [...DEFAULT_MAIL_ORIGINS],
    excludePurchasedDays: setting("EXCLUDE_PURCHASED_DAYS") ?? 30,
    modelRefreshSeconds: setting("MODEL_REFRESH_SECONDS") ?? 30,
    publicBaseUrl: v("PUBLIC_BASE_URL") || undefined,
    shopUrl: v("SHOP_URL") || undefined,
    demoRoutes,
    previewPage: setting("PREVIEW_PAGE") === "true" || demoRoutes,
    access: accessTeam || accessAud ? { teamDomain: accessTeam, aud: accessAud } : null,
    recsMode: setting("RECS_MODE") ?? "all",
    webhookSecret: webhookSecret && webhookSecret.length >= MIN_SECRET_LENGTH ? webhookSecret : null,
    eventsApiKeys: keys("EVENTS_API_KEYS", v("EVENTS_API_KEYS"), problems, placeheld),
    adminApiKeys: keys("ADMIN_API_KEYS", v("ADMIN_API_KEYS"), problems, placeheld),
    eventMaxAgeDays: setting("EVENT_MAX_AGE_DAYS") ?? 30,
    erasureTombstoneDays: setting("ERASURE_TOMBSTONE_DAYS") ?? DEFAULT_ERASURE_TOMBSTONE_DAYS,
    driftPsiAlert: setting("DRIFT_PSI_ALERT") ?? PSI_ALERT_THRESHOLD,
    driftEceAlert: setting("DRIFT_ECE_ALERT") ?? DEFAULT_ECE_ALERT,
    shopCurrency: currency ? currency.trim().toUpperCase() : null,
  });
  placeholders(placeheld, problems);
  if (currency && !config.shopCurrency) {
    problems.push("shop_currency_invalid");
    logEvent("error", "config.shop_currency_invalid", {
      detail: "SHOP_CURRENCY must be an ISO 4217 code (three letters, e.g. GBP); purchases without one count as none",
    });
  }
  if ((accessTeam || accessAud) && !config.access) {
    problems.push("access_invalid");
    logEvent("error", "config.access_invalid", {
      detail:
        "ACCESS_TEAM_DOMAIN (<team>.cloudflareaccess.com) and ACCESS_AUD must both be set; Access identities are refused",
    });
  }
  // a click with nothing to show, or a broken link, goes to the shop's home; without SHOP_URL that is the root of
  // PUBLIC_BASE_URL or of this Worker, which has a page for readers only in local development (the open preview)
  if (!config.shopUrl && !config.demoRoutes) {
    problems.push("shop_url_unset");
    logEvent("warn", "config.shop_url_unset", {
      detail:
        "SHOP_URL is unset or not an http(s) URL: a click with nothing to show and no campaign fallbackUrl goes to the root of PUBLIC_BASE_URL or of this Worker, which may have no page for readers; set it to the shop's home page",
    });
  }
  // set, but not an http(s) URL (`shop.example` without its scheme): left unset, so catalog paths are made absolute
  // against the request's origin instead, and nothing else would say why
  if (v("PUBLIC_BASE_URL") && !config.publicBaseUrl) {
    problems.push("public_base_url_invalid");
    logEvent("error", "config.public_base_url_invalid", {
      detail:
        "PUBLIC_BASE_URL is not an http(s) URL (https://<origin>); ignored: catalog paths are made absolute against the request's origin",
    });
  }
  // an email's token must expire before an erased reader's tombstone ends (one opened after would record them again
  // under their old id): `npm run email` and `npm run token` refuse a `--ttl-days` that would not, so a tombstone no
  // longer than their default leaves them nothing to mint by default; a trigger's tokenTtlDays, refused by PUT, is
  // cut to a day short of it at delivery. The unsubscribe link needs none (core/unsubscribe-link.ts).
  if (config.erasureTombstoneDays <= DEFAULT_TOKEN_TTL_DAYS) {
    problems.push("erasure_tombstone_short");
    logEvent("warn", "config.erasure_tombstone_short", {
      detail: `ERASURE_TOMBSTONE_DAYS is ${config.erasureTombstoneDays}: an email's token must expire before an erased reader's tombstone ends, and the tokens npm run email and npm run token mint live ${DEFAULT_TOKEN_TTL_DAYS} days by default (--ttl-days; a trigger's tokenTtlDays must be shorter too); set it above ${DEFAULT_TOKEN_TTL_DAYS} (45 by default)`,
    });
  }
  if (invalid.length > 0) {
    problems.push("var_invalid");
    logEvent("error", "config.var_invalid", {
      detail: `${[...new Set(invalid)].join(", ")}: not a value the variable takes (README, Configuration: a table or a nested list, a number out of its range, a mode or a flag misspelt, a list's entry that can never match), ignored: a setting is its default, a list is without the entry`,
    });
  }
  cached = { env, config, problems: [...new Set(problems)] };
  return config;
}

/** The configuration's problems (see CONFIG_PROBLEMS), in the order they were found. */
export function configProblems(bindings: Bindings): readonly ConfigProblem[] {
  getConfig(bindings);
  return cached?.env === (sources.get(bindings) ?? bindings) ? cached.problems : [];
}
