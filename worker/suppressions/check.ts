/**
 * Which readers of a batch must not be mailed (core/suppressions.ts), read where every open reads them: each
 * reader's snapshot (`profile:<user>`, published by their shard about a second after it applies a change) and
 * their erasure tombstones (the current key and the legacy ones), in bulk KV reads of up to 100 keys. Throws when
 * KV does: the caller answers 503, and the builder builds nothing (it never guesses that a reader may be mailed).
 *
 * Asked for a campaign, it also holds back (`frequency`) a reader whose snapshot names a frequency preference and
 * whose latest send is more recent than it allows. Their sends are read from their shard, the one writer of them
 * (worker/state/campaign-sends-table.ts, trigger-table.ts), in one call per shard for the batch's readers with a
 * preference and no other reason, so a send recorded or a triggered call begun before the check is seen at once,
 * wherever the check runs. The campaign's own sends of the last REBUILD_WINDOW_S are left out: a rebuild or re-run
 * of it never holds back its own recipients (its older ones count, as any other campaign's). A campaign may come
 * CAMPAIGN_SLACK_S sooner than the preference allows: one built at a fixed hour is checked a little before the last
 * one's recording.
 *
 * A reader with no snapshot and no tombstone may still be one their shard keeps an unsubscribe of, alone (erased
 * long ago, or never known: worker/state/suppression-only.ts): their shards are asked for those readers' list rows,
 * one call per shard holding any, so such an unsubscribe counts as soon as the shard has kept it. A shard's error is
 * thrown as the shard threw it: the caller tells a passing failure (503) from a bug (500).
 */
import { kvKeys } from "../../core/kv-keys";
import {
  campaignAllows,
  listSuppressionOf,
  type SuppressionReason,
  snapshotFrequency,
  suppressionOf,
} from "../../core/suppressions";
import type { Bindings } from "../env";
import { tombstoneKeys } from "../events/erasure";
import { bulkGetText } from "../lib/kv-bulk";
import { byShard, shardStub } from "../state/shard-routing";

export async function suppressedReaders(
  env: Pick<Bindings, "OPENTIME_KV" | "READERS">,
  users: readonly string[],
  tokenSecrets: readonly string[],
  nowS: number,
  campaign: string | null = null,
): Promise<{ user: string; reason: SuppressionReason }[]> {
  const keysOf = await Promise.all(
    users.map(async (user) => ({
      user,
      snapshot: kvKeys.profile(user),
      tombstones: await tombstoneKeys(user, tokenSecrets),
    })),
  );
  const values = await bulkGetText(
    env.OPENTIME_KV,
    keysOf.flatMap((k) => [k.snapshot, ...k.tombstones]),
  );
  const out: { user: string; reason: SuppressionReason }[] = [];
  /** readers with no other reason and a frequency preference */
  const spacedReaders: { user: string; frequency: NonNullable<ReturnType<typeof snapshotFrequency>> }[] = [];
  /** readers with neither a snapshot nor a tombstone */
  const unpublished: string[] = [];
  for (const k of keysOf) {
    const erased = k.tombstones.some((t) => values.get(t) != null);
    const snapshot = values.get(k.snapshot) ?? null;
    const reason = suppressionOf(erased, snapshot, nowS);
    if (reason) {
      out.push({ user: k.user, reason });
      continue;
    }
    if (snapshot === null) unpublished.push(k.user);
    const frequency = campaign === null ? null : snapshotFrequency(snapshot);
    if (frequency !== null) spacedReaders.push({ user: k.user, frequency });
  }
  await Promise.all([
    ...[...byShard(spacedReaders, (r) => r.user)].map(async ([shard, readers]) => {
      const latest = await shardStub(env, shard).latestSends(
        readers.map((r) => r.user),
        campaign,
      );
      for (const r of readers)
        if (!campaignAllows(r.frequency, latest.get(r.user) ?? null, nowS))
          out.push({ user: r.user, reason: "frequency" });
    }),
    ...[...byShard(unpublished, (u) => u)].map(async ([shard, readers]) => {
      const rows = await shardStub(env, shard).listStates(readers);
      for (const row of rows) {
        const reason = listSuppressionOf(row, nowS);
        if (reason) out.push({ user: row.user, reason });
      }
    }),
  ]);
  return out;
}
