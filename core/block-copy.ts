/**
 * A block's copy: headline, subline, call to action and badge, each a mustache template over a closed set of
 * variables (COPY_VARIABLES: the item the copy sits with, the countdown's time left, and the condition facts
 * of core/conditions.ts), checked when the campaign is saved and rendered at the open as plain text. The same
 * rendering feeds the AMP list's JSON, the open-time image's card and the text part (decided at send). Pure.
 */
import Mustache from "mustache";
import { z } from "zod";
import type { CatalogItem } from "./catalog";
import { FACT_NAMES, type Fact, type Facts } from "./conditions";
import { hasControlCharacter } from "./events";

/** The variables a copy template can name, besides the facts. */
const ITEM_VARIABLES = ["item", "item.title", "item.price", "item.category"] as const;
const OTHER_VARIABLES = ["timeLeft"] as const;
export const COPY_VARIABLES: readonly string[] = [...ITEM_VARIABLES, ...OTHER_VARIABLES, ...FACT_NAMES];
const KNOWN = new Set<string>(COPY_VARIABLES);

/** Longest rendered text per field (a template may expand past its own length: titles, lists). */
export const COPY_LIMITS = { headline: 120, subline: 200, cta: 30, badge: 16 } as const;
export type CopyField = keyof typeof COPY_LIMITS;
export const COPY_FIELDS = Object.keys(COPY_LIMITS) as CopyField[];

type Token = [string, string, number, number, Token[]?, ...unknown[]];

/** What is wrong with a template (its first problem), or null: syntax, partials, delimiters, unknown names. */
export function copyTemplateProblem(template: string): string | null {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(template) as unknown as Token[];
  } catch (e) {
    return `not a mustache template: ${e instanceof Error ? e.message : String(e)}`;
  }
  const walk = (list: Token[], inSection: boolean): string | null => {
    for (const [type, value, , , children] of list) {
      if (type === "text" || type === "!") continue;
      if (type === ">") return `partials ({{> ${value}}}) are not available`;
      if (type === "=") return "delimiters cannot be changed";
      const known = KNOWN.has(value) || (inSection && value === ".");
      if (!known) return `unknown variable "${value}" (known: ${COPY_VARIABLES.join(", ")})`;
      if ((type === "#" || type === "^") && children) {
        const inner = walk(children, inSection || type === "#");
        if (inner) return inner;
      }
    }
    return null;
  };
  return walk(tokens, false);
}

const copyTemplate = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((t, ctx) => {
      const problem = copyTemplateProblem(t);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

/** A block's `copy`: every field optional; a field left out (or rendering empty) is not shown. */
export const BlockCopySchema = z.strictObject({
  headline: copyTemplate(300).optional(),
  subline: copyTemplate(400).optional(),
  cta: copyTemplate(100).optional(),
  badge: copyTemplate(100).optional(),
});
export type BlockCopy = z.infer<typeof BlockCopySchema>;

/** Copy as rendered for one item (fields that rendered empty are absent). */
export type RenderedCopy = Partial<Record<CopyField, string>>;

/** The facts the copy's templates name: gathered for the open like the facts conditions test. */
export function copyFacts(copy: BlockCopy | undefined, into = new Set<Fact>()): Set<Fact> {
  if (!copy) return into;
  const facts = new Set<string>(FACT_NAMES);
  const walk = (list: Token[]) => {
    for (const [type, value, , , children] of list) {
      if (facts.has(value) && type !== "text" && type !== "!") into.add(value as Fact);
      if (children) walk(children);
    }
  };
  for (const field of COPY_FIELDS) {
    const template = copy[field];
    if (template) walk(Mustache.parse(template) as unknown as Token[]);
  }
  return into;
}

export interface CopyContext {
  /** the item the copy goes with: the slot's in an image, the first of the list in the AMP part */
  item: (Pick<CatalogItem, "title" | "category"> & { price: string }) | null;
  /** the open's known facts (unknown ones are absent: they render empty, and their sections are skipped) */
  facts: Facts;
  /** a countdown's time left as text (`2d 03:04:05`) */
  timeLeft?: string;
}

/** One line of plain text: whitespace runs collapsed, control characters dropped, cut at `max` with an ellipsis. */
function oneLine(text: string, max: number): string {
  let spaced = "";
  for (const ch of text) spaced += hasControlCharacter(ch) ? " " : ch;
  const line = spaced.replace(/\s+/g, " ").trim();
  if (line.length <= max) return line;
  // never half of a surrogate pair
  const end = /[\ud800-\udbff]/.test(line.charAt(max - 2)) ? max - 2 : max - 1;
  return `${line.slice(0, end).trimEnd()}…`;
}

/** Renders the copy's fields as plain text (no escaping here: each medium escapes for itself). */
export function renderCopy(copy: BlockCopy | undefined, context: CopyContext): RenderedCopy {
  if (!copy) return {};
  const view: Record<string, unknown> = {};
  for (const [fact, value] of Object.entries(context.facts)) {
    if (value !== null && value !== undefined) view[fact] = value;
  }
  if (context.item) view.item = context.item;
  if (context.timeLeft !== undefined) view.timeLeft = context.timeLeft;
  const out: RenderedCopy = {};
  for (const field of COPY_FIELDS) {
    const template = copy[field];
    if (!template) continue;
    let text: string;
    try {
      text = Mustache.render(template, view, {}, { escape: (s: unknown) => String(s) });
    } catch {
      continue; // checked when saved; a stored template that no longer renders shows nothing
    }
    const line = oneLine(text, COPY_LIMITS[field]);
    if (line) out[field] = line;
  }
  return out;
}
