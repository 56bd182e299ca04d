/**
 * A block's copy: headline, subline, call to action and badge, each a mustache template over a closed set of
 * names (the item the copy sits with, and a countdown's time left), checked when the campaign is saved and
 * rendered at the open as plain text. The block's conditions decide who gets which words; the words never
 * carry the reader's own data (their segment, scores, purchases), so nothing private reaches an image anyone
 * holding the email can fetch, a stored decision, or an ESP's columns. The same rendering feeds the AMP list's
 * JSON, the open-time image's card and the text part (decided at send). Pure.
 */
import Mustache from "mustache";
import { z } from "zod";
import type { CatalogItem } from "./catalog";
import { cutWhole } from "./cut-text";
import { hasControlCharacter } from "./events";

/** The names a copy template can use: `item` only as a section (`{{#item}}...{{/item}}`). */
export const COPY_VARIABLES = ["item.title", "item.price", "item.category", "item", "timeLeft"] as const;
const KNOWN = new Set<string>(COPY_VARIABLES);

/** Longest rendered text per field (a template may expand past its own length: titles). */
export const COPY_LIMITS = { headline: 120, subline: 200, cta: 30, badge: 16 } as const;
export type CopyField = keyof typeof COPY_LIMITS;
export const COPY_FIELDS = Object.keys(COPY_LIMITS) as CopyField[];

type Token = [string, string, number, number, Token[]?, ...unknown[]];

/** The names a template uses, or why it is not a template. A throwaway parser: refused templates are not cached. */
function tokensOf(template: string): Token[] | string {
  try {
    return new Mustache.Writer().parse(template) as unknown as Token[];
  } catch (e) {
    return `not a mustache template: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** What is wrong with a template (its first problem), or null: syntax, partials, delimiters, unknown names. */
export function copyTemplateProblem(template: string): string | null {
  const tokens = tokensOf(template);
  if (typeof tokens === "string") return tokens;
  const walk = (list: Token[]): string | null => {
    for (const [type, value, , , children] of list) {
      if (type === "text" || type === "!") continue;
      if (type === ">") return `partials ({{> ${value}}}) are not available`;
      if (type === "=") return "delimiters cannot be changed";
      if (!KNOWN.has(value)) return `unknown variable "${value}" (known: ${COPY_VARIABLES.join(", ")})`;
      if (value === "item" && type !== "#" && type !== "^") return "item is a section: {{#item}}...{{/item}}";
      if (children) {
        const inner = walk(children);
        if (inner) return inner;
      }
    }
    return null;
  };
  return walk(tokens);
}

/** Whether a template names `timeLeft` (only a countdown block has one). */
export function namesTimeLeft(template: string): boolean {
  const tokens = tokensOf(template);
  const walk = (list: Token[]): boolean =>
    list.some(
      ([type, value, , , children]) => (type !== "text" && value === "timeLeft") || (children ? walk(children) : false),
    );
  return typeof tokens !== "string" && walk(tokens);
}

/**
 * A block's `copy`: every field optional; a field left out (or rendering empty) is not shown. The shape only:
 * the admin API checks the templates (copyTemplateProblem, core/campaign.ts), while a stored campaign whose
 * template a later version would refuse is still served (an unknown name renders empty).
 */
export const BlockCopySchema = z.strictObject({
  headline: z.string().min(1).max(300).optional(),
  subline: z.string().min(1).max(400).optional(),
  cta: z.string().min(1).max(100).optional(),
  badge: z.string().min(1).max(100).optional(),
});
export type BlockCopy = z.infer<typeof BlockCopySchema>;

/** Copy as rendered for one item (fields that rendered empty are absent). */
export type RenderedCopy = Partial<Record<CopyField, string>>;

export interface CopyContext {
  /** the item the copy goes with (the slot's in an image, the first of the list in the AMP part); null: unknown */
  item: (Pick<CatalogItem, "title" | "category"> & { price: string }) | null;
  /**
   * a countdown's time left as text (`2d 03:04:05`; empty after the deadline); null: a countdown read at a time
   * not known (the text part, written at the send): `{{timeLeft}}` is empty and neither `{{#timeLeft}}` nor
   * `{{^timeLeft}}` shows, since either would say which side of the deadline the reader is on; absent: not a
   * countdown
   */
  timeLeft?: string | null;
}

/**
 * A time left not known: a mustache lambda that renders its section as nothing (and, being there, no inverted
 * section), and prints as nothing where named as a variable.
 */
const UNKNOWN_TIME_LEFT = Object.assign(() => "", { toString: () => "" });

/**
 * One line of plain text: whitespace runs collapsed, control characters dropped, lone surrogates written U+FFFD, cut
 * at `max` with an ellipsis.
 */
function oneLine(text: string, max: number): string {
  let spaced = "";
  // a lone surrogate has no UTF-8 form: U+FFFD, as core/escape-xml.ts writes it for the card
  for (const ch of text.toWellFormed()) spaced += hasControlCharacter(ch) ? " " : ch;
  const line = spaced.replace(/\s+/g, " ").trim();
  if (line.length <= max) return line;
  return `${cutWhole(line, max - 1).trimEnd()}…`;
}

/** Parsed templates are kept by one writer, cleared past this many (campaigns are edited, isolates live long). */
const MAX_CACHED_TEMPLATES = 2_000;
const writer = new Mustache.Writer();
const cached = new Set<string>();

/** Renders the copy's fields as plain text (no escaping here: each medium escapes for itself). */
export function renderCopy(copy: BlockCopy | undefined, context: CopyContext): RenderedCopy {
  if (!copy) return {};
  // a view without a prototype: a stored template naming `constructor` finds nothing
  const view: Record<string, unknown> = Object.create(null);
  if (context.item)
    view.item = { title: context.item.title, price: context.item.price, category: context.item.category };
  // (mustache calls a function it looks up: this one hands back the lambda)
  if (context.timeLeft === null) view.timeLeft = () => UNKNOWN_TIME_LEFT;
  else if (context.timeLeft !== undefined) view.timeLeft = context.timeLeft;
  const out: RenderedCopy = {};
  for (const field of COPY_FIELDS) {
    const template = copy[field];
    if (!template) continue;
    if (!cached.has(template)) {
      if (cached.size >= MAX_CACHED_TEMPLATES) {
        writer.clearCache();
        cached.clear();
      }
      cached.add(template);
    }
    let text: string;
    try {
      text = writer.render(template, view, undefined, { escape: (s: unknown) => String(s) });
    } catch {
      continue; // checked when saved; a stored template that no longer renders shows nothing
    }
    const line = oneLine(text, COPY_LIMITS[field]);
    if (line) out[field] = line;
  }
  return out;
}
