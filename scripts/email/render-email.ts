/** Renders the recommendations email's three parts (AMP, HTML, text) from amp-templates/. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import Mustache from "mustache";
import type { AmpItem } from "../../core/catalog";

/** Build-time delimiters; `{{ }}` stays for amp-mustache, which renders in the mail client. */
const TAGS: [string, string] = ["[[", "]]"];
export const TEMPLATE_DIR = "amp-templates";
const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Escapes only what HTML needs; mustache's default also rewrites `/` and `=`, which mangles URLs for link trackers. */
const escapeHtml = (s: unknown) => String(s).replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] as string);

export interface RecsEmailInput {
  headline: string;
  /** the amp-list endpoint, token included (https for a real send) */
  recsUrl: string;
  /** the amp-form preferences endpoint, token included */
  preferencesUrl: string;
  count: number;
  shopUrl: string;
  shopName: string;
  /** items for the static HTML and text parts (what is known at send time) */
  items: Pick<AmpItem, "title" | "price" | "image" | "url">[];
}

export interface RenderedEmail {
  amp: string;
  html: string;
  text: string;
}

export async function renderRecsEmail(input: RecsEmailInput, dir = TEMPLATE_DIR): Promise<RenderedEmail> {
  const [amp, html, text] = await Promise.all(
    ["recs-email.amp.html", "recs-email.html", "recs-email.txt"].map((f) => readFile(join(dir, f), "utf8")),
  );
  const view = { ...input, items: input.items.slice(0, 3) };
  return {
    amp: Mustache.render(amp as string, view, {}, { tags: TAGS, escape: escapeHtml }),
    html: Mustache.render(html as string, view, {}, { tags: TAGS, escape: escapeHtml }),
    text: Mustache.render(text as string, view, {}, { tags: TAGS, escape: (s: string) => s }),
  };
}
