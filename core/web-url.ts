/**
 * A link or picture URL from data (the model's catalog, live-catalog overlays, campaigns) resolved for serving:
 * http(s) only, and a URL that does not name its host (no scheme, no `//host`: a path on the shop's site or the
 * Worker's) stays on `base`'s origin. A URL parser reads `/\host` and `/<tab>/host` as another host; data stored
 * before the admin API refused such paths, or from a catalog, must not send a click or a picture fetch there.
 * Protocol-relative URLs (`//cdn.example/p.png`) name their host, and are served as before. Never throws.
 * Also: whether a URL's host is this machine (local development).
 */
const NAMES_HOST = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|\/\/)/;

/** Whether `hostname` (a URL's `hostname`: IPv6 in brackets) names this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

export function webUrl(url: string, base: string): URL | null {
  try {
    const resolved = new URL(url, base);
    if (resolved.protocol !== "https:" && resolved.protocol !== "http:") return null;
    if (!NAMES_HOST.test(url) && resolved.origin !== new URL(base).origin) return null;
    return resolved;
  } catch {
    return null;
  }
}
