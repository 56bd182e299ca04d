/**
 * Candidates, then a learned ranker: core/ranker.ts's generators propose items, gradient-boosted trees
 * (scripts/learn/gbdt.ts) score their feature rows. Trained on a validation split's relevance, and on an earlier
 * window's (the same protocol one window back) when there is one: twice the readers to learn from. One ensemble
 * per mode (`all`: rebuys allowed; `novel`: discovery). The component models (ALS, content, EASE's neighbour
 * table) are fitted elsewhere on each window and handed in. The two modes' trees grow side by side in worker
 * threads (scripts/lib/worker-pool.ts).
 */

import type { HybridWeights } from "../../core/hybrid";
import { topK } from "../../core/int8-kernel";
import type { NeighbourTable } from "../../core/neighbour-table";
import {
  CANDIDATES,
  type CandidateRows,
  RANKER_FEATURES,
  type RankerInputs,
  type RankerMode,
  rankCandidates,
  rankerCandidates,
} from "../../core/ranker";
import { studentQuantile } from "../../core/stats/distributions";
import {
  type CompiledEnsemble,
  compileEnsemble,
  isWellFormed,
  scoreRows,
  type TreeEnsemble,
  treeScore,
} from "../../core/tree-ensemble";
import type { TrainData } from "../data/train-data";
import type { GbdtData, GbdtOptions } from "../learn/gbdt";
import { allEnded, alongside, inWorker } from "../lib/worker-pool";
import { evaluateVariant, type JudgedSplit, K, ndcgPerUser, standardError } from "../ranking/evaluate-recommender";
import { userMetrics } from "../ranking/ranking-metrics";
import { type Recommender, recommend } from "../ranking/recommender-contract";
import type { ImplicitAls } from "./als";
import type { ContentLsa } from "./content";
import { HybridRecommender } from "./hybrid";

export type RankerModels = Record<RankerMode, TreeEnsemble>;

/**
 * Neighbours per modelled item kept for the ranker and the edge (what K costs is in the evaluation's JSON): EASE
 * models at most 2,500 items, so the table is at most 2,500 x 20 x 8 bytes (400 KB) whatever the catalog's size.
 */
export const NEIGHBOURS_K = 20;

/**
 * The trees' settings, chosen once on Online Retail's validation readers over two windows (the tree count per run, at
 * most `trees`: chooseRanker): depth 4 generalized better than 6 or 8 on three of the four window-mode pairs, most
 * in `novel`.
 */
export const RANKER_GBDT: Partial<GbdtOptions> = {
  objective: "logloss",
  depth: 4,
  learningRate: 0.05,
  minHessian: 3,
  trees: 400,
};
/** held-out readers' NDCG is measured every this many trees */
const CHECKPOINT = 25;
/**
 * The weights of the hybrid logit the served score may add to the trees' (a blend: core/tree-ensemble.ts `linear`),
 * chosen with the tree count on the forward curve (forwardCheck). 0: the trees alone.
 */
export const BLENDS = [0, 0.1, 0.25, 0.5, 1] as const;

/** Trees fitted in a worker thread (scripts/lib/worker-pool.ts): the two modes' fits run side by side. */
const fitTrees = (data: GbdtData, options: Partial<GbdtOptions>) =>
  inWorker<TreeEnsemble>(new URL("../learn/gbdt.ts", import.meta.url), "fitGbdt", [data, options]);

export interface RankerChoice {
  /**
   * protocol NDCG@10 of validation readers held out of the ranker's training (a third, by a hash of the row,
   * `users` of them). `trees` and `blend`, the count and blend that serve, are the forward check's where there is
   * one, and `ranker` is then cross-fitted over the forward curves (each held-out half at the blend and count the
   * other half of the validation readers picked there: pickBlend, atForward); without one all of them pick the count,
   * the trees serve alone, and `ranker` is cross-fitted, each half of them scored at the count the other half picks
   * (pickTrees: unless a half is empty). Either way no reader's figure
   * is the best of many looks at them. `hybrid` is the hybrid's on the same readers; `margin` how far the hybrid had to
   * lead the ranker on them to serve instead (chooseServed)
   */
  holdout: Record<RankerMode, RankerJudged>;
  /**
   * the same comparison forward in time, as a model serves (null without an earlier window): trees and hybrid
   * weights fitted on the earlier window alone, both scored on every reader of the validation window after it
   * (`users`), and with an older window the same one window back (`pickedOver`). Where their summed curve peaks
   * (`trees`, `blend`) is what serves; its ranker figure (the validation readers') is cross-fitted over that
   * count as on held-out readers, and `margin` is what the hybrid would have had to lead by there: reported, not
   * used to choose (forwardCheck)
   */
  forward: Record<RankerMode, ForwardJudged> | null;
  /**
   * what serves each mode: the hybrid only where it led the ranker by more than `margin` on held-out readers, or
   * where nothing judged the ranker (no held-out reader, or no checkpoint reached)
   */
  chosen: Record<RankerMode, "ranker" | "hybrid">;
  /**
   * the trees as trained without the held-out readers, and the hybrid weights their features came from (fitted
   * without them too): their scores on those readers calibrate `topProbability`
   */
  heldOut: RankerModels;
  heldOutWeights: HybridWeights;
}

