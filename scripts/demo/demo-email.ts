/**
 * The demo email `npm start` writes to build/email: the HTML and text parts point at the local `wrangler dev`
 * (their images and clicks work in a browser), the AMP part at an https origin, as AMP for Email requires (an
 * http amp-list does not validate): AMP_BASE_URL (an https tunnel to 127.0.0.1:8787, for a real mailbox), else
 * a placeholder to replace. So the AMP part validates as AMP4EMAIL as written.
 */
import { emailLinks } from "../../core/email-template";
import { renderTemplate } from "../email/render-email";

export const AMP_BASE_PLACEHOLDER = "https://opentime.example";

/** AMP_BASE_URL when it is an https origin, else the placeholder (with why, for the console). */
export function ampBase(env: string | undefined): { base: string; note: string | null } {
  if (!env) return { base: AMP_BASE_PLACEHOLDER, note: null };
  try {
    const url = new URL(env);
    if (url.protocol === "https:") return { base: url.origin, note: null };
  } catch {
    // falls through
  }
  return { base: AMP_BASE_PLACEHOLDER, note: `AMP_BASE_URL must be an https origin; using ${AMP_BASE_PLACEHOLDER}` };
}

export async function demoEmail(opts: { localBase: string; ampBase: string; token: string }) {
  const content = { headline: "Picked for you", shopName: "the opentime demo shop", count: 6 };
  const [local, amp] = await Promise.all([
    renderTemplate({
      ...content,
      shopUrl: `${opts.localBase}/`,
      ...emailLinks({ baseUrl: opts.localBase, token: opts.token, layout: "row" }),
    }),
    renderTemplate({
      ...content,
      shopUrl: `${opts.ampBase}/`,
      ...emailLinks({ baseUrl: opts.ampBase, token: opts.token, layout: "row" }),
    }),
  ]);
  return { amp: amp.amp, html: local.html, text: local.text };
}
