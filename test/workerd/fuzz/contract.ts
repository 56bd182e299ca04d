/**
 * The contract every answer is checked against, per route. Email-facing routes (amp-list, amp-form,
 * images, clicks, pixel): never a 5xx; an image is a decodable PNG of the slot's size; a click is a 302 to
 * an absolute http(s) URL on an allowed origin; the pixel is a GIF and records only views, opens and clicks.
 * API routes: never a 5xx for any input (the queue is up), and a 4xx is `{"error":{"code","message"}}`.
 */
import { parseSlot, type Slot, slotPixels } from "../../../core/layouts";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "../fixture";
import { ALLOWED_SENDERS, FULL_BATCH, type RouteName, SLOT_NAMES } from "./arbitraries";
import { checkPng } from "./png-check";
import type { Outcome } from "./send";

export interface ContractContext {
  /** origins a click may go to: this Worker's, the catalog's and the campaigns' fallback URLs */
  allowedOrigins: Set<string>;
  /**
   * Whether the events queue itself refuses messages now (a probe send fails): then, and only then, an API
   * route may answer 503 EVENTS_UNAVAILABLE. (Miniflare's local queue refuses once 10,000 sends are in
   * flight, which long `npm run fuzz` runs reach; a 503 for input the queue would take is a failure.)
   */
  queueDown: () => Promise<boolean>;
}

export interface Problem {
  /** a short, stable name of the broken rule (failures are grouped by it) */
  rule: string;
  detail: string;
}

const text = (o: Outcome) => new TextDecoder().decode(o.body);
const header = (o: Outcome, name: string) => o.headers.get(name) ?? "";
const isGetLike = (o: Outcome) => o.method === "GET" || o.method === "HEAD";
const hasAmpV2Sender = (o: Outcome) =>
  o.spec.headers.some(([k, v]) => k === "AMP-Email-Sender" && ALLOWED_SENDERS.includes(v)) &&
  !o.spec.headers.some(([k]) => k === "Origin");

/** The route the URL the Worker saw belongs to (dot segments and raw tokens may have led elsewhere). */
export function reachedRoute(url: URL): RouteName {
  const p = url.pathname;
  const exact: Record<string, RouteName> = {
    "/v1/amp/recs": "amp-recs",
    "/v1/amp/preferences": "amp-preferences",
    "/v1/events": "events",
    "/v1/admin/events": "admin-events",
    "/v1/send-time": "send-time",
  };
  const prefixes: [string, RouteName][] = [
    ["/v1/img/", "image"],
    ["/v1/c/", "click"],
    ["/v1/e/", "pixel"],
    ["/v1/users/", "users"],
    ["/v1/admin/campaigns/", "campaigns"],
  ];
  return exact[p] ?? prefixes.find(([prefix]) => p.startsWith(prefix))?.[1] ?? "other";
}

/** The slot the URL names (its last segment, one `.png` dropped), or null: then any slot's size will do. */
function namedSlot(url: URL, png: boolean): Slot | null {
  const last = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    return null;
  }
  if (png && name.toLowerCase().endsWith(".png")) name = name.slice(0, -4);
  return SLOT_NAMES.includes(name) ? parseSlot(name) : null;
}
const SLOT_SIZES = SLOT_NAMES.map((n) => parseSlot(n))
  .filter((s): s is Slot => s !== null)
  .map((s) => slotPixels(s))
  .map(({ width, height }) => `${width}x${height}`);