/** One comparison of ranker and hybrid on readers neither learnt from (chooseRanker). */
export interface RankerJudged {
  hybrid: number;
  ranker: number;
  trees: number;
  /** the hybrid logit's weight beside the trees (BLENDS) */
  blend: number;
  users: number;
  margin: number;
}

/** The forward comparison: as RankerJudged, on the validation window's readers (`users`). */
export interface ForwardJudged extends RankerJudged {
  /**
   * the readers the count and blend were picked over: the validation window's, and with an older window
   * (CandidateRanker.older) the earlier window's too, on which the older window's trees were judged
   */
  pickedOver: number;
}

/**
 * An earlier window whose readers the trees learn from too: its own components (fitted before its cutoff), what its
 * readers bought after that cutoff, and their ids (to keep readers held out of the validation window out of it as
 * well). Its hybrid features are scored with the validation ranker's hybrid weights, whatever they are when it learns
 * (learningSet): the weights are never copied into the window, so nothing keeps them in step.
 */
export interface EarlierWindow {
  /** fitted with `hybrid` over this window's components */
  ranker: CandidateRanker;
  /** this window's components; its own weights are not read */
  hybrid: HybridRecommender;
  relevant: Record<RankerMode, ReadonlyMap<number, ReadonlySet<number>>>;
  userIds: readonly string[];
}

/**
 * An earlier window over its own components, fitted on `data` (what came before its cutoff, `end`): the ranker's
 * candidates come from the hybrid over them and `neighbours`.
 */
export function earlierWindow(w: {
  data: TrainData;
  end: number;
  als: ImplicitAls;
  content: ContentLsa;
  neighbours: NeighbourTable | null;
  relevant: EarlierWindow["relevant"];
  userIds: readonly string[];
}): EarlierWindow {
  const hybrid = new HybridRecommender(w.als.options, {}, w.end);
  hybrid.fitWith(w.data, w.als, w.content, w.neighbours);
  const ranker = new CandidateRanker();
  ranker.fitWith(hybrid);
  return { ranker, hybrid, relevant: w.relevant, userIds: w.userIds };
}

export class CandidateRanker implements Recommender {
  readonly name = "ranker";
  mode: RankerMode = "all";
  models: RankerModels | null = null;
  /** earlier windows the trees learn from besides this one (none: this window alone) */
  earlier: EarlierWindow[] = [];
  /**
   * the window before `earlier[0]`, which the trees do not learn from: a second forward check, its own trees judged
   * on `earlier[0]`'s readers (forwardCheck; none: the check is the earlier window's alone)
   */
  older: EarlierWindow | null = null;
  private hybrid: HybridRecommender | null = null;

  constructor(readonly gbdt: Partial<GbdtOptions> = RANKER_GBDT) {}

  fit(): void {
    throw new Error("the ranker is fitted with fitWith (components) and train (relevance)");
  }

  /**
   * The components, fitted on the window the ranker scores: the tuned hybrid (its ALS, content, item
   * statistics, EASE's neighbour table and linear logits; int8 when it is quantized).
   */
  fitWith(hybrid: HybridRecommender): void {
    this.hybrid = hybrid;
  }

  /** One reader's candidates' inputs; the hybrid's logits with `weights` (default: its own). */
  inputs(user: number, mode: RankerMode, weights?: HybridWeights): RankerInputs {
    const h = this.hybrid;
    if (!h) throw new Error("not fitted");
    const c = h.components(user);
    return { ...c, hybrid: h.scoresFor(mode, c, weights) };
  }

  /** One query group per user with a relevant candidate set: the rows the trees learn from. */
  trainingSet(
    relevant: ReadonlyMap<number, ReadonlySet<number>>,
    mode: RankerMode,
    users?: readonly number[],
  ): GbdtData {
    return stack(this.groupsOf(relevant, mode, users));
  }

  /**
   * This window's rows for `users` (default: every reader with relevance), then every earlier window's, less the
   * readers whose ids are in `except`, their hybrid features scored with this window's hybrid weights.
   */
  learningSet(
    relevant: ReadonlyMap<number, ReadonlySet<number>>,
    mode: RankerMode,
    users?: readonly number[],
    except: ReadonlySet<string> = new Set(),
  ): GbdtData {
    return stack([...this.groupsOf(relevant, mode, users), ...this.earlierGroups(mode, except)]);
  }

  /** The earlier windows' rows (learningSet), less the readers whose ids are in `except`. */
  private earlierGroups(mode: RankerMode, except: ReadonlySet<string> = new Set()): QueryGroup[] {
    const weights = this.hybrid?.weights;
    return this.earlier.flatMap((w) => {
      const rel = w.relevant[mode];
      const kept = [...rel.keys()].filter((u) => !except.has(w.userIds[u] as string));
      return w.ranker.groupsOf(rel, mode, kept, weights);
    });
  }

