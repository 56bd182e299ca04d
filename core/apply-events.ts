/**
 * Applies a user's events to their profile: pure, deterministic, idempotent by event id (within the
 * profile's MAX_SEEN_EVENTS window). Used by the Worker's queue consumer and the batch importer.
 * Consent changes arrive as `consent` messages and apply in time order; a user who opted out of
 * tracking has nothing recorded.
 */
import type { QueuedEvent } from "./events";
import {
  assignmentRows,
  attributedRows,
  type ExperimentRow,
  type Exposure,
  exposureRows,
  withExposure,
} from "./experiments/exposure";
import {
  ConsentSchema,
  MAX_IMPRESSIONS,
  MAX_MONETARY,
  MAX_PURCHASE_HISTORY,
  MAX_RECENT_ITEMS,
  MAX_SEEN_EVENTS,
  newestFirst,
  type Profile,
  ProfileV3Schema,
  salvageConsent,
  storablePause,
} from "./profile";

/** Engagement halves every 30 days; an open counts 1, a click 3. */
export const ENGAGEMENT_HALF_LIFE_DAYS = 30;
const WEIGHT: Partial<Record<QueuedEvent["type"], number>> = { email_open: 1, email_click: 3 };

export interface ApplyResult {
  profile: Profile;
  /** ids applied by this call, in order */
  appliedIds: string[];
  applied: number;
  duplicates: number;
  /** dropped because the user opted out of tracking */
  refused: number;
  /** what the applied events make for the experiment store: exposures, and clicks and purchases attributed */
  experimentRows: ExperimentRow[];
  /**
   * an opt-out of tracking took effect (the consent clock accepted it; tracking may be on again after it in
   * the same events): what was recorded of the reader goes. An opt-out older than a newer opt-in is applied
   * but changes nothing, so it is not this.
   */
  trackingOff: boolean;
}

/** Items one impression event may name (an amp-list answer holds at most 24). */
export const MAX_IMPRESSION_ITEMS = 24;

export function decayedEngagement(score: number, from: number, to: number): number {
  if (to <= from) return score;
  return score * 0.5 ** ((to - from) / (ENGAGEMENT_HALF_LIFE_DAYS * 86400));
}

function orderValue(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? Math.max(0, value) : 0;
}

/**
 * When each consent field was last set (unix seconds), kept beside the profile by its writer: a change applies
 * to a field only if it is at least as new as the field's last change, so a retried opt-out that arrives after
 * a newer opt-in does not undo it (the latest timestamp wins, whatever the arrival order; at equal times, the
 * more private value).
 */
export type ConsentClock = Record<string, number>;

/**
 * The clock's entry for the latest opt-out of tracking it has seen (unix seconds), applied or too old to apply:
 * while tracking is on again, an event timed between it and the opt-in (`tracking`'s time) happened while the
 * reader had it off, and is not recorded however late it arrives (an app's queue flushed after the opt-in).
 * Only the latest span is known: an event from an older one that arrives after a newer opt-out is recorded.
 * While tracking is off, an opt-out moves the span's start only earlier, whatever the arrival order.
 */
export const TRACKING_OFF_AT = "tracking.offAt";

/** Whether an event at `ts` happened while tracking was off, though it is on now (TRACKING_OFF_AT). */
function duringOptOut(ts: number, consent: Profile["consent"], clock: ConsentClock | undefined): boolean {
  const off = clock?.[TRACKING_OFF_AT];
  const on = clock?.tracking;
  return consent.tracking && off !== undefined && on !== undefined && off < on && ts >= off && ts < on;
}

/**
 * Whether an event at `ts` may be recorded for a reader with this consent and clock, as applyEvents decides it for
 * events after the consent changes it applies (tracking on, and not within the latest span it was off).
 */
export function mayRecordAt(ts: number, consent: Profile["consent"], clock: ConsentClock | undefined): boolean {
  return consent.tracking && !duringOptOut(ts, consent, clock);
}

/**
 * The more private value of each yes/no consent field: at equal times (consent times are whole seconds) it wins,
 * so two changes made within one second end the same whatever order they arrive in.
 */
const MORE_PRIVATE: Readonly<Record<string, boolean>> = { tracking: false, personalization: false, unsubscribed: true };

/** The consent fields a change may set: `updatedAt` is the change's own time, never a value it carries. */
const CHANGEABLE = new Set<string>(Object.keys(ConsentSchema.shape).filter((f) => f !== "updatedAt"));