function errorCode(o: Outcome): string | null {
  try {
    const code = (JSON.parse(text(o)) as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}

function errorShape(o: Outcome, problems: Problem[]): void {
  if (o.status < 400 || o.method === "HEAD") return;
  let body: unknown;
  try {
    body = JSON.parse(text(o));
  } catch {
    problems.push({
      rule: "4xx-not-json",
      detail: `${o.status} ${header(o, "Content-Type")}: ${text(o).slice(0, 80)}`,
    });
    return;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== "string" || typeof error.message !== "string")
    problems.push({ rule: "4xx-without-error-code", detail: `${o.status} ${text(o).slice(0, 120)}` });
}

async function image(o: Outcome, problems: Problem[]): Promise<void> {
  if (!isGetLike(o)) return;
  if (o.status !== 200 || header(o, "Content-Type") !== "image/png") {
    problems.push({ rule: "image-not-200-png", detail: `${o.status} ${header(o, "Content-Type")}` });
    return;
  }
  if (o.method === "HEAD") return;
  const png = await checkPng(o.body);
  if (!png.ok) {
    problems.push({ rule: "image-undecodable", detail: png.error });
    return;
  }
  const size = `${png.width}x${png.height}`;
  const slot = namedSlot(o.url, true);
  const want = slot ? slotPixels(slot) : null;
  if (want && size !== `${want.width}x${want.height}`)
    problems.push({ rule: "image-wrong-size", detail: `${size}, the slot is ${want.width}x${want.height}` });
  if (!want && !SLOT_SIZES.includes(size))
    problems.push({ rule: "image-not-a-slot-size", detail: `${size} is no slot's size` });
}

function click(o: Outcome, ctx: ContractContext, problems: Problem[]): void {
  if (!isGetLike(o)) return;
  if (o.status !== 302) {
    problems.push({ rule: "click-not-302", detail: `${o.status}` });
    return;
  }
  const location = header(o, "Location");
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    problems.push({ rule: "click-location-not-absolute", detail: location.slice(0, 120) });
    return;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    problems.push({ rule: "click-location-not-http", detail: location.slice(0, 120) });
  else if (!ctx.allowedOrigins.has(url.origin))
    problems.push({ rule: "click-location-origin-not-allowed", detail: location.slice(0, 120) });
}

const PIXEL_MAY_RECORD = new Set(["view", "email_open", "email_click"]);
function pixel(o: Outcome, problems: Problem[]): void {
  if (!isGetLike(o)) return;
  if (o.status !== 200 || header(o, "Content-Type") !== "image/gif") {
    problems.push({ rule: "pixel-not-200-gif", detail: `${o.status} ${header(o, "Content-Type")}` });
    return;
  }
  if (o.method === "GET" && text(o).slice(0, 4) !== "GIF8") problems.push({ rule: "pixel-not-gif", detail: "" });
  const type = o.url.searchParams.get("type") ?? "view";
  if (header(o, "X-Opentime-Recorded") === "yes" && !PIXEL_MAY_RECORD.has(type))
    problems.push({ rule: "pixel-recorded-forbidden-type", detail: `type=${type.slice(0, 40)} was recorded` });
}

/** The mail providers that render AMP (their v1 `Origin`): the only origins CORS may allow. */
const MAIL_ORIGINS = [
  "https://mail.google.com",
  "null",
  "https://mail.yahoo.com",
  "https://mail.aol.com",
  "https://e.mail.ru",
  "https://touch.mail.ru",
  "https://octavius.mail.ru",
  "https://playground.amp.dev",
];
function ampCors(o: Outcome, problems: Problem[]): void {
  const allowed = o.headers.get("Access-Control-Allow-Origin");
  if (allowed !== null && !MAIL_ORIGINS.includes(allowed))
    problems.push({
      rule: "amp-cors-origin-reflected",
      detail: `Access-Control-Allow-Origin: ${allowed.slice(0, 80)}`,
    });
}

function ampRecs(o: Outcome, problems: Problem[]): void {
  if (o.method !== "GET" || !hasAmpV2Sender(o)) return;
  if (o.status !== 200) {
    problems.push({ rule: "amp-recs-allowed-sender-not-200", detail: `${o.status} ${text(o).slice(0, 120)}` });
    return;
  }
  try {
    const items = (JSON.parse(text(o)) as { items?: unknown }).items;
    const fields = ["id", "title", "price", "currency", "image", "url"];
    if (
      !Array.isArray(items) ||
      items.length < 1 ||
      items.length > 24 ||
      !items.every((it) => fields.every((f) => typeof (it as Record<string, unknown>)[f] === "string"))
    )
      problems.push({ rule: "amp-recs-bad-items", detail: text(o).slice(0, 120) });
  } catch {
    problems.push({ rule: "amp-recs-not-json", detail: text(o).slice(0, 120) });
  }
}

function ampPreferences(o: Outcome, problems: Problem[]): void {
  // what an amp-form sends: one form Content-Type and a small body
  const types = o.spec.headers.filter(([k]) => k === "Content-Type").map(([, v]) => v);
  const form = types.length === 1 && types[0] === "application/x-www-form-urlencoded";
  const small = (o.spec.body ?? "").length <= 8192;
  if (o.method !== "POST" || !hasAmpV2Sender(o) || !o.tokenOk || !form || !small) return;
  if (o.status !== 200) problems.push({ rule: "amp-preferences-valid-not-200", detail: `${o.status} ${text(o)}` });
}

function events(o: Outcome, problems: Problem[]): void {
  if (o.status === 202) {
    try {
      const body = JSON.parse(text(o)) as { accepted?: unknown; rejected?: unknown };
      if (typeof body.accepted !== "number" || body.accepted < 1 || !Array.isArray(body.rejected))
        problems.push({ rule: "events-202-bad-body", detail: text(o).slice(0, 120) });
    } catch {
      problems.push({ rule: "events-202-not-json", detail: text(o).slice(0, 120) });
    }
  }
  const key = reachedRoute(o.url) === "events" ? TEST_EVENTS_KEY : TEST_ADMIN_KEY;
  const validKey = o.spec.headers.some(([k, v]) => k === "Authorization" && v === `Bearer ${key}`);
  if (o.spec.body === FULL_BATCH && o.method === "POST" && validKey && o.status !== 202)
    problems.push({ rule: "events-500-valid-events-not-accepted", detail: `${o.status} ${text(o).slice(0, 120)}` });
}

function campaigns(o: Outcome, ctx: ContractContext, problems: Problem[]): void {
  if (o.status !== 200 || o.method !== "PUT") return;
  let fallback: string | undefined;
  try {
    fallback = (JSON.parse(text(o)) as { campaign?: { fallbackUrl?: string } }).campaign?.fallbackUrl;
  } catch {
    problems.push({ rule: "campaigns-200-not-json", detail: text(o).slice(0, 120) });
  }
  if (fallback === undefined) return;
  try {
    const url = new URL(fallback);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      problems.push({ rule: "campaign-fallback-url-not-http", detail: fallback.slice(0, 120) });
    else ctx.allowedOrigins.add(url.origin);
  } catch {
    problems.push({ rule: "campaign-fallback-url-not-absolute", detail: fallback.slice(0, 120) });
  }
}

function sendTime(o: Outcome, problems: Problem[]): void {
  if (o.method !== "GET") return;
  // it answers from the reader's profile: never without the admin key, whatever the token (the oracle reads
  // the header as worker/lib/api-key.ts does, the scheme's name in any case; several Authorization headers are left alone)
  const auths = o.spec.headers.filter(([name]) => /^authorization$/i.test(name)).map(([, value]) => value.trim());
  const admits = (v: string) => {
    const scheme = /^bearer[ \t]+/i.exec(v);
    return scheme !== null && v.slice(scheme[0].length).trim() === TEST_ADMIN_KEY;
  };
  if (!auths.some(admits)) {
    if (o.status !== 401) problems.push({ rule: "send-time-without-key-not-401", detail: `${o.status}` });
    return;
  }
  if (auths.length !== 1 || !o.tokenOk) return;
  if (o.status !== 200) {
    problems.push({ rule: "send-time-valid-token-not-200", detail: `${o.status} ${text(o).slice(0, 120)}` });
    return;
  }
  let body: { best_hours_utc?: unknown; hour_of_week?: unknown };
  try {
    body = JSON.parse(text(o));
  } catch {
    problems.push({ rule: "send-time-not-json", detail: text(o).slice(0, 120) });
    return;
  }
  const hours = body.best_hours_utc;
  const week = body.hour_of_week;
  if (
    !Array.isArray(hours) ||
    !hours.every((h) => Number.isInteger(h) && h >= 0 && h < 24) ||
    !Array.isArray(week) ||
    week.length !== 168 ||
    !week.every((p) => typeof p === "number" && Number.isFinite(p))
  )
    problems.push({ rule: "send-time-bad-body", detail: text(o).slice(0, 120) });
}

/** Every rule the answer breaks (none: it keeps the contract). */
export async function checkOutcome(o: Outcome, ctx: ContractContext): Promise<Problem[]> {
  const problems: Problem[] = [];
  const route = reachedRoute(o.url);
  const emailFacing = ["image", "click", "pixel", "amp-recs", "amp-preferences"].includes(route);
  const queueRefused =
    !emailFacing &&
    o.status === 503 &&
    errorCode(o) === "EVENTS_UNAVAILABLE" &&
    o.headers.has("Retry-After") &&
    (await ctx.queueDown());
  if (o.threw) problems.push({ rule: "worker-threw", detail: o.threw });
  else if (o.status >= 500 && !queueRefused)
    problems.push({ rule: "5xx", detail: `${o.status} ${text(o).slice(0, 160)}` });
  // email routes may answer 4xx to what no email sends (another method, no AMP headers); with a code too
  if (!o.threw && (!emailFacing || !isGetLike(o) || route.startsWith("amp-"))) errorShape(o, problems);
  if (route === "image") await image(o, problems);
  if (route === "click") click(o, ctx, problems);
  if (route === "pixel") pixel(o, problems);
  if (route.startsWith("amp-")) ampCors(o, problems);
  if (route === "amp-recs") ampRecs(o, problems);
  if (route === "amp-preferences") ampPreferences(o, problems);
  if ((route === "events" || route === "admin-events") && !queueRefused) events(o, problems);
  if (route === "campaigns") campaigns(o, ctx, problems);
  if (route === "send-time") sendTime(o, problems);
  if (route === "other" && o.method === "GET" && o.url.pathname === "/v1/health" && o.status !== 200)
    problems.push({ rule: "health-not-200", detail: `${o.status}` });
  return problems;
}
