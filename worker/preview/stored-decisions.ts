/**
 * The open-time decisions stored for one email (each slot of its layout; an email is a send, told by its token:
 * core/kv-keys.ts), and forgetting every email's of a user and campaign.
 */
import { kvKeys } from "../../core/kv-keys";
import { layoutSlots, slotKey } from "../../core/layouts";
import { sendOf, type TokenClaims } from "../../core/token";
import { DecisionSchema } from "../decisions/decide-slot";
import { deleteOwnKeys, KvBudget } from "../events/erasure";
import type { PreviewQuery } from "./query";

export function storedDecisions(kv: KVNamespace, claims: TokenClaims, layout: PreviewQuery["layout"]) {
  return Promise.all(
    layoutSlots(layout).map(async (s) => {
      const raw = await kv.get(kvKeys.decision(claims.u, claims.c, sendOf(claims), slotKey(s)), "json");
      const d = DecisionSchema.safeParse(raw);
      return d.success
        ? {
            slot: slotKey(s),
            // null: the block had no product left for the slot (its generic card)
            item: d.data.item?.id ?? null,
            title: d.data.item?.title ?? null,
            state: d.data.state,
            via: d.data.via,
            reason: d.data.reason,
            scorer: d.data.scorer,
            block: d.data.block?.why ?? null,
            decidedAt: new Date(d.data.decidedAt).toISOString(),
          }
        : { slot: slotKey(s), item: null };
    }),
  );
}

/** KV operations a reset spends at most (of an invocation's 1,000), as an erasure does (worker/events/erasure.ts). */
export const RESET_KV_OPS = 900;

/**
 * Deletes the user's decisions for the campaign, of every send (to watch `freeze` decide again), within
 * RESET_KV_OPS KV operations (a list page or a delete each): a reader of a daily trigger campaign kept a year
 * holds more than one invocation may delete. Returns how many were deleted, and how many it found but left
 * (one more when it stopped listing early): a reset again deletes those.
 */
export function forgetDecisions(
  kv: KVNamespace,
  q: Pick<PreviewQuery, "user" | "campaign">,
): Promise<{ deleted: number; pending: number }> {
  const own = kvKeys.decisionsPrefix(q.user);
  return deleteOwnKeys(kv, `${own}${q.campaign}:`, new KvBudget(RESET_KV_OPS), own);
}
