/**
 * The email's three parts (AMP, HTML, text) rendered from mustache templates with `[[ ]]` delimiters, so
 * the `{{ }}` of the AMP part's client-side amp-mustache templates pass through untouched. Shared by the
 * email builder (scripts/email) and the Worker's preview page; templates are passed in as strings.
 */
import Mustache from "mustache";
import { escapeXml } from "./escape-xml";
import { LAYOUTS, type LayoutName, layoutSlots, slotKey, slotName } from "./layouts";

const TAGS: [string, string] = ["[[", "]]"];

export interface EmailTemplates {
  amp: string;
  html: string;
  text: string;
}

export interface ImageSlotView {
  /** the open-time image (retina by default: drawn at 2x, shown at `width` x `height`) */
  imageUrl: string;
  /** the click-through that follows what the image showed */
  clickUrl: string;
  width: number;
  height: number;
  slot: string;
  /**
   * the picture's alt text: what a reader with images blocked (Outlook's default) sees in its box, and the
   * name a screen reader gives its link; the product is chosen at the open, so it says which pick it is
   */
  alt: string;
}

export interface EmailView {
  /** the preview text mail clients show after the subject (hidden in the HTML part); none when null */
  preheader?: string | null;
  /**
   * invisible filler after the preheader, so the inbox preview stops at it instead of running on into the
   * email's first words (default: on); off for an ESP part whose preheader merge tag is empty for some
   * recipients, whose preview the filler would leave blank
   */
  padPreheader?: boolean;
  /**
   * the shop's unsubscribe link for this reader (https: or mailto:), linked in each part's footer; none when
   * null or absent (an ESP adds its own)
   */
  unsubscribeUrl?: string | null;
  headline: string;
  /**
   * the text part's block copy (core/block-copy.ts), chosen at send time: the text part cannot change at the
   * open; none when null or absent
   */
  blockHeadline?: string | null;
  blockSubline?: string | null;
  /** the call to action as a whole line: `See it: <the first slot's click URL>` */
  blockCtaLine?: string | null;
  shopName: string;
  shopUrl: string;
  /** the amp-list endpoint, token included (https for a real send) */
  recsUrl: string;
  /** the amp-form preferences endpoint, token included */
  preferencesUrl: string;
  /** items the AMP list shows */
  count: number;
  /** the open-time image block of the HTML part (and the links of the text part) */
  layout: LayoutName;
  slots: ImageSlotView[];
}

export interface EmailLinksInput {
  /** the Worker's public origin, e.g. https://opentime.shop.example */
  baseUrl: string;
  /** a signed token, or an ESP merge tag that becomes one per recipient */
  token: string;
  layout: LayoutName;
  retina?: boolean;
  count?: number;
}

/** Every URL one recipient's email needs. Tokens are URL-safe (base64url and `.`), merge tags are left as they are. */
export function emailLinks(input: EmailLinksInput): Pick<EmailView, "recsUrl" | "preferencesUrl" | "slots" | "layout"> {
  const base = input.baseUrl.replace(/\/+$/, "");
  const retina = input.retina ?? true;
  const { width, height } = LAYOUTS[input.layout];
  const slots = layoutSlots(input.layout);
  return {
    layout: input.layout,
    recsUrl: `${base}/v1/amp/recs?t=${input.token}&n=${input.count ?? 6}`,
    preferencesUrl: `${base}/v1/amp/preferences?t=${input.token}`,
    slots: slots.map((s) => ({
      slot: slotKey(s),
      alt: slots.length === 1 ? "Recommended for you" : `Recommended for you: pick ${s.index + 1} of ${slots.length}`,
      imageUrl: `${base}/v1/img/${input.token}/${slotName({ ...s, scale: retina ? 2 : 1 })}.png`,
      clickUrl: `${base}/v1/c/${input.token}/${slotKey(s)}`,
      width,
      height,
    })),
  };
}

/** Rows of slots for table layouts: the grid is two rows of two, the others one row. */
function rows(view: EmailView): { cells: ImageSlotView[] }[] {
  const perRow = view.layout === "grid" ? 2 : view.slots.length;
  const out: { cells: ImageSlotView[] }[] = [];
  for (let i = 0; i < view.slots.length; i += perRow) out.push({ cells: view.slots.slice(i, i + perRow) });
  return out;
}

export function renderEmail(templates: EmailTemplates, view: EmailView): EmailTemplates {
  const data = {
    ...view,
    padPreheader: view.padPreheader ?? true,
    rows: rows(view),
    blockCopy: Boolean(view.blockHeadline || view.blockSubline),
  };
  return {
    amp: Mustache.render(templates.amp, data, {}, { tags: TAGS, escape: escapeXml }),
    html: Mustache.render(templates.html, data, {}, { tags: TAGS, escape: escapeXml }),
    text: Mustache.render(templates.text, data, {}, { tags: TAGS, escape: (s: string) => s }),
  };
}
