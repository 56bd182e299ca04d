/**
 * The open-time decisions stored for one email (each slot of its layout; an email is a send, told by its token:
 * core/kv-keys.ts), and forgetting every email's of a user and campaign.
 */
import { isOwnKey, kvKeys } from "../../core/kv-keys";
import { layoutSlots, slotKey } from "../../core/layouts";
import type { TokenClaims } from "../../core/token";
import { DecisionSchema } from "../decisions/decide-slot";
import type { PreviewQuery } from "./query";

export function storedDecisions(kv: KVNamespace, claims: TokenClaims, layout: PreviewQuery["layout"]) {
  return Promise.all(
    layoutSlots(layout).map(async (s) => {
      const raw = await kv.get(kvKeys.decision(claims.u, claims.c, claims.e, slotKey(s)), "json");
      const d = DecisionSchema.safeParse(raw);
      return d.success
        ? {
            slot: slotKey(s),
            item: d.data.item.id,
            title: d.data.item.title,
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

/** Deletes the user's decisions for the campaign, of every send (to watch `freeze` decide again); returns how many. */
export async function forgetDecisions(kv: KVNamespace, q: Pick<PreviewQuery, "user" | "campaign">): Promise<number> {
  const prefix = kvKeys.decisionsPrefix(q.user);
  const own = (await kv.list({ prefix: `${prefix}${q.campaign}:` })).keys.filter((k) => isOwnKey(prefix, k.name));
  await Promise.all(own.map((k) => kv.delete(k.name)));
  return own.length;
}