/**
 * A consent value as the profile keeps it, whatever an earlier version queued or parked unchecked: a pause from 0 to
 * MAX_PAUSE_SECONDS (one past it never ends anyway), only the topics the profile takes; undefined for a field the
 * profile does not have or a value it cannot keep (an unknown frequency), which the change then leaves as it was,
 * so the change's other fields (an unsubscribe beside it) still apply.
 */
function storable(field: string, value: unknown): unknown {
  if (!CHANGEABLE.has(field)) return undefined;
  let kept = value;
  if (field === "pausedUntil" && typeof value === "number" && Number.isFinite(value)) kept = storablePause(value);
  if (field === "topics" && Array.isArray(value)) kept = salvageConsent({ topics: value }).topics;
  return ConsentSchema.shape[field as keyof typeof ConsentSchema.shape].safeParse(kept).success ? kept : undefined;
}

/** The consent after `change`, field by field where the clock allows, and whether it set tracking off. */
function applyConsentChange(
  consent: Profile["consent"],
  change: NonNullable<QueuedEvent["consent"]>,
  ts: number,
  clock: ConsentClock | undefined,
): { consent: Profile["consent"]; trackingOff: boolean } {
  const next: Record<string, unknown> = { ...consent };
  let trackingOff = false;
  for (const [field, raw] of Object.entries(change)) {
    const value = storable(field, raw);
    if (value === undefined) continue;
    if (clock && field === "tracking" && value === false) {
      // an opt-out made while tracking was off, or before the latest opt-in (arriving late: a retry), belongs to the
      // latest span: its start is the earliest of them, whatever order they arrive in (the more private reading; one
      // of an older span makes it reach back over the time between); one made after the opt-in starts a new span
      const offAt = clock[TRACKING_OFF_AT];
      const onAt = clock.tracking;
      const inSpan = offAt !== undefined && (!consent.tracking || (onAt !== undefined && ts < onAt));
      clock[TRACKING_OFF_AT] = inSpan ? Math.min(offAt, ts) : Math.max(offAt ?? Number.NEGATIVE_INFINITY, ts);
    }
    if (clock) {
      const last = clock[field] ?? Number.NEGATIVE_INFINITY;
      if (last > ts) continue;
      const tied = last === ts && Object.hasOwn(MORE_PRIVATE, field);
      if (tied && next[field] === MORE_PRIVATE[field] && value !== MORE_PRIVATE[field]) continue;
      clock[field] = ts;
    }
    next[field] = value;
    if (field === "tracking" && value === false) trackingOff = true;
  }
  return {
    consent: { ...(next as Profile["consent"]), updatedAt: Math.max(consent.updatedAt ?? 0, ts) },
    trackingOff,
  };
}

