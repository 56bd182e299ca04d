/**
 * The AMP part's static view for the preview page: the amp-list replaced by its own amp-mustache template
 * rendered with the JSON the endpoint returned, AMP scripts removed, amp-img shown as img. What a reader
 * sees once the AMP runtime has run, without needing the runtime (or a network) in the preview.
 */
import Mustache from "mustache";
import type { AmpRecsResponse } from "../../core/amp-list";

const LIST = /<amp-list\b([^>]*)>([\s\S]*?)<\/amp-list>/;
const ITEM_TEMPLATE = /<template type="amp-mustache">([\s\S]*?)<\/template>/;

/**
 * `single-item items="."` (this repository's template): the template renders the whole answer once; a
 * template of items (`items="items"`, emails built before block copy) renders each item.
 */
export function ampStaticView(ampDocument: string, body: AmpRecsResponse): string {
  const list = LIST.exec(ampDocument);
  const template = list ? ITEM_TEMPLATE.exec(list[2] as string)?.[1] : undefined;
  let doc = ampDocument;
  if (list && template) {
    // one list item per item, as amp-list renders them: the whole answer is its single item
    const whole = /\bsingle-item\b/.test(list[1] as string);
    const cards = (whole ? [Mustache.render(template, body)] : body.items.map((it) => Mustache.render(template, it)))
      .map((card) => `<div role="listitem">${card}</div>`)
      .join("\n");
    // a function, not a string: a replacement string reads `$$` in the items' words as `$`
    doc = doc.replace(list[0], () => `<div class="recs"><div role="list">${cards}</div></div>`);
  }
  return doc
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, "")
    .replace(/<style amp4email-boilerplate>[\s\S]*?<\/style>/, "")
    .replace(/<amp-img\b([^>]*)>\s*<\/amp-img>/g, '<img$1 style="width:100%;height:auto;display:block">')
    .replace(/<div (submit-success|submit-error)>[\s\S]*?<\/div>/g, "")
    .replace(/action-xhr=/g, "data-action-xhr=");
}
