/**
 * A link or picture URL from data (the model's catalog, live-catalog overlays, campaigns) resolved for serving:
 * http(s) only, and a URL written without a scheme (a path on the shop's site or the Worker's) stays on `base`'s
 * origin. A URL parser reads `/\host`, `/<tab>/host` and `//host` as another host; data stored before the
 * admin API refused such paths, or from a catalog, must not send a click or a picture fetch there. Never throws.
 */
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export function webUrl(url: string, base: string): URL | null {
  try {
    const resolved = new URL(url, base);
    if (resolved.protocol !== "https:" && resolved.protocol !== "http:") return null;
    if (!HAS_SCHEME.test(url) && resolved.origin !== new URL(base).origin) return null;
    return resolved;
  } catch {
    return null;
  }
}