/** `history`: ids applied before, beyond the profile's own window (`seen:<user>`). */
export function applyEvents(
  profile: Profile,
  events: readonly QueuedEvent[],
  nowIso: string,
  history: Iterable<string> = [],
  /** the consent clock to respect and advance (mutated); without it, consent changes apply in arrival order */
  clock?: ConsentClock,
): ApplyResult {
  const seen = new Set([...history, ...profile.seenEvents]);
  const fresh: QueuedEvent[] = [];
  let duplicates = 0;
  for (const e of events) {
    if (seen.has(e.id)) {
      duplicates++;
      continue;
    }
    seen.add(e.id);
    fresh.push(e);
  }
  fresh.sort((a, b) => a.ts - b.ts);
  // copy on write: fields below are replaced, not mutated, except the copied recentItems array (no deep clone:
  // structuredClone was most of this function's cost, and this runs once per reader per queue batch)
  const p: Profile = { ...profile, recentItems: [...profile.recentItems] };
  let impressions: Profile["impressions"] | null = null;
  const purchases = new Map(p.purchases.map((x) => [x.item, x]));
  const applied: string[] = [];
  /** the applied ids the profile's window keeps: a consent change's is none (its clock makes it idempotent) */
  const remembered: string[] = [];
  const rows: ExperimentRow[] = [];
  let refused = 0;
  let trackingOff = false;
  for (const e of fresh) {
    // consent changes apply in time order: events after an opt-out of tracking are not recorded
    if (e.type === "consent") {
      const change = applyConsentChange(p.consent, e.consent ?? {}, e.ts, clock);
      p.consent = change.consent;
      trackingOff ||= change.trackingOff;
      // impressions (what emails showed them) are kept only while they allow tracking
      if (change.trackingOff) impressions = [];
      applied.push(e.id);
      continue;
    }
    if (!p.consent.tracking || duringOptOut(e.ts, p.consent, clock)) {
      refused++;
      continue;
    }
    // a link scanner's click is the reader's shard's to record apart (worker/state/clicks-table.ts): never the
    // reader's activity, nor an id that would make the reader's own click of the slot a duplicate
    if (e.type === "scanner_click") continue;
    applied.push(e.id);
    remembered.push(e.id);
    // experiments: an assignment keeps the arm a send chose; an exposure (or a click carrying the open's, its
    // images blocked) records the arm, then the click counts for it; clicks and purchases count for the
    // exposures applied before them, in time order (core/experiments/exposure.ts)
    if (e.type === "assignment") {
      rows.push(...assignmentRows(e, p.experiments));
      if (e.exposure) p.experiments = withExposure(p.experiments, e.exposure, e.ts, false);
      continue;
    }
    rows.push(...exposureRows(e, p.experiments));
    const via = e.type === "exposure" ? "open" : "click";
    for (const x of e.type === "exposure" ? (e.exposure ? [e.exposure] : []) : (e.exposures ?? []))
      p.experiments = withExposure(p.experiments, x, e.ts, true, via);
    if (e.type === "exposure") continue;
    rows.push(...attributedRows(e, p.experiments));
    // what an email showed (an amp-list answer, or an image block with its open): kept for the frequency cap
    if (e.items && (e.type === "impression" || e.type === "email_open")) {
      impressions ??= [...p.impressions];
      for (const item of e.items.slice(0, MAX_IMPRESSION_ITEMS)) {
        impressions.push({ item, ts: e.ts, ...(e.send && { send: e.send }) });
      }
    }
    // an impression alone is not the reader's own activity
    if (e.type === "impression") continue;
    p.lastActivity = Math.max(p.lastActivity ?? 0, e.ts);
    if (e.item) {
      p.recentItems.unshift({ item: e.item, type: e.type, ts: e.ts });
    }
    const w = WEIGHT[e.type];
    if (w) {
      // both decayed to the later of the two times: an open that arrives after newer ones weighs what it would
      // have, had it come in time order (the score does not depend on arrival order)
      const at = Math.max(p.engagement.at, e.ts);
      p.engagement = {
        score: decayedEngagement(p.engagement.score, p.engagement.at, at) + decayedEngagement(w, e.ts, at),
        at,
      };
    }
    if (e.type === "purchase" && e.item) {
      const s = purchases.get(e.item);
      purchases.set(
        e.item,
        s
          ? { ...s, invoices: s.invoices + 1, lastTs: Math.max(s.lastTs, e.ts) }
          : { item: e.item, invoices: 1, lastTs: e.ts },
      );
      p.rfm = {
        orders: p.rfm.orders + 1,
        // saturating: a profile's sums stay finite whatever arrives
        monetary: Math.min(MAX_MONETARY, p.rfm.monetary + orderValue(e.value)),
        lastPurchaseTs: Math.max(p.rfm.lastPurchaseTs ?? 0, e.ts),
      };
    }
  }
  if (applied.length === 0)
    return { profile, appliedIds: [], applied: 0, duplicates, refused, experimentRows: [], trackingOff };
  p.recentItems = p.recentItems.sort((a, b) => b.ts - a.ts).slice(0, MAX_RECENT_ITEMS);
  if (impressions) p.impressions = impressions.sort((a, b) => b.ts - a.ts).slice(0, MAX_IMPRESSIONS);
  p.purchases = [...purchases.values()].sort(newestFirst).slice(0, MAX_PURCHASE_HISTORY);
  p.seenEvents = [...p.seenEvents, ...remembered].slice(-MAX_SEEN_EVENTS);
  p.updatedAt = nowIso;
  return {
    profile: p,
    appliedIds: applied,
    applied: applied.length,
    duplicates,
    refused,
    experimentRows: rows,
    trackingOff,
  };
}

export interface SafeApplyResult extends ApplyResult {
  /** ids of events that would have made the profile invalid: not applied (the caller retries them) */
  rejectedIds: string[];
}