  /** Each user's candidate rows and their labels (relevant or not), for users with a relevant set. */
  private groupsOf(
    relevant: ReadonlyMap<number, ReadonlySet<number>>,
    mode: RankerMode,
    users?: readonly number[],
    weights?: HybridWeights,
  ): QueryGroup[] {
    const out: QueryGroup[] = [];
    for (const u of users ?? relevant.keys()) {
      const rel = relevant.get(u);
      if (!rel) continue;
      const { items, rows } = rankerCandidates(this.inputs(u, mode, weights), mode);
      out.push({ rows, labels: items.map((j) => (rel.has(j) ? 1 : 0)) });
    }
    return out;
  }

  /**
   * The final fit, on every validation reader (and every earlier window's): with as many trees per mode as the choice
   * says (`holdout[mode].trees`: the forward check's count, or the held-out readers' pick; chooseRanker), or the
   * settings' count without one. With an earlier window, each mode is fitted twice at that count, on every window's
   * readers and on the validation window's alone, and serves their mean (meanEnsemble): the nearer window alone
   * ranked better on a small shop (the file's first eight months), both windows on the whole file, and the mean did
   * as well as the better of them on each (docs/evaluation-history.md, 2026-12-06).
   */
  async train(
    relevantAll: ReadonlyMap<number, ReadonlySet<number>>,
    relevantNovel: ReadonlyMap<number, ReadonlySet<number>>,
    choice?: Pick<RankerChoice, "holdout">,
  ): Promise<RankerModels> {
    // the novel mode's rows are made while the all mode's trees grow; async, so a throw is a rejection allEnded sees
    // (after the other mode's fit has ended)
    const fitMode = async (mode: RankerMode, relevant: ReadonlyMap<number, ReadonlySet<number>>) => {
      const options = { ...this.gbdt, ...(choice ? { trees: choice.holdout[mode].trees } : {}) };
      // this window's rows are made once, for both fits (learningSet's, and trainingSet's alone)
      const own = this.groupsOf(relevant, mode);
      const every = await fitTrees(stack([...own, ...this.earlierGroups(mode)]), options);
      const served = this.earlier.length === 0 ? every : meanEnsemble(every, await fitTrees(stack(own), options));
      return withBlend(served, choice?.holdout[mode].blend ?? 0);
    };
    const [all, novel] = await allEnded([fitMode("all", relevantAll), fitMode("novel", relevantNovel)] as const);
    this.models = { all, novel };
    // what the Worker would refuse to serve (too many trees too deep to lay out) fails here, not at the edge
    for (const mode of ["all", "novel"] as const)
      if (!isWellFormed(this.models[mode]))
        throw new Error(`the ${mode} ranker's trees are too many or too deep to serve`);
    return this.models;
  }

  /** The trees' score of each candidate, -Infinity elsewhere (what calibrates `topProbability`). */
  scores(user: number): Float64Array {
    const inp = this.inputs(user, this.mode);
    const { items, rows } = rankerCandidates(inp, this.mode);
    const scored = scoreRows(this.ensemble(), rows, RANKER_FEATURES.length, items.length);
    const out = new Float64Array(inp.als.length).fill(Number.NEGATIVE_INFINITY);
    items.forEach((j, r) => {
      out[j] = scored[r] as number;
    });
    return out;
  }

  /**
   * The reader's top `n` as the Worker ranks them (core/ranker.ts rankCandidates: ties of the trees' score go to
   * the higher hybrid logit), topped up in the hybrid's order when too few candidates survive `exclude`.
   */
  rank(user: number, n: number, exclude?: ReadonlySet<number>): number[] {
    const inp = this.inputs(user, this.mode);
    const candidates = rankerCandidates(inp, this.mode);
    const skip = exclude ? (j: number) => exclude.has(j) : undefined;
    const fill = () => topK(inp.hybrid, n + candidates.items.length, skip).indices;
    return rankCandidates(this.ensemble(), candidates, n, fill, skip).indices.slice(0, n);
  }

  /** This mode's trees laid out for scoring. */
  private ensemble(): CompiledEnsemble {
    const models = this.models;
    if (!models) throw new Error("not trained");
    if (this.compiled?.from !== models)
      this.compiled = { from: models, all: compileEnsemble(models.all), novel: compileEnsemble(models.novel) };
    return this.compiled[this.mode];
  }

  /** the trees laid out for scoring, made again when `models` is replaced */
  private compiled: ({ from: RankerModels } & Record<RankerMode, CompiledEnsemble>) | null = null;

  hyperparameters() {
    return { ...this.gbdt, candidates: ["own", ...Object.keys(CANDIDATES)].join(", ") } as Record<
      string,
      number | string | boolean
    >;
  }
}

/** a third of the readers, by a hash of their row; of those, two halves (odd, even rows) judge each other's pick */
export const isHeldOut = (user: number) => Math.imul(user + 1, 2654435761) >>> 0 < 1431655765;
const odd = (user: number) => user % 2 === 1;

