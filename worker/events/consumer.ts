/**
 * The events queue consumer: groups a batch by user and applies each user's events to their profile in
 * one KV write (Workers KV allows about one write per second per key), idempotently by event id. Events
 * of erased users are dropped; a failure retries that user's messages (after max_retries they go to the
 * dead-letter queue), so no event is lost.
 *
 * Nothing invalid is written: the new profile is validated first, and an event that would make it invalid is
 * retried alone (and so dead-lettered) while the others land. A stored profile that does not validate is
 * repaired field by field (what validates is kept) instead of blocking every later event and consent change.
 * A reader who turns tracking off has their stored decisions deleted.
 */
import { applyEventsSafely } from "../../core/apply-events";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, MAX_SEEN_HISTORY, type Profile, parseProfile, salvageProfile } from "../../core/profile";
import { type Bindings, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { deleteDecisions, isErased } from "./erasure";

export interface ConsumeSummary {
  users: number;
  applied: number;
  duplicates: number;
  refused: number;
  erased: number;
  retried: number;
  /** events that would have made a profile invalid: retried alone (then dead-lettered) */
  rejected: number;
}

/** The stored profile, repaired when it does not validate (`repaired`: it must be written back); a new one when there is none. */
function storedProfile(raw: unknown, user: string, now: string): { profile: Profile; repaired: boolean } {
  if (raw === null) return { profile: emptyProfile(user, now), repaired: false };
  const parsed = parseProfile(raw);
  if (parsed.ok) return { profile: parsed.profile, repaired: false };
  const salvaged = salvageProfile(raw, user, now);
  // field names only: the values may be personal
  logEvent("error", "profile.repaired", { reset: salvaged.reset });
  return { profile: salvaged.profile, repaired: true };
}

export async function consumeEvents(batch: MessageBatch<QueuedEvent>, env: Bindings): Promise<ConsumeSummary> {
  const config = getConfig(env);
  const secrets = config.tokenSecrets;
  const kv = env.OPENTIME_KV;
  const byUser = new Map<string, Message<QueuedEvent>[]>();
  for (const m of batch.messages) {
    const list = byUser.get(m.body.user) ?? [];
    list.push(m);
    byUser.set(m.body.user, list);
  }
  const summary: ConsumeSummary = {
    users: byUser.size,
    applied: 0,
    duplicates: 0,
    refused: 0,
    erased: 0,
    retried: 0,
    rejected: 0,
  };
  await Promise.all(
    [...byUser].map(async ([user, messages]) => {
      try {
        if (await isErased(kv, user, secrets)) {
          // a batch that raced the erasure may have left these behind (its clean-up failed): delete again
          await Promise.all([kv.delete(kvKeys.profile(user)), kv.delete(kvKeys.seen(user))]);
          summary.erased += messages.length;
          for (const m of messages) m.ack();
          return;
        }
        const [raw, history] = await Promise.all([
          kv.get(kvKeys.profile(user), "json"),
          kv.get<string[]>(kvKeys.seen(user), "json"),
        ]);
        const now = new Date().toISOString();
        const { profile: before, repaired } = storedProfile(raw, user, now);
        const seenHistory = Array.isArray(history) ? history.filter((x) => typeof x === "string") : [];
        const res = applyEventsSafely(
          before,
          messages.map((m) => m.body),
          now,
          seenHistory,
        );
        if (res.applied > 0 || repaired) {
          // the profile (with its own recent-id window) first: a retry after a failed second write still counts once
          await kv.put(kvKeys.profile(user), JSON.stringify(res.profile));
          const longer = [...seenHistory, ...res.appliedIds].slice(-MAX_SEEN_HISTORY);
          await kv.put(kvKeys.seen(user), JSON.stringify(longer));
          // an erasure that landed while this batch was in flight must not be undone by the writes above
          if (await isErased(kv, user, secrets)) {
            await Promise.all([kv.delete(kvKeys.profile(user)), kv.delete(kvKeys.seen(user))]);
          }
        }
        // a tracking opt-out in this batch (first delivery or a redelivery after a failed clean-up): no decisions kept
        if (!res.profile.consent.tracking && messages.some((m) => m.body.consent?.tracking === false)) {
          await deleteDecisions(kv, user);
        }
        summary.applied += res.applied;
        summary.duplicates += res.duplicates;
        summary.refused += res.refused;
        summary.rejected += res.rejectedIds.length;
        const rejected = new Set(res.rejectedIds);
        for (const m of messages) {
          if (rejected.has(m.body.id)) m.retry({ delaySeconds: 5 });
          else m.ack();
        }
        if (rejected.size > 0) logEvent("error", "events.rejected_by_profile_schema", { events: rejected.size });
      } catch (e) {
        summary.retried += messages.length;
        logEvent("error", "events.apply_failed", { detail: errorMessage(e), messages: messages.length });
        for (const m of messages) m.retry({ delaySeconds: 5 });
      }
    }),
  );
  return summary;
}
