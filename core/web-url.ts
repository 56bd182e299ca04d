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
 * 127.0.0.1; an IPv6 one in fc00::/7, fe80::/10, fec0::/10 or ff00::/8, `::`, the local-use NAT64 prefix
 * 64:ff9b:1::/48, Teredo's 2001::/32, or one that carries such an IPv4 one (mapped `::ffff:a.b.c.d`, translated
 * `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`); a name under
 * `.internal`, `.local`, `.localhost` or `.home.arpa`. This machine (isLoopbackHost) is not one: local development
 * calls it.
 */
export function isPrivateNetworkHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (isLoopbackHost(host)) return false;
  if (/\.(internal|local|localhost|home\.arpa)$/.test(host)) return true;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) return privateV4(Number(v4[1]), Number(v4[2]));
  if (!host.startsWith("[")) return false;
  const groups = ipv6Groups(host.slice(1, -1));
  if (!groups) return false;
  const [g0, g1, g2, g3, g4, g5, g6] = groups as [number, number, number, number, number, number, number];
  const v4Tail = () => privateV4(g6 >> 8, g6 & 0xff);
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(8)) return true; // `::`, the unspecified address: this machine on most systems
  if (zeroTo(5) && g5 === 0xffff) return v4Tail(); // IPv4-mapped, ::ffff:a.b.c.d
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return v4Tail(); // IPv4-translated (SIIT), ::ffff:0:a.b.c.d
  if (zeroTo(6)) return v4Tail(); // IPv4-compatible, ::a.b.c.d (::1 is this machine, taken above)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true; // local-use NAT64, 64:ff9b:1::/48
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4Tail(); // NAT64
  if (g0 === 0x2002) return privateV4(g1 >> 8, g1 & 0xff); // 6to4 through the IPv4 address in groups 2-3
  if (g0 === 0x2001 && g1 === 0) return true; // Teredo: a tunnel to an IPv4 client (any, private too), no webhook host
  // unique local, link-local, site-local (deprecated, still routed inside some networks), multicast
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || g0 >= 0xff00;
}

/** The eight 16-bit groups of an IPv6 address as the URL parser writes it (hex, `::` at most once), or null. */
function ipv6Groups(address: string): number[] | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const part = (text: string | undefined) => (text ? text.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
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