/**
 * The tree count, and ranker or hybrid per mode. With an earlier window the count is chosen forward in time, as a
 * model serves (forwardCheck: trees from the earlier window alone, judged on the validation window's readers, which
 * come after it). Then trains on two thirds of the validation readers (and the earlier windows' readers, less the
 * held-out ones) and measures the held-out third (the protocol's NDCG@10, every relevant item counted, so candidates
 * that miss count against the ranker) every CHECKPOINT trees: the ranker's figure compared with the hybrid is
 * cross-fitted, each held-out half scored at the count the other half picks, on the forward curve (atForward) or,
 * without an earlier window, on the held-out third's own (pickTrees), so it is not the best of many looks.
 * For the comparison the hybrid's weights are fitted on the same two thirds (so neither has seen the held-out readers;
 * the ranker's hybrid features come from those weights too), then put back as they were. `hybrid` is the ranker's
 * own component.
 */
export async function chooseRanker(
  ranker: CandidateRanker,
  val: RankerSplit,
  hybrid: HybridRecommender,
): Promise<RankerChoice> {
  // forward first: it sets the tree count the held-out readers then judge (compare)
  const earlier = ranker.earlier[0];
  const forward = earlier ? await forwardCheck(ranker, earlier, val, hybrid) : null;
  const fitted = hybrid.weights;
  const trainOf = (m: ReadonlyMap<number, Set<number>>) =>
    subset(
      m,
      [...m.keys()].filter((u) => !isHeldOut(u)),
    );
  // the earlier windows' hybrid features come from the same weights (learningSet), fitted without the held-out readers
  const heldOutWeights = hybrid.tune(trainOf(val.testAll), trainOf(val.testNovel));
  let held: Omit<RankerChoice, "heldOutWeights" | "forward">;
  try {
    held = await compare(ranker, val, hybrid, forward);
  } finally {
    hybrid.weights = fitted;
  }
  return {
    ...held,
    forward: forward && { all: forward.all.judged, novel: forward.novel.judged },
    heldOutWeights,
  };
}

/**
 * Ranker against hybrid forward in time, as a model serves: trees (the settings' count, at most) and hybrid weights
 * fitted on the earlier window's readers alone, both scored on every reader of the validation window, which comes
 * after it. Held-out readers share their window with the readers the trees learnt from, and with it whatever that
 * month made popular; the next month's readers do not, and neither do a shop's opens after training. So the count,
 * and the blend (BLENDS: the hybrid logit's weight beside the trees; pickBlend), where this curve peaks are the ones
 * that serve (held-out readers' curves peak later: trees that keep learning the
 * month's own taste look better to readers of that month). Where the log reaches one window further back
 * (CandidateRanker.older), the same check is made one window earlier too: trees and weights fitted on the older window
 * alone, scored on every reader of the earlier window. The two checks' curves are added (addCurves) and the count and
 * blend picked over both sets of readers (`pickedOver`): one month's readers are few to place a peak with (on the
 * file's first eight months the pick moved between 25 and 325 trees at one cutoff from run to run), and each check
 * judges trees one window ahead of what they learnt, as a model serves. The ranker's figure is cross-fitted (each half of the
 * readers at the tree count the other half's curve peaks at, pickTrees), and the one-sided bound the hybrid would
 * have to lead past is reported (chooseServed) but chooses nothing: this comparison tilts against the ranker more
 * than the held-out one does (these trees learn from one window, the served ones from two); letting it serve the
 * hybrid changed no choice on Online Retail, and on each half of its customers served the hybrid once, at a cutoff
 * where the ranker did as well or better (docs/evaluation-history.md).
 */
