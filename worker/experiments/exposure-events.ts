/**
 * The exposure events an open queues (core/experiments/exposure.ts): one per experiment the open's arm belongs
 * to, with one id per reader and experiment, so the reader's shard records the first and counts repeats as
 * duplicates. Queued only for a real open (not a prefetch) of a reader who allows tracking.
 */
import type { QueuedEvent } from "../../core/events";
import { assignmentEventId, type ExposureFacts, exposureEventId } from "../../core/experiments/exposure";

/** `block`: the campaign block the open served (the report's per-block counts). */
export function exposureEvents(
  user: string,
  facts: readonly ExposureFacts[],
  nowMs: number,
  block?: string,
): QueuedEvent[] {
  const ts = Math.floor(nowMs / 1000);
  return facts.map((exposure) => ({
    id: exposureEventId(exposure.experiment),
    type: "exposure",
    user,
    ts,
    campaign: exposure.campaign,
    exposure: block ? { ...exposure, block } : exposure,
  }));
}

/**
 * The send-time assignments of a reader (subject lines chosen for their arm: worker/routes/admin-subjects.ts):
 * their shard keeps the arm, unexposed, so the open serves the same one.
 */
export function assignmentEvents(user: string, facts: readonly ExposureFacts[], nowMs: number): QueuedEvent[] {
  return exposureEvents(user, facts, nowMs).map((e) => ({
    ...e,
    id: assignmentEventId((e.exposure as ExposureFacts).experiment),
    type: "assignment",
  }));
}
