/**
 * The events queue consumer: groups a batch by user and applies each user's events to their profile in
 * one KV write (Workers KV allows about one write per second per key), idempotently by event id. Events
 * of erased users are dropped; a failure retries that user's messages (after max_retries they go to the
 * dead-letter queue), so no event is lost.
 */
import { applyEvents } from "../../core/apply-events";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, MAX_SEEN_HISTORY, parseProfile } from "../../core/profile";
import { type Bindings, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { isErased } from "./erasure";

export interface ConsumeSummary {
  users: number;
  applied: number;
  duplicates: number;
  refused: number;
  erased: number;
  retried: number;
}

export async function consumeEvents(batch: MessageBatch<QueuedEvent>, env: Bindings): Promise<ConsumeSummary> {
  const config = getConfig(env);
  const byUser = new Map<string, Message<QueuedEvent>[]>();
  for (const m of batch.messages) {
    const list = byUser.get(m.body.user) ?? [];
    list.push(m);
    byUser.set(m.body.user, list);
  }
  const summary: ConsumeSummary = { users: byUser.size, applied: 0, duplicates: 0, refused: 0, erased: 0, retried: 0 };
  await Promise.all(
    [...byUser].map(async ([user, messages]) => {
      try {
        if (await isErased(env.OPENTIME_KV, config.tokenSecrets[0] ?? "", user)) {
          summary.erased += messages.length;
          for (const m of messages) m.ack();
          return;
        }
        const [raw, history] = await Promise.all([
          env.OPENTIME_KV.get(kvKeys.profile(user), "json"),
          env.OPENTIME_KV.get<string[]>(kvKeys.seen(user), "json"),
        ]);
        const now = new Date().toISOString();
        let profile = emptyProfile(user, now);
        if (raw !== null) {
          const parsed = parseProfile(raw);
          // never overwrite a profile we cannot read: retry, and let the dead-letter queue keep the events
          if (!parsed.ok) throw new Error(`stored profile is invalid: ${parsed.error.slice(0, 200)}`);
          profile = parsed.profile;
        }
        const res = applyEvents(
          profile,
          messages.map((m) => m.body),
          now,
          history ?? [],
        );
        if (res.applied > 0) {
          // the profile (with its own recent-id window) first: a retry after a failed second write still counts once
          await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify(res.profile));
          const longer = [...(history ?? []), ...res.appliedIds].slice(-MAX_SEEN_HISTORY);
          await env.OPENTIME_KV.put(kvKeys.seen(user), JSON.stringify(longer));
          // an erasure that landed while this batch was in flight must not be undone by the writes above
          if (await isErased(env.OPENTIME_KV, config.tokenSecrets[0] ?? "", user)) {
            await Promise.all([
              env.OPENTIME_KV.delete(kvKeys.profile(user)),
              env.OPENTIME_KV.delete(kvKeys.seen(user)),
            ]);
          }
        }
        summary.applied += res.applied;
        summary.duplicates += res.duplicates;
        summary.refused += res.refused;
        for (const m of messages) m.ack();
      } catch (e) {
        summary.retried += messages.length;
        logEvent("error", "events.apply_failed", { detail: errorMessage(e), messages: messages.length });
        for (const m of messages) m.retry({ delaySeconds: 5 });
      }
    }),
  );
  return summary;
}