async function forwardCheck(
  ranker: CandidateRanker,
  earlier: EarlierWindow,
  val: RankerSplit,
  hybrid: HybridRecommender,
): Promise<Record<RankerMode, ForwardPick>> {
  const older = ranker.older;
  const before = { earlier: earlier.hybrid.weights, val: hybrid.weights, older: older?.hybrid.weights };
  try {
    // each window's own weights, which its trees' hybrid features and the hybrid judged after it both use
    const weights = earlier.hybrid.tune(earlier.relevant.all, earlier.relevant.novel);
    const olderWeights = older?.hybrid.tune(older.relevant.all, older.relevant.novel);
    // the two modes side by side, each mode's checks one after the other
    const fitted = await allEnded(
      (["all", "novel"] as const).map(async (mode) => {
        const relevant = mode === "all" ? val.testAll : val.testNovel;
        const next = await forwardCurves(earlier, mode, ranker.gbdt, {
          relevant,
          inputs: (u) => ranker.inputs(u, mode, weights),
        });
        // one window further back: the older window's trees on the earlier window's readers
        const back =
          older && olderWeights
            ? await forwardCurves(older, mode, ranker.gbdt, {
                relevant: earlier.relevant[mode],
                inputs: (u) => earlier.ranker.inputs(u, mode, olderWeights),
              })
            : null;
        return { mode, next, back };
      }),
    );
    hybrid.weights = weights;
    const out = {} as Record<RankerMode, ForwardPick>;
    for (const { mode, next, back } of fitted) {
      const { users, curves } = next;
      // the count and blend are picked over both checks' readers; each half at the other half's pick, as before
      const pooled = [...users, ...(back?.users ?? [])];
      const odds = pooled.filter(odd).length;
      const { blend, trees, at, atBlend } = pickBlend(
        back ? addCurves(curves, back.curves) : curves,
        odds,
        pooled.length - odds,
        next.fitted,
      );
      // each validation reader's figure at the blend and count their half is judged at
      const half = { odd: halfReaders(curves, atBlend.odd, at.odd), even: halfReaders(curves, atBlend.even, at.even) };
      const rankerOf = users.map((u, i) => half[odd(u) ? "odd" : "even"]?.[i] ?? 0);
      const hybridOf = hybridPerReader(hybrid, val, mode, users);
      const served = chooseServed(rankerOf, hybridOf);
      const judged = {
        hybrid: hybridOf.reduce((a, b) => a + b, 0) / Math.max(1, users.length),
        ranker: rankerOf.reduce((a, b) => a + b, 0) / Math.max(1, users.length),
        trees,
        blend,
        users: curves[0]?.curve.length ? users.length : 0,
        margin: served.margin,
        pickedOver: curves[0]?.curve.length ? users.length + (back?.users.length ?? 0) : 0,
      };
      out[mode] = { judged, at, atBlend };
    }
    return out;
  } finally {
    earlier.hybrid.weights = before.earlier;
    hybrid.weights = before.val;
    if (older && before.older) older.hybrid.weights = before.older;
  }
}

/**
 * One forward check's curves: trees (the settings' count) fitted on `from`'s readers alone, scored tree by tree on
 * the readers of the window after it (`judged`, their candidates from that window's components). The trees start
 * growing before the readers' rows are made, and their curves are walked as soon as they are grown.
 */
async function forwardCurves(
  from: EarlierWindow,
  mode: RankerMode,
  gbdt: Partial<GbdtOptions>,
  judged: { relevant: ReadonlyMap<number, ReadonlySet<number>>; inputs: (user: number) => RankerInputs },
): Promise<{ users: number[]; curves: BlendCurve[]; fitted: number }> {
  const users = [...judged.relevant.keys()];
  const fit = fitTrees(from.ranker.trainingSet(from.relevant[mode], mode), gbdt);
  const { result: model, made: rows } = await alongside(fit, () =>
    users.map((u) => rankerCandidates(judged.inputs(u), mode)),
  );
  return { users, curves: heldOutCurves(model, users, rows, judged.relevant, BLENDS), fitted: model.trees.length };
}

/**
 * Two forward checks' curves as one, their readers pooled: each blend's points added checkpoint by checkpoint (each
 * half's sum to the same half's), up to the checkpoints both reached.
 */
export function addCurves(
  a: readonly { blend: number; curve: readonly CurvePoint[] }[],
  b: readonly { blend: number; curve: readonly CurvePoint[] }[],
): { blend: number; curve: CurvePoint[] }[] {
  return a.map(({ blend, curve }) => {
    const other = b.find((c) => c.blend === blend);
    if (!other) throw new Error(`no curve of blend ${blend} to add`);
    return {
      blend,
      curve: curve.slice(0, other.curve.length).map((p, k) => {
        const q = other.curve[k] as CurvePoint;
        if (q.trees !== p.trees) throw new Error(`checkpoints ${p.trees} and ${q.trees} do not match`);
        return { trees: p.trees, odd: p.odd + q.odd, even: p.even + q.even };
      }),
    };
  });
}

/** The hybrid's protocol NDCG@10 for each of `users`, in their order, with its current weights. */
function hybridPerReader(
  hybrid: HybridRecommender,
  val: RankerSplit,
  mode: RankerMode,
  users: readonly number[],
): number[] {
  hybrid.mode = mode;
  const hm = evaluateVariant(
    { train: val.train, testAll: subset(val.testAll, users), testNovel: subset(val.testNovel, users) },
    mode,
    (u, ex) => recommend(hybrid, u, K, ex),
  );
  hybrid.mode = "all";
  const per = ndcgPerUser(hm);
  if (!per) throw new Error("the hybrid's figure has no per-reader NDCG");
  const of = new Map([...per.users].map((u, i) => [u, per.ndcg[i] as number]));
  return users.map((u) => {
    const h = of.get(u);
    if (h === undefined) throw new Error(`reader ${u} has no hybrid figure`);
    return h;
  });
}

