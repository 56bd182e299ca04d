/**
 * GET /v1/send-time?t=<token> (Bearer ADMIN_API_KEYS) — the reader's best hours to receive email (UTC hours of
 * the day, best first) for ESPs scheduling sends: from the profile's own distribution, else their segment's,
 * else the shop's (also when the stored one is unreadable). A server-to-server API: what it answers comes from
 * the reader's profile (when they open, their segment, their propensity), so the token, which every link of an
 * email carries (also once forwarded), is not enough: the key is asked first. What is known of the reader is used
 * only as for subject lines (worker/campaigns/known-reader.ts): not erased (their tombstone read; features a seed
 * wrote just after the erasure stay unused) and allowing personalization; otherwise the shop's hours, with no
 * segment or propensity. A bad token is a 401, no model a 503; the email endpoints never do that.
 */
import type { Hono } from "hono";
import { base64ToBytes } from "../../core/base64";
import { bestHours, HOURS_OF_WEEK } from "../../core/send-time";
import { verifyToken } from "../../core/token";
import { knownReader } from "../campaigns/known-reader";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { background } from "../lib/background";
import { logEvent } from "../lib/log";
import { getModel } from "../model/model-store";

export interface SendTimeResponse {
  user: string;
  /** UTC hours of the day, best first */
  best_hours_utc: number[];
  /** 168 values (0 = Sunday 00:00 UTC), summing to 1 */
  hour_of_week: number[];
  source: "profile" | "segment" | "shop";
  segment: { id: number; name: string } | null;
  propensity_30d: number | null;
  model: string;
}

function normalize(values: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return Array.from(values, (v) => (sum > 0 ? v / sum : 1 / values.length));
}

/**
 * The stored hour-of-week counts (base64 of 168 bytes), or null when they cannot be read (bad base64, wrong
 * length): the reader then gets their segment's or the shop's hours, never an error.
 */
function ownHours(b64: string): Uint8Array | null {
  try {
    const bytes = base64ToBytes(b64);
    if (bytes.length === HOURS_OF_WEEK) return bytes;
  } catch {
    // not base64
  }
  logEvent("warn", "send_time.profile_hours_unreadable", { length: b64.length });
  return null;
}

export function registerSendTime(app: Hono<AppEnv>): void {
  app.get(
    "/v1/send-time",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const config = getConfig(c.env);
      const token = await verifyToken(config.tokenSecrets, c.req.query("t"));
      if (!token.ok) throw new ApiError("TOKEN_INVALID", `token ${token.reason}: mint one with \`npm run token\``);
      const state = await getModel(c.env.OPENTIME_KV, config.modelRefreshSeconds, Date.now(), background(c).waitUntil);
      const sendTime = state.ok ? state.model.manifest.sendTime : undefined;
      if (!state.ok || !sendTime)
        throw new ApiError(
          "MODEL_UNAVAILABLE",
          `no send-time model is serving (${state.ok ? "model has none" : state.reason})`,
        );
      // nothing of an erased reader, or of one who turned personalization off (their hours, segment, propensity)
      const known = await knownReader(
        c.env.OPENTIME_KV,
        config,
        token.claims.u,
        state.model.manifest.version,
        Date.now(),
      );
      const profile = known?.outputs ?? null;
      const own = profile?.sendTime ? ownHours(profile.sendTime.hourOfWeek) : null;
      // a segment is this model's only under this model's name for its id: a profile's (no features of this
      // version) may be an earlier model's, whose segment ids were other clusters
      // (nor answered as the reader's segment: an ESP would read another cluster's id and name as theirs)
      const segment =
        profile?.segment && state.model.manifest.segments?.names[profile.segment.id] === profile.segment.name
          ? profile.segment
          : null;
      const segmentHours = segment ? sendTime.segments[segment.id] : undefined;
      let dist: number[];
      let source: SendTimeResponse["source"];
      if (own) {
        dist = normalize(own);
        source = "profile";
      } else if (segmentHours) {
        dist = normalize(segmentHours);
        source = "segment";
      } else {
        dist = normalize(sendTime.shop);
        source = "shop";
      }
      const body: SendTimeResponse = {
        user: token.claims.u,
        best_hours_utc: own && profile?.sendTime ? profile.sendTime.bestHours : bestHours(dist, 3),
        hour_of_week: dist.map((p) => Math.round(p * 1e6) / 1e6),
        source,
        segment,
        propensity_30d: profile?.propensity ?? null,
        model: state.model.manifest.version,
      };
      return c.json(body, 200, { "Cache-Control": "private, no-store" });
    },
  );
}
