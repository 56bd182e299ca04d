/**
 * GET /v1/users/<id> (Bearer ADMIN_API_KEYS): right of access, everything stored about the reader: the profile
 * (the writer's own state) and its consent clock, the ids of applied events the KV-era consumer kept (`seen`, in
 * KV: an upgraded reader's, deleted by erasure; null when none), the model's features, their stored open-time decisions, their
 * pending triggers, their views index, their cart items' latest adds and removes (`cart_items`), the clicks and purchases kept for late exposures (`outcomes`), the clicks
 * of their emails kept to tell link scanners' (`clicks`), their parked dead letters, the ids of the events applied
 * (`applied`: the shard keeps every one, past the profile's own window of seenEvents), their latest change of
 * `unsubscribed`, `pausedUntil` or `frequency` as the shop's list reads it (`list_change`), the campaigns' sends
 * recorded for their frequency preference (`campaign_sends`), and their rows in the experiment
 * store (`experiments`: exposures, send-time assignments, attributed outcomes and scanners' clicks counted apart;
 * null where no store is bound). Lists that can be long answer `{count, items}` with at
 * most ACCESS_LIST_LIMIT items. `?view=edge`: what the edge (KV) holds, the snapshot opens read with the seen ids,
 * features and decisions; `?fields=profile`: the profile alone (one read: support tools, the load test's drain). 404 when
 * nothing is stored; 503 EXPERIMENTS_UNAVAILABLE when the experiment store cannot be read (never a partial answer).
 */
import type { Hono } from "hono";
import { kvKeys } from "../../core/kv-keys";
import { parseProfile } from "../../core/profile";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { listOwnKeys } from "../events/erasure";
import { readerRows } from "../experiments/reader-rows";
import { requireApiKey } from "../lib/api-key";
import { bulkGetText } from "../lib/kv-bulk";
import { errorMessage, logEvent } from "../lib/log";
import { userIdParam } from "../profile/user-id-param";
import { readerStub } from "../state/shard-routing";

/** Items answered per list that can be long (decisions, parked events, applied ids, experiment rows); `count` says how many. */
export const ACCESS_LIST_LIMIT = 100;

function parsed(text: string | null | undefined): unknown {
  if (text == null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function registerUsersGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/users/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = userIdParam(c.req.param("id"), true);
      const kv = c.env.OPENTIME_KV;
      // a variant it does not have is refused, not answered as another (`?view=egde` is not what KV holds)
      const [view, fields] = [c.req.query("view"), c.req.query("fields")];
      if (view !== undefined && view !== "edge")
        throw new ApiError("BAD_REQUEST", 'view: only "edge" (what KV holds, the snapshot opens read)');
      if (fields !== undefined && fields !== "profile")
        throw new ApiError("BAD_REQUEST", 'fields: only "profile" (the profile alone)');
      const edge = view === "edge";
      const shard = readerStub(c.env, id);
      if (fields === "profile") {
        const held = edge ? null : await shard.read(id);
        const raw = held ?? (await kv.get(kvKeys.profile(id), "json"));
        if (raw === null) throw new ApiError("NOT_FOUND", "no profile is stored for this user");
        return c.json({ user: id, profile: held ?? checked(raw) });
      }
      // the edge's copies (KV), read in either view
      const featuresPrefix = kvKeys.featuresPrefix(id);
      const decisionsPrefix = kvKeys.decisionsPrefix(id);
      const [featureKeys, decisionKeys] = await Promise.all([
        listOwnKeys(kv, featuresPrefix).then((l) => l.keys),
        listOwnKeys(kv, decisionsPrefix).then((l) => l.keys),
      ]);
      const shown = decisionKeys.slice(0, ACCESS_LIST_LIMIT);
      // the ids of applied events as the KV-era consumer kept them (`seen:`): nothing writes them now, nor deletes
      // them but erasure, so an upgraded reader's are still held
      const seenKey = kvKeys.seen(id);
      const values = await bulkGetText(kv, [seenKey, ...featureKeys, ...shown]);
      const seen = parsed(values.get(seenKey));
      const features = Object.fromEntries(
        featureKeys.map((k) => [k.slice(featuresPrefix.length), parsed(values.get(k))]),
      );
      const decisions = {
        count: decisionKeys.length,
        items: shown.map((k) => ({ key: k.slice(decisionsPrefix.length), decision: parsed(values.get(k)) })),
      };
      const kvHeld = featureKeys.length > 0 || decisionKeys.length > 0 || seen !== null;
      if (edge) {
        const raw = await kv.get(kvKeys.profile(id), "json");
        if (raw === null && !kvHeld) throw new ApiError("NOT_FOUND", "nothing is stored for this user at the edge");
        return c.json({ user: id, profile: raw === null ? null : checked(raw), seen, features, decisions });
      }
      const db = c.env.DB;
      const [access, experiments] = await Promise.all([
        shard.access(id, ACCESS_LIST_LIMIT),
        db
          ? readerRows(db, id, ACCESS_LIST_LIMIT).catch((e: unknown) => {
              logEvent("error", "access.experiments_unreadable", { detail: errorMessage(e) });
              throw new ApiError("EXPERIMENTS_UNAVAILABLE", "the experiment store cannot be read: try again");
            })
          : null,
      ]);
      const {
        profile: held,
        clock,
        triggers,
        views,
        cartItems,
        outcomes,
        clicks,
        parked,
        applied,
        listChange,
        campaignSends,
      } = access;
      // the writer's state is a valid profile already; an upgrade's KV profile (never touched by a shard) is checked
      const raw = held ?? (await kv.get(kvKeys.profile(id), "json"));
      const stored =
        raw !== null ||
        kvHeld ||
        triggers.length > 0 ||
        views.length > 0 ||
        cartItems.length > 0 ||
        outcomes.length > 0 ||
        clicks.length > 0 ||
        parked.count > 0 ||
        applied.count > 0 ||
        listChange !== null ||
        campaignSends.length > 0 ||
        (experiments !== null &&
          experiments.exposures.count +
            experiments.assignments.count +
            experiments.outcomes.count +
            experiments.scannerClicks.count >
            0);
      if (!stored) throw new ApiError("NOT_FOUND", "nothing is stored for this user");
      return c.json({
        user: id,
        profile: held ?? (raw === null ? null : checked(raw)),
        consent_clock: clock,
        seen,
        features,
        decisions,
        triggers,
        views,
        cart_items: cartItems,
        outcomes,
        clicks,
        parked: {
          count: parked.count,
          items: parked.entries.map((e) => ({ id: e.id, parked_at: e.parkedAt, event: e.event })),
        },
        applied: { count: applied.count, items: applied.ids },
        list_change: listChange && {
          unsubscribed: listChange.unsubscribed,
          pausedUntil: listChange.pausedUntil,
          frequency: listChange.frequency,
          changedAt: listChange.changedAt,
          seq: listChange.seq,
        },
        campaign_sends: campaignSends,
        experiments,
      });
    },
  );
}

/** A profile read from KV: parsed when it validates, else shown as stored. */
function checked(raw: unknown): unknown {
  const p = parseProfile(raw);
  return p.ok ? p.profile : raw;
}
