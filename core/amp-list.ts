/**
 * The answer of the amp-list endpoint (`GET /v1/amp/recs`), as AMP emails read it: their templates read
 * `items`, or the whole answer with `single-item items="."` (block copy). Emails already sent keep reading it,
 * so its keys only ever grow. Shared by the Worker's route and preview, and by tests.
 */
import type { Block } from "./campaign";
import type { AmpItem } from "./catalog";

export interface AmpRecsResponse {
  /** each with the block's `badge` and `cta` rendered for it (core/block-copy.ts) when it has them */
  items: AmpItem[];
  /** the campaign's block served (a template can switch on its type); absent when the answer failed */
  block?: { id: string; type: Block["type"] };
  /** the block's headline and subline, rendered for its first item; absent when it has none */
  copy?: { headline?: string; subline?: string };
}
