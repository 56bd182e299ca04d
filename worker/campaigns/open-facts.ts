/**
 * The facts of an open that conditions can test (core/conditions.ts): the reader's local hour and weekday,
 * their country, who fetched, and whether it is the AMP part or an image. Cloudflare's `request.cf` gives the
 * requester's time zone and country; behind a mail proxy (Gmail's image proxy, Apple's prefetch, an AMP
 * request, which mail providers proxy) that is the proxy's location, so country is unknown there and the
 * hour comes from the campaign's `timeZone` when it names one.
 */
import { COUNTRY_CODE, type Facts } from "../../core/conditions";
import type { FetchKind } from "../decisions/classify-fetch";

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const MAX_ZONES = 400;
const formats = new Map<string, Intl.DateTimeFormat | null>();

/** An hour/weekday formatter for an IANA zone; null for a zone this runtime does not know. */
function formatFor(zone: string): Intl.DateTimeFormat | null {
  let f = formats.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hour: "numeric", hourCycle: "h23", weekday: "short" });
    } catch {
      f = null;
    }
    if (formats.size >= MAX_ZONES) formats.clear();
    formats.set(zone, f);
  }
  return f;
}

/** Hour (0-23) and weekday (`mon` ..) at `now` in `zone`; null when the zone is unknown. */
function localTime(zone: string, now: number): { hour: number; weekday: string } | null {
  const f = formatFor(zone);
  if (!f) return null;
  let hour = -1;
  let weekday = "";
  for (const part of f.formatToParts(now)) {
    if (part.type === "hour") hour = Number(part.value) % 24;
    if (part.type === "weekday") weekday = part.value.toLowerCase().slice(0, 3);
  }
  return hour >= 0 && (WEEKDAYS as readonly string[]).includes(weekday) ? { hour, weekday } : null;
}

export interface OpenSignals {
  format: "amp" | "html";
  fetcher: FetchKind;
  /** `request.cf.timezone` and `request.cf.country`, when present */
  timezone?: string | null;
  country?: string | null;
  /** the campaign's time zone, for opens whose own is unknown */
  campaignZone?: string;
  now: number;
}

/** The request's time zone, and its `cf.country` when it is one a campaign's test may name (COUNTRY_CODE). */
export function cfSignals(req: Request): { timezone: string | null; country: string | null } {
  const cf = (req as Request & { cf?: { timezone?: unknown; country?: unknown } }).cf;
  return {
    timezone: typeof cf?.timezone === "string" ? cf.timezone : null,
    country: typeof cf?.country === "string" && COUNTRY_CODE.test(cf.country) ? cf.country : null,
  };
}

export function openFacts(s: OpenSignals): Facts {
  const own = s.fetcher === "direct";
  const zone = (own ? s.timezone : null) ?? s.campaignZone ?? null;
  const local = zone ? localTime(zone, s.now) : null;
  return {
    format: s.format,
    fetcher: s.fetcher,
    country: own ? (s.country ?? null) : null,
    localHour: local?.hour ?? null,
    weekday: local?.weekday ?? null,
  };
}
