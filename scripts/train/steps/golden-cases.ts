/**
 * Training step 5: golden cases, the parity the Worker is tested against: for readers spread over the window,
 * the int8 top-10 of ALS and content (with the float top-10 beside it), and the hybrid's and the ranker's
 * top-10 in both modes from the reader's profile, as the edge computes them (the ranker's cases carry the reader's
 * pool, from which the edge ranks them).
 */
import type { Golden, GoldenCase } from "../../../core/golden";
import { hybridScores, ownItems } from "../../../core/hybrid";
import { type QuantizedItems, scoreInt8, topK } from "../../../core/int8-kernel";
import { decodeNeighbours, ownNeighbourSums } from "../../../core/neighbour-table";
import type { Profile } from "../../../core/profile";
import { rankCandidates, rankerCandidates } from "../../../core/ranker";
import { compileEnsemble } from "../../../core/tree-ensemble";
import { rowIndices } from "../../data/sparse";
import type { Window } from "../training-set";
import type { Recommenders } from "./fit-recommenders";

export function goldenCases(
  full: Window,
  recs: Recommenders,
  profiles: Profile[],
  pools: ReadonlyMap<string, string>,
  count: number,
): Golden {
  const { als, alsItems, content, contentItems } = recs;
  const hybrid = content ? recs.hybrid : null;
  const golden: Golden = { als: [], content: [], hybrid: [], ranker: [] };
  const ranker = content ? recs.ranker : null;
  // what the Worker loads once per version: the table decoded from its stored bytes, the trees laid out
  const neighbours = ranker ? decodeNeighbours(ranker.neighbours, full.itemIds.length, ranker.k) : null;
  const models = ranker?.ranker.models;
  const compiled = models && { all: compileEnsemble(models.all), novel: compileEnsemble(models.novel) };
  const users = full.userIds.length;
  const step = Math.max(1, Math.floor(users / count));
  const profileOf = new Map(profiles.map((p) => [p.userId, p]));
  const itemIndex = new Map(full.itemIds.map((id, i) => [id, i]));
  const dot = (
    vector: Float32Array,
    items: QuantizedItems,
    floatScores: ArrayLike<number>,
    user: string,
  ): GoldenCase => {
    const ref = topK(scoreInt8(items, vector), 10);
    return {
      user,
      vector: Array.from(vector),
      k: 10,
      expectedIndices: ref.indices,
      expectedScores: ref.scores,
      floatTop10: topK(floatScores, 10).indices,
    };
  };
  for (let u = 0; u < users && golden.als.length < count; u += step) {
    const user = full.userIds[u] as string;
    golden.als.push(dot(als.userVector(u), alsItems, als.scores(u), user));
    if (content && contentItems && rowIndices(full.data.matrix, u).length > 0) {
      golden.content.push(dot(content.userVector(u), contentItems, content.scores(u), user));
    }
    const profile = profileOf.get(user);
    if (hybrid?.parts && content && contentItems && profile) {
      const own = ownItems(profile.purchases, itemIndex);
      const alsScores = scoreInt8(alsItems, als.userVector(u));
      const contentScores = scoreInt8(contentItems, content.userVector(u));
      for (const mode of ["all", "novel"] as const) {
        const s = hybridScores(
          hybrid.weights[mode],
          own,
          full.end,
          alsScores,
          contentScores,
          // the ranker's candidates below make their own sums (no `sums` in its inputs), the Worker gives both one
          ownNeighbourSums(neighbours, own),
          hybrid.parts.stats,
        );
        const ownSet = new Set(own.map((o) => o.item));
        const skip = mode === "novel" ? (j: number) => ownSet.has(j) : undefined;
        const expected = topK(s, 10, skip).indices;
        golden.hybrid.push({ user, mode, now: full.end, profile, expectedIndices: expected });
        if (neighbours && compiled) {
          const inputs = {
            own,
            now: full.end,
            als: alsScores,
            content: contentScores,
            neighbours,
            stats: hybrid.parts.stats,
            hybrid: s,
          };
          const ranked = rankCandidates(compiled[mode], rankerCandidates(inputs, mode), 10, () => expected, skip);
          const pool = pools.get(user) ?? null;
          golden.ranker.push({
            user,
            mode,
            now: full.end,
            profile,
            expectedIndices: ranked.indices.slice(0, 10),
            pool,
          });
        }
      }
    }
  }
  return golden;
}
