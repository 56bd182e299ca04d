/**
 * The open-time decisions stored for one email (each slot of its layout; an email is a send, told by its token:
 * core/kv-keys.ts), and forgetting one email's.
 */
import { kvKeys } from "../../core/kv-keys";
import { LAYOUT_NAMES, layoutSlots, slotKey } from "../../core/layouts";
import { sendOf, type TokenClaims } from "../../core/token";
import { DecisionSchema } from "../decisions/decide-slot";
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

/**
 * Deletes the decisions of the one email (send) `claims` is: every slot of every layout (a few dozen keys, read
 * then deleted; a send is the end of its decisions' keys, so they cannot be listed by prefix), to watch `freeze`
 * decide again. Never another send's: the reader's real emails keep theirs. Returns how many there were
 * (`pending`: always 0, kept for the page's answer).
 */
export async function forgetDecisions(
  kv: KVNamespace,
  claims: Pick<TokenClaims, "u" | "c" | "e" | "n">,
): Promise<{ deleted: number; pending: number }> {
  const slots = new Set(LAYOUT_NAMES.flatMap((l) => layoutSlots(l).map(slotKey)));
  const keys = [...slots].map((s) => kvKeys.decision(claims.u, claims.c, sendOf(claims), s));
  const held = (await Promise.all(keys.map(async (k) => ((await kv.get(k)) === null ? null : k)))).filter(
    (k): k is string => k !== null,
  );
  await Promise.all(held.map((k) => kv.delete(k)));
  return { deleted: held.length, pending: 0 };
}
