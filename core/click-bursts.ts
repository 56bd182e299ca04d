/**
 * Bursts of clicks on one email: a person who clicks a product in an email leaves it for the shop, while a link
 * scanner (Safe Links, URL Defense, ...) follows every link of it within about a second, often all at once. Clicks
 * of one send on different slots that close together are a scanner's, however browser-like each looks. Pure: the
 * reader's shard decides with it, over the clicks of the send it recorded (worker/state/clicks-table.ts).
 */
import type { ScannerReason } from "./reasons";

/**
 * The span (ms, both ends included) within which clicks on different slots of one email make a burst. Scanners
 * that fetch an email's links in parallel do so within a few hundred milliseconds. A person must move to another
 * product and click it again (a ctrl-click, to keep the email in view): about half a second at the very least
 * each, so three different products within a second is beyond a shopper, and two is rare. Short on purpose: a
 * reader's clicks wrongly dropped cost more than a scanner's kept, so a scanner that follows the links one by one
 * more slowly is not caught this way (README, Scanner clicks).
 */
export const BURST_WINDOW_MS = 1000;
/** Different slots of one email clicked within BURST_WINDOW_MS: a scanner, whoever sent the requests. */
export const BURST_SLOTS = 3;
/**
 * Different slots within BURST_WINDOW_MS when one of the clicks is suspect (from a network scanners run in, or
 * with no user agent: worker/decisions/classify-click.ts). Suspect alone is not enough: people browse from
 * Microsoft's, Google's and Amazon's networks too (virtual desktops, Cloud PCs, security vendors' browser
 * isolation), and a privacy proxy may strip the user agent; clicking two products within a second as well, rarely.
 */
export const SUSPECT_BURST_SLOTS = 2;

export interface ClickMark {
  slot: string;
  /** when the click reached the edge (unix ms) */
  ms: number;
  suspect: boolean;
}

/**
 * Which clicks of one send are in a burst, and which rule found it (null: none): a click is when some span of
 * BURST_WINDOW_MS holding it holds clicks on BURST_SLOTS different slots (`burst`), or on SUSPECT_BURST_SLOTS
 * with a suspect click among them (`suspect-burst`). `marks` in any order; the answer in the same order.
 */
export function burstReasons(marks: readonly ClickMark[]): (ScannerReason | null)[] {
  const out: (ScannerReason | null)[] = marks.map(() => null);
  const order = marks.map((_, i) => i).sort((a, b) => (marks[a] as ClickMark).ms - (marks[b] as ClickMark).ms);
  // every span that matters starts at one of the clicks: the earliest click it holds
  for (let start = 0; start < order.length; start++) {
    const from = (marks[order[start] as number] as ClickMark).ms;
    const members: number[] = [];
    for (let k = start; k < order.length; k++) {
      const i = order[k] as number;
      if ((marks[i] as ClickMark).ms - from > BURST_WINDOW_MS) break;
      members.push(i);
    }
    const slots = new Set(members.map((i) => (marks[i] as ClickMark).slot)).size;
    const suspect = members.some((i) => (marks[i] as ClickMark).suspect);
    const reason: ScannerReason | null =
      slots >= BURST_SLOTS ? "burst" : slots >= SUSPECT_BURST_SLOTS && suspect ? "suspect-burst" : null;
    if (reason === null) continue;
    for (const i of members) if (out[i] !== "burst") out[i] = reason;
  }
  return out;
}
