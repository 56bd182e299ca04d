/**
 * A link or picture URL from data (the model's catalog, live-catalog overlays, campaigns) resolved for serving:
 * http(s) only, and a URL that does not name its host (no scheme, no `//host`: a path on the shop's site or the
 * Worker's) stays on `base`'s origin. A URL parser reads `/\host` and `/<tab>/host` as another host; data stored
 * before the admin API refused such paths, or from a catalog, must not send a click or a picture fetch there.
 * Protocol-relative URLs (`//cdn.example/p.png`) name their host, and are served as before. Never throws.
 * Also: whether a URL's host is this machine (local development), or names a private network.
 */
const NAMES_HOST = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|\/\/)/;

/** Whether `hostname` (a URL's `hostname`: IPv6 in brackets) names this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

/**
 * Whether `hostname` (a URL's, as the URL parser normalized it: `10.1` reads `10.0.0.1`) names a private network, as
 * written (a best-effort check of literals and reserved names, not of where a name resolves): an IPv4 address in
 * 10/8, 172.16/12, 192.168/16, 169.254/16 (link-local, cloud metadata), 100.64/10 (shared), 0/8, or 127/8 but
 * 127.0.0.1; an IPv6 one in fc00::/7 or fe80::/10, or mapping such an IPv4 one; a name under `.internal`, `.local`,
 * `.localhost` or `.home.arpa`. This machine (isLoopbackHost) is not one: local development calls it.
 */
export function isPrivateNetworkHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (isLoopbackHost(host)) return false;
  if (/\.(internal|local|localhost|home\.arpa)$/.test(host)) return true;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) return privateV4(Number(v4[1]), Number(v4[2]));
  if (!host.startsWith("[")) return false;
  const v6 = host.slice(1, -1);
  // an IPv4 address mapped into IPv6 (the parser writes ::ffff:a.b.c.d as ::ffff:hhhh:hhhh)
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(v6);
  if (mapped) {
    const high = Number.parseInt(mapped[1] as string, 16);
    return privateV4(high >> 8, high & 0xff);
  }
  return /^f[cd][0-9a-f]{0,2}:/.test(v6) || /^fe[89ab][0-9a-f]?:/.test(v6);
}

function privateV4(a: number, b: number): boolean {
  return (
    a === 10 ||
    a === 0 ||
    a === 127 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b <= 127)
  );
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