/**
 * applyEvents, with the result validated against the profile schema before anyone writes it. Should the
 * batch yield an invalid profile (a bug, or input no check foresaw), events are applied one at a time in
 * time order and those that would break it are set aside, so the rest (a consent change above all) still land.
 */
export function applyEventsSafely(
  profile: Profile,
  events: readonly QueuedEvent[],
  nowIso: string,
  history: Iterable<string> = [],
  /** advanced only by the events that land */
  clock?: ConsentClock,
): SafeApplyResult {
  const trial = clock ? { ...clock } : undefined;
  const whole = applyEvents(profile, events, nowIso, history, trial);
  if (ProfileV3Schema.safeParse(whole.profile).success) {
    if (clock && trial) Object.assign(clock, trial);
    return { ...whole, rejectedIds: [] };
  }
  const seenBefore = [...history];
  let current = profile;
  const out: SafeApplyResult = {
    profile,
    appliedIds: [],
    applied: 0,
    duplicates: 0,
    refused: 0,
    experimentRows: [],
    trackingOff: false,
    rejectedIds: [],
  };
  for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
    const step = clock ? { ...clock } : undefined;
    const one = applyEvents(current, [e], nowIso, [...seenBefore, ...out.appliedIds], step);
    if (one.applied > 0 && !ProfileV3Schema.safeParse(one.profile).success) {
      out.rejectedIds.push(e.id);
      continue;
    }
    if (clock && step) Object.assign(clock, step);
    current = one.profile;
    out.appliedIds.push(...one.appliedIds);
    out.applied += one.applied;
    out.duplicates += one.duplicates;
    out.refused += one.refused;
    out.experimentRows.push(...one.experimentRows);
    out.trackingOff ||= one.trackingOff;
  }
  out.profile = current;
  return out;
}

/** An exposure a click made when it was applied, and what the reader had of that experiment before (null: nothing). */
export interface ClickExposure {
  experiment: string;
  prior: Exposure | null;
}

/**
 * The exposures applying `click` made, from the reader's exposures before and after it: those it carried that are
 * now recorded as entered by a click at its time, which the reader had not been exposed to before.
 */
export function exposuresMade(click: QueuedEvent, before: Profile, after: Profile): ClickExposure[] {
  return (click.exposures ?? []).flatMap((x): ClickExposure[] => {
    const was = before.experiments[x.experiment];
    const now = after.experiments[x.experiment];
    const made = now?.via === "click" && now.at === click.ts && now.exposed && !was?.exposed;
    return made ? [{ experiment: x.experiment, prior: was ?? null }] : [];
  });
}

/**
 * The profile without a click applied to it earlier, found since to be a link scanner's (core/click-bursts.ts): its
 * id forgotten (so the reader's own click of that slot counts), its recent item and its engagement taken out, and
 * the exposures it made (`made`) given back to what the reader had before, unless an open or another event has
 * moved them since. Returns the experiments whose exposure was undone. `lastActivity` keeps the click's time: it
 * is the latest of every event applied, which the profile cannot recompute (nothing reads it but the right of
 * access). Pure.
 */
export function withoutClick(
  profile: Profile,
  click: QueuedEvent,
  made: readonly ClickExposure[],
  nowIso: string,
): { profile: Profile; unexposed: string[] } {
  const p: Profile = { ...profile, seenEvents: profile.seenEvents.filter((id) => id !== click.id), updatedAt: nowIso };
  const at = click.item
    ? p.recentItems.findIndex((r) => r.item === click.item && r.type === "email_click" && r.ts === click.ts)
    : -1;
  if (at >= 0) p.recentItems = [...p.recentItems.slice(0, at), ...p.recentItems.slice(at + 1)];
  // what the click added, decayed to the score's time as applyEvents added it (never below 0: rounding)
  const added = decayedEngagement(WEIGHT.email_click ?? 0, click.ts, p.engagement.at);
  p.engagement = { score: Math.max(0, p.engagement.score - added), at: p.engagement.at };
  const unexposed: string[] = [];
  for (const m of made) {
    const now = p.experiments[m.experiment];
    // an open applied since made the reader an opener: they were exposed after all
    if (now?.via !== "click" || now.at !== click.ts) continue;
    const next = { ...p.experiments };
    if (m.prior) next[m.experiment] = m.prior;
    else delete next[m.experiment];
    p.experiments = next;
    unexposed.push(m.experiment);
  }
  return { profile: p, unexposed };
}
