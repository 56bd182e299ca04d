/**
 * Which block of a campaign an open is served: its blocks tried top to bottom, the first whose `when`
 * holds for the open's facts, else the default block; with the reason, as text for a header, the preview
 * and the stored decision. Pure: the Worker gathers the facts (worker/campaigns/).
 */
import { type Block, type Campaign, DEFAULT_RULE } from "./campaign";
import { evaluate, type Fact, type Facts, factsUsed, MODEL_FACTS, READER_FACTS } from "./conditions";

export interface Selection {
  block: Block;
  /** position in `blocks`; -1 for the default block */
  index: number;
  /** the tests that made the served block's condition hold (empty for the default block) */
  why: string[];
  /** the blocks tried before it, and the test (or `or(...)`/`not(...)`) that failed each */
  skipped: { id: string; why: string[] }[];
}

/** Facts about the reader and their model scores: their values stay out of headers and stored decisions. */
export const PRIVATE_FACTS: ReadonlySet<Fact> = new Set([...READER_FACTS, ...MODEL_FACTS]);

/**
 * The block served for `facts`. `hide` (default PRIVATE_FACTS) keeps those facts' values out of the
 * explanation; the preview passes an empty set to see them.
 */
export function selectBlock(
  campaign: Campaign,
  facts: Facts,
  hide: ReadonlySet<Fact> = PRIVATE_FACTS,
  /** why a block whose condition holds cannot be served now (a product the live catalog hides), or null */
  unservable: (block: Block) => string | null = () => null,
): Selection {
  const skipped: Selection["skipped"] = [];
  for (const [index, candidate] of campaign.blocks.entries()) {
    const { when, ...block } = candidate;
    const result = evaluate(when, facts, hide);
    const cannot = result.held ? unservable(block) : null;
    if (result.held && cannot === null) return { block, index, why: result.trace, skipped };
    skipped.push({ id: block.id, why: cannot === null ? result.trace.slice(-1) : [cannot] });
  }
  return { block: campaign.default, index: -1, why: [], skipped };
}

/** The facts any of the campaign's conditions test (only these are gathered for an open). */
export function factsNeeded(campaign: Campaign): Set<Fact> {
  const used = new Set<Fact>();
  for (const b of campaign.blocks) factsUsed(b.when, used);
  return used;
}

/** Longest explanation sent in a header (the preview shows the whole of it). */
const MAX_EXPLANATION = 512;

/**
 * One line: the served block, what held, what failed each block tried before it:
 * `vip (blocks[1]: segment=loyal $in [loyal] ok); skipped hot: topProbability=0.12 $gte 0.7 no`.
 */
export function explainSelection(s: Selection): string {
  const where = s.index < 0 ? "default" : `blocks[${s.index}]`;
  const head = s.why.length > 0 ? `${s.block.id} (${where}: ${s.why.join(", ")})` : `${s.block.id} (${where})`;
  const tail = s.skipped.map((k) => `skipped ${k.id}: ${k.why.join(", ")}`);
  const line = [head, ...tail].join("; ");
  return line.length > MAX_EXPLANATION ? `${line.slice(0, MAX_EXPLANATION - 3)}...` : line;
}

export interface SubjectChoice {
  subject: string;
  preheader: string | null;
  /** the rule's id, or `default` */
  rule: string;
  /** the tests that chose it, without the reader's values */
  why: string;
}

/** The subject line for a reader's facts (campaign `subjects`), or null when the campaign has none. */
export function selectSubject(campaign: Campaign, facts: Facts): SubjectChoice | null {
  const subjects = campaign.subjects;
  if (!subjects) return null;
  const skipped: string[] = [];
  for (const rule of subjects.rules) {
    const result = evaluate(rule.when, facts, PRIVATE_FACTS);
    if (result.held) {
      return { subject: rule.subject, preheader: rule.preheader ?? null, rule: rule.id, why: result.trace.join(", ") };
    }
    skipped.push(`skipped ${rule.id}: ${result.trace.at(-1) ?? ""}`);
  }
  return {
    subject: subjects.default.subject,
    preheader: subjects.default.preheader ?? null,
    rule: DEFAULT_RULE,
    why: skipped.join("; "),
  };
}