async function compare(
  ranker: CandidateRanker,
  val: RankerSplit,
  hybrid: HybridRecommender,
  forward: Record<RankerMode, ForwardPick> | null,
): Promise<Omit<RankerChoice, "heldOutWeights" | "forward">> {
  const out = { holdout: {}, chosen: {}, heldOut: {} } as Omit<RankerChoice, "heldOutWeights" | "forward">;
  // both modes' trees grow side by side: each mode's start before its held-out readers' rows are made, and its
  // curves are walked as soon as they are grown (while the other mode's may still grow)
  const judgedAt = (mode: RankerMode) => {
    const f = forward?.[mode]?.judged.users ? forward[mode] : undefined;
    // the blend that serves; each held-out half is judged at the blend the other half of the forward readers picked
    return { f, blend: f ? f.judged.blend : 0, atBlend: f ? f.atBlend : { odd: 0, even: 0 } };
  };
  const fitted = await allEnded(
    (["all", "novel"] as const).map(async (mode) => {
      const relevant = mode === "all" ? val.testAll : val.testNovel;
      const users = [...relevant.keys()];
      const train = users.filter((u) => !isHeldOut(u));
      const held = users.filter(isHeldOut);
      // the held-out readers' earlier purchases teach nothing either
      const heldIds = new Set(held.map((u) => val.userIds[u] as string));
      const fit = fitTrees(ranker.learningSet(relevant, mode, train, heldIds), ranker.gbdt);
      const { result: model, made: rows } = await alongside(fit, () =>
        held.map((u) => rankerCandidates(ranker.inputs(u, mode), mode)),
      );
      const { atBlend } = judgedAt(mode);
      return {
        mode,
        held,
        model,
        curves: heldOutCurves(model, held, rows, relevant, [...new Set([atBlend.odd, atBlend.even])]),
      };
    }),
  );
  for (const { mode, held, model, curves } of fitted) {
    const { f, blend, atBlend } = judgedAt(mode);
    const curveOf = (b: number) => (curves.find((c) => c.blend === b) as BlendCurve).curve;
    const odds = held.filter(odd).length;
    const { trees, sum, at } = f
      ? atForward(curveOf(atBlend.odd), f.judged.trees, f.at, curveOf(atBlend.even))
      : pickTrees(curveOf(0), odds, held.length - odds, model.trees.length);
    // each held-out reader's figure, at the blend and count their half is judged at (0 with no checkpoint, as `sum`)
    const half = { odd: halfReaders(curves, atBlend.odd, at.odd), even: halfReaders(curves, atBlend.even, at.even) };
    const rankerOf = held.map((u, i) => half[odd(u) ? "odd" : "even"]?.[i] ?? 0);
    if (Math.abs(rankerOf.reduce((a, b) => a + b, 0) - sum) > 1e-9 * Math.max(1, held.length))
      throw new Error(`the ${mode} ranker's held-out figures do not add up to the cross-fitted sum`);
    const hybridOf = hybridPerReader(hybrid, val, mode, held);
    const served = chooseServed(rankerOf, hybridOf);
    out.holdout[mode] = {
      hybrid: hybridOf.reduce((a, b) => a + b, 0) / Math.max(1, held.length),
      ranker: sum / Math.max(1, held.length),
      trees,
      blend,
      users: held.length,
      margin: served.margin,
    };
    // no held-out reader, or no checkpoint reached: nothing judged the ranker, so the hybrid serves
    out.chosen[mode] = held.length && curves[0]?.curve.length ? served.chosen : "hybrid";
    out.heldOut[mode] = withBlend({ ...model, trees: model.trees.slice(0, trees) }, blend);
  }
  return out;
}

/**
 * Summed NDCG@10 of each half of the held-out readers (odd, even rows) after every CHECKPOINT trees, and each
 * reader's own (`readers[k][i]`: held[i]'s at curve[k]), once per blend (the trees' score plus `blend` times the
 * hybrid logit): each reader's candidates scored tree by tree, in the order the trees were grown, the trees walked
 * once for every blend.
 */
function heldOutCurves(
  model: TreeEnsemble,
  held: readonly number[],
  rows: readonly CandidateRows[],
  relevant: ReadonlyMap<number, ReadonlySet<number>>,
  blends: readonly number[],
): BlendCurve[] {
  const f = RANKER_FEATURES.length;
  const running = rows.map((r) => new Float64Array(r.items.length));
  const hybridOf = rows.map((r) => Float64Array.from(r.items, (_, c) => r.rows[c * f + HYBRID_COLUMN] as number));
  const out: BlendCurve[] = blends.map((blend) => ({ blend, curve: [], readers: [] }));
  model.trees.forEach((tree, k) => {
    const t = k + 1;
    rows.forEach((r, i) => {
      const s = running[i] as Float64Array;
      for (let c = 0; c < r.items.length; c++) s[c] = (s[c] as number) + treeScore(tree, r.rows, c * f);
    });
    if (t % CHECKPOINT !== 0) return;
    for (const b of out) {
      const sums = { odd: 0, even: 0 };
      const each = new Float64Array(held.length);
      rows.forEach((r, i) => {
        const s = running[i] as Float64Array;
        const h = hybridOf[i] as Float64Array;
        const scored = b.blend === 0 ? s : s.map((v, c) => v + b.blend * (h[c] as number));
        const u = held[i] as number;
        each[i] = ndcgAt10(r.items, scored, h, relevant.get(u) as Set<number>);
        sums[odd(u) ? "odd" : "even"] += each[i] as number;
      });
      b.curve.push({ trees: t, odd: sums.odd, even: sums.even });
      b.readers.push(each);
    }
  });
  return out;
}

