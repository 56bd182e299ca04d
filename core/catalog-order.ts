/**
 * The live catalog's ordering guard: a PATCH item may say when the shop's system made its change (`at`), and a
 * field whose last timed change is newer keeps it. So a PATCH retried after a 503 (which may have landed) cannot
 * bring back an older value over a newer one, and two feeds (stock from one system, prices from another) each win
 * on their own fields. The writer (worker/state/catalog-writer.ts) keeps, per item and field, the `at` of the last
 * timed change it applied (a stamp, worker/state/catalog-stamps.ts), never in the published overlay. Pure.
 */
import { zonedIsoMillis } from "./events";
import { CatalogPatchSchema, type ItemChange, LIVE_FIELDS, type LiveField } from "./live-catalog";

/**
 * How far past the Worker's clock an `at` may be: clocks drift, but a clock far ahead would stamp a field with a time
 * no later change passes until the world caught up, and every change to it until then would be stale.
 */
export const MAX_AT_AHEAD_MS = 5 * 60_000;
/**
 * Stamps kept at most: a million rows (a few tens of MB of the writer's SQLite for ids of tens of characters), far
 * past every live field of MAX_LIVE_ITEMS items, since stamps outlive their fields (a cleared one keeps its time) and a
 * shop's ids change over the years. They are kept however old (a full resync may send each item's time of last change, months back), so
 * only a shop that has stamped more item fields than that over time reaches it; the oldest are then dropped, and no
 * timed change older than the newest dropped is taken (worker/state/catalog-stamps.ts).
 */
export const MAX_STAMPS = 1_000_000;

/** An item some of whose fields a PATCH did not set because a newer change to them had been applied. */
export interface StaleItem {
  id: string;
  /** in LIVE_FIELDS order */
  fields: LiveField[];
}

/** The time of the last timed change applied to one field of one item (unix ms). */
export interface Stamp {
  id: string;
  field: LiveField;
  at: number;
}

/**
 * CatalogPatchSchema, with every `at` at most MAX_AT_AHEAD_MS past `nowMs` (the route's clock) and not before 1970
 * (the stamps' floor starts there: such an `at` would always be stale), named by its path (`items[2].at`) as the
 * other fields are.
 */
export function catalogPatchSchemaAt(nowMs: number) {
  return CatalogPatchSchema.superRefine((p, ctx) => {
    p.items.forEach((item, i) => {
      if (item.at === undefined) return;
      const ms = zonedIsoMillis(item.at);
      const message =
        ms > nowMs + MAX_AT_AHEAD_MS
          ? `is more than ${MAX_AT_AHEAD_MS / 60_000} minutes ahead of this server's clock (${new Date(nowMs).toISOString()}): check the sending system's clock and zone`
          : ms < 0
            ? "is before 1970: check the sending system's clock and zone"
            : null;
      if (message) ctx.addIssue({ code: "custom", path: ["items", i, "at"], message });
    });
  });
}

/**
 * Splits a PATCH's changes by their times. A timed item's field is stale when its `at` is older than the field's
 * stamp or than `floor` (no older change is taken: the newest stamp dropped for their bound);
 * an equal time applies (a retry of the same PATCH sets what it set). A field set to `null` is stamped as any other,
 * so an older value cannot come back after it is cleared. An item without `at` applies whole and stamps nothing.
 * `stampsOf` is asked for timed items only.
 *   apply   the changes to merge (stale fields left out)
 *   stale   the items with stale fields, in the PATCH's order
 *   stamps  the stamps to write: every field a timed item applied, at its `at`
 */
export function orderChanges(
  changes: readonly ItemChange[],
  stampsOf: (id: string) => ReadonlyMap<string, number>,
  floor: number,
): { apply: ItemChange[]; stale: StaleItem[]; stamps: Stamp[] } {
  const apply: ItemChange[] = [];
  const stale: StaleItem[] = [];
  const stamps: Stamp[] = [];
  for (const change of changes) {
    if (change.at === undefined) {
      apply.push(change);
      continue;
    }
    const at = zonedIsoMillis(change.at);
    const held = stampsOf(change.id);
    const { at: _, ...applied } = change;
    const old: LiveField[] = [];
    for (const field of LIVE_FIELDS) {
      if (change[field] === undefined) continue;
      if (at < Math.max(floor, held.get(field) ?? floor)) {
        old.push(field);
        delete applied[field];
      } else stamps.push({ id: change.id, field, at });
    }
    apply.push(applied);
    if (old.length > 0) stale.push({ id: change.id, fields: old });
  }
  return { apply, stale, stamps };
}
