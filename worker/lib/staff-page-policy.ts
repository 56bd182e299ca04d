/**
 * The Content-Security-Policy of the staff HTML pages (the dashboard, the preview page), defence behind their
 * escaping: no script runs but the page's own, named by its SHA-256 (an injected `<script>` or `onerror=`
 * does not); nothing is fetched but from this origin (the preview's data routes); a form posts only here; no
 * plugin, no `<base>`. Styles inline (both pages and the emails the preview shows are styled inline) and
 * pictures from anywhere (the preview shows the email as a mail client would: catalog pictures are the shop's,
 * over http or https). The preview's email parts are `srcdoc` frames, which inherit this policy: no script
 * runs inside them either; a link clicked in one loads in it (the click route, then the product's page). lib/no-framing.ts adds `frame-ancestors 'none'`.
 */

/** `'sha256-<base64>'` of a script's text exactly as served between `<script>` and `</script>`. */
export async function scriptHash(source: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(source)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

export function staffPagePolicy(scriptHashes: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `script-src ${scriptHashes.length > 0 ? scriptHashes.join(" ") : "'none'"}`,
    "style-src 'unsafe-inline'",
    "img-src http: https: data:",
    "connect-src 'self'",
    // the preview's email frames follow their links: a click, then the product it leads to (the shop's)
    "frame-src 'self' http: https:",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join("; ");
}