/** Each reader's figure on `blend`'s curve after `trees` trees (undefined: no such checkpoint). */
function halfReaders(curves: readonly BlendCurve[], blend: number, trees: number): Float64Array | undefined {
  const c = curves.find((x) => x.blend === blend);
  return c?.readers[c.curve.findIndex((p) => p.trees === trees)];
}

/** One blend's held-out curve, and each reader's figure at each of its points (heldOutCurves). */
interface BlendCurve {
  blend: number;
  curve: CurvePoint[];
  readers: Float64Array[];
}

/** Held-out NDCG summed over each half of the held-out readers, after this many trees. */
export interface CurvePoint {
  trees: number;
  odd: number;
  even: number;
}

/**
 * The tree count the whole held-out curve peaks at, and the held-out NDCG sum cross-fitted: each half at the count
 * the other half's curve peaks at (`at`: the count each half is judged at). With one half empty (a very small
 * shop) the other judges its own pick, and its figure is then the best of many looks. No point (fewer trees than a
 * checkpoint): every tree, and a figure of 0 (the hybrid serves).
 */
export function pickTrees(
  curve: readonly CurvePoint[],
  odds: number,
  evens: number,
  fitted: number,
): { trees: number; sum: number; at: { odd: number; even: number } } {
  const first = curve[0];
  if (!first) return { trees: fitted, sum: 0, at: { odd: fitted, even: fitted } };
  // ties: the fewest trees
  const best = (score: (p: CurvePoint) => number) => curve.reduce((a, b) => (score(b) > score(a) ? b : a), first);
  const both = best((p) => p.odd + p.even);
  if (odds === 0 || evens === 0)
    return { trees: both.trees, sum: both.odd + both.even, at: { odd: both.trees, even: both.trees } };
  const byEven = best((p) => p.even);
  const byOdd = best((p) => p.odd);
  return { trees: both.trees, sum: byEven.odd + byOdd.even, at: { odd: byEven.trees, even: byOdd.trees } };
}

/**
 * The blend and tree count that serve, from the forward curve of each blend (BLENDS): each blend's count and
 * cross-fitted sum as pickTrees finds them, and the blend whose cross-fitted sum is highest (ties: the smaller blend,
 * the trees alone first), at its count. The figure is cross-fitted over both choices: each half judged at the blend
 * and count where the other half's curves peak (`atBlend`, `at`; ties: the smaller blend, the fewer trees), so it is
 * no best of many looks at either. With one half empty the other judges its own pick, as in pickTrees.
 */
export function pickBlend(
  curves: readonly { blend: number; curve: readonly CurvePoint[] }[],
  odds: number,
  evens: number,
  fitted: number,
): ReturnType<typeof pickTrees> & { blend: number; atBlend: { odd: number; even: number } } {
  const sorted = [...curves].sort((a, b) => a.blend - b.blend);
  let best: (ReturnType<typeof pickTrees> & { blend: number }) | null = null;
  for (const { blend, curve } of sorted) {
    const p = pickTrees(curve, odds, evens, fitted);
    if (!best || p.sum > best.sum) best = { ...p, blend };
  }
  if (!best) throw new Error("no blend to pick from");
  const peak = (h: "odd" | "even") => {
    let top: { blend: number; point: CurvePoint } | null = null;
    for (const { blend, curve } of sorted)
      for (const point of curve) if (!top || point[h] > top.point[h]) top = { blend, point };
    return top;
  };
  const byEven = peak("even");
  const byOdd = peak("odd");
  if (odds === 0 || evens === 0 || !byEven || !byOdd)
    return { ...best, atBlend: { odd: best.blend, even: best.blend } };
  return {
    blend: best.blend,
    trees: best.trees,
    sum: byEven.point.odd + byOdd.point.even,
    at: { odd: byEven.point.trees, even: byOdd.point.trees },
    atBlend: { odd: byEven.blend, even: byOdd.blend },
  };
}

/**
 * The held-out figure at the tree count chosen forward in time (forwardCheck), cross-fitted as pickTrees is: the
 * forward curve runs over every validation reader, held-out ones too, so each held-out half is judged at the count
 * the forward curve of the other half picked (`at`: odd readers at the even half's pick), or at the last checkpoint
 * below it, on the curve of the blend that half picked there (`curve` for the odd half, `evenCurve` for the even).
 * `trees`, the count that serves, is the forward pick's. No checkpoint: a figure of 0.
 */
