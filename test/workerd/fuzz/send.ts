/**
 * Turns a generated request into a real one (tokens signed with the test secret or forged, header values
 * as HTTP carries them), sends it to the Worker with its execution context, and reads the whole answer.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { bytesToBase64Url } from "../../../core/base64";
import { mintToken, verifyToken } from "../../../core/token";
import worker from "../../../worker/index";
import { TEST_TOKEN_SECRET } from "../fixture";
import { enc, type RequestSpec, type TokenSpec, wellFormed, wireHeaderValue } from "./arbitraries";

export const ORIGIN = "https://opentime.test";
const OTHER_SECRET = "not-the-worker-secret-0123456789abcdef";
const utf8 = new TextEncoder();

const keys = new Map<string, Promise<CryptoKey>>();
async function hmac(secret: string, body: string): Promise<string> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return bytesToBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", await key, utf8.encode(body))));
}

/** A token in the wire format of core/token.ts, over any claims text: what an old or foreign minter could sign. */
async function signClaims(secret: string, claims: string): Promise<string> {
  const body = bytesToBase64Url(utf8.encode(wellFormed(claims)));
  return `${body}.${await hmac(secret, body)}`;
}

/** mintToken where it accepts the claims; signed by hand where it refuses them (the Worker must survive both). */
async function mint(secret: string, user: string, campaign: string, ttlSeconds: number): Promise<string> {
  try {
    return await mintToken(secret, { user, campaign, ttlSeconds });
  } catch {
    const claims = { u: user, c: campaign, e: Math.floor(Date.now() / 1000) + ttlSeconds, v: 1 };
    return signClaims(secret, JSON.stringify(claims));
  }
}

export async function materialize(spec: TokenSpec): Promise<string> {
  switch (spec.kind) {
    case "valid":
      return mint(TEST_TOKEN_SECRET, spec.user, spec.campaign, 3600);
    case "expired":
      return mint(TEST_TOKEN_SECRET, spec.user, spec.campaign, -60);
    case "forged":
      return mint(OTHER_SECRET, spec.user, spec.campaign, 3600);
    case "truncated": {
      const t = await mint(TEST_TOKEN_SECRET, spec.user, spec.campaign, 3600);
      return t.slice(0, spec.keep % Math.max(1, t.length));
    }
    case "tampered": {
      const t = await mint(TEST_TOKEN_SECRET, spec.user, spec.campaign, 3600);
      const claims = { u: spec.as, c: spec.campaign, e: Math.floor(Date.now() / 1000) + 3600, v: 1 };
      return `${bytesToBase64Url(utf8.encode(wellFormed(JSON.stringify(claims))))}.${t.split(".")[1]}`;
    }
    case "signed-claims":
      return signClaims(TEST_TOKEN_SECRET, spec.claims);
    case "raw":
      return spec.text;
    case "none":
      return "";
  }
}

export interface Outcome {
  spec: RequestSpec;
  /** the URL the Worker saw (dot segments resolved, unicode percent-encoded) */
  url: URL;
  method: string;
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** the token verifies with the Worker's secret (core/token.ts is the oracle) */
  tokenOk: boolean;
  /** the request text the Worker got, for failure reports */
  threw?: string;
}

/** Places the token in the path: as is (`?` and `#` escaped, so the route stays the same) or percent-encoded. */
function place(spec: RequestSpec, token: string): string {
  if (!spec.path.includes("{token}")) return spec.path;
  const text = spec.tokenEncoding === "component" ? enc(token) : wellFormed(token).replace(/[?#%]/g, enc);
  return spec.path.replace("{token}", () => text);
}

/** Builds and sends one request; null when the platform cannot even construct it (counted, not sent). */
export async function send(spec: RequestSpec): Promise<Outcome | null> {
  const token = spec.token ? await materialize(spec.token) : "";
  const tokenOk = spec.token ? (await verifyToken([TEST_TOKEN_SECRET], token)).ok : false;
  const headers = new Headers();
  const warn = console.warn;
  console.warn = () => undefined;
  for (const [name, value] of spec.headers) {
    try {
      headers.append(name, wireHeaderValue(value));
    } catch {
      // a value HTTP cannot carry: it never reaches a Worker
    }
  }
  console.warn = warn;
  let req: Request;
  try {
    req = new Request(`${ORIGIN}${place(spec, token)}`, {
      method: spec.method,
      headers,
      body: spec.body,
      redirect: "manual",
    });
  } catch {
    return null;
  }
  const url = new URL(req.url);
  const ctx = createExecutionContext();
  try {
    const res = await worker.fetch(req, env, ctx);
    const body = new Uint8Array(await res.arrayBuffer());
    await waitOnExecutionContext(ctx);
    return { spec, url, method: spec.method, status: res.status, headers: res.headers, body, tokenOk };
  } catch (e) {
    await waitOnExecutionContext(ctx).catch(() => undefined);
    const threw = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return {
      spec,
      url,
      method: spec.method,
      status: 500,
      headers: new Headers(),
      body: new Uint8Array(),
      tokenOk,
      threw,
    };
  }
}