export function atForward(
  curve: readonly CurvePoint[],
  trees: number,
  at: { odd: number; even: number },
  evenCurve: readonly CurvePoint[] = curve,
): { trees: number; sum: number; at: { odd: number; even: number } } {
  const below = (c: readonly CurvePoint[], count: number) => c.filter((q) => q.trees <= count).pop();
  const o = below(curve, at.odd);
  const e = below(evenCurve, at.even);
  if (!o || !e) return { trees, sum: 0, at };
  return { trees, sum: o.odd + e.even, at: { odd: o.trees, even: e.trees } };
}

/**
 * The forward check's figures, and the count and blend each half of the validation readers is judged at there
 * (pickBlend): the other half's picks.
 */
interface ForwardPick {
  judged: ForwardJudged;
  at: { odd: number; even: number };
  atBlend: { odd: number; even: number };
}

/** How sure the hybrid's lead must be for it to serve instead of the ranker: a one-sided 95% bound. */
const SERVE_HYBRID_LEVEL = 0.95;

/**
 * Ranker or hybrid, from the held-out readers' paired figures (the ranker's cross-fitted, the hybrid's, reader by
 * reader): the hybrid serves only when its mean lead over the ranker on the same readers is more than the one-sided
 * SERVE_HYBRID_LEVEL bound of that paired difference (`margin`: Student's t quantile, n - 1 degrees of freedom,
 * times its standard error), a lead the readers' noise does not explain.
 * A smaller lead, a tie or a loss leaves the ranker serving, because the comparison tilts against it: the trees
 * judged here learnt from two thirds of the validation readers, the trees that serve learn from all of them, and
 * trees gain more from more readers than the hybrid's few weights do (README, "Which one serves"). One reader:
 * the plain difference.
 */
export function chooseServed(
  ranker: readonly number[],
  hybrid: readonly number[],
): { chosen: "ranker" | "hybrid"; margin: number } {
  const n = ranker.length;
  if (hybrid.length !== n) throw new Error(`paired figures of unequal length: ${n} and ${hybrid.length}`);
  const d = hybrid.map((h, i) => h - (ranker[i] as number));
  const mean = d.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const margin = n > 1 ? studentQuantile(SERVE_HYBRID_LEVEL, n - 1) * standardError(d) : 0;
  return { chosen: mean > margin ? "hybrid" : "ranker", margin };
}

/** A validation window as the ranker's choice reads it: judged like any split, with its readers' ids. */
export type RankerSplit = JudgedSplit & { userIds: readonly string[] };

interface QueryGroup {
  /** candidates x RANKER_FEATURES */
  rows: Float64Array;
  labels: number[];
}

/** Query groups one after another, as the trees learn from them. */
function stack(groups: readonly QueryGroup[]): GbdtData {
  const f = RANKER_FEATURES.length;
  const n = groups.reduce((sum, g) => sum + g.labels.length, 0);
  const x = new Float64Array(n * f);
  const y = new Uint8Array(n);
  const bounds = new Int32Array(groups.length + 1);
  let at = 0;
  groups.forEach((g, i) => {
    x.set(g.rows, at * f);
    y.set(g.labels, at);
    at += g.labels.length;
    bounds[i + 1] = at;
  });
  return { x, y, groups: bounds, features: RANKER_FEATURES };
}

function subset(m: ReadonlyMap<number, Set<number>>, users: readonly number[]): Map<number, Set<number>> {
  return new Map(users.flatMap((u) => (m.has(u) ? [[u, m.get(u) as Set<number>] as const] : [])));
}

/** the hybrid logit's column in a candidate row */
const HYBRID_COLUMN = RANKER_FEATURES.indexOf("hybrid");

/** The mean of two ensembles' scores as one ensemble: both's trees, each leaf value halved, the bases' mean. */
export function meanEnsemble(a: TreeEnsemble, b: TreeEnsemble): TreeEnsemble {
  const half = (t: TreeEnsemble["trees"][number]) => ({ ...t, value: t.value.map((v) => v / 2) });
  return { ...a, base: (a.base + b.base) / 2, trees: [...a.trees.map(half), ...b.trees.map(half)] };
}

/** The trees with the hybrid logit's weight beside them (none at 0). */
function withBlend(model: TreeEnsemble, blend: number): TreeEnsemble {
  const { linear: _, ...trees } = model;
  return blend === 0 ? trees : { ...trees, linear: [{ feature: HYBRID_COLUMN, weight: blend }] };
}

/**
 * NDCG@10 of candidates ranked by score against every relevant item; ties as the Worker breaks them
 * (core/ranker.ts rankCandidates): the higher hybrid logit, then the lower item.
 */
function ndcgAt10(
  items: readonly number[],
  scores: Float64Array,
  hybrid: Float64Array,
  relevant: ReadonlySet<number>,
): number {
  const order = items
    .map((_, i) => i)
    .sort(
      (a, b) =>
        (scores[b] as number) - (scores[a] as number) ||
        (hybrid[b] as number) - (hybrid[a] as number) ||
        (items[a] as number) - (items[b] as number),
    );
  return userMetrics(
    order.map((i) => items[i] as number),
    relevant,
    K,
  ).ndcg;
}
