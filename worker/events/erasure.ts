/** Erasure tombstones: a keyed hash of the user id (never the id itself) marks an erased user for a while. */
import { kvKeys } from "../../core/kv-keys";

export async function userHash(secret: string, userId: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret || "opentime"),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`erasure:${userId}`)));
  return Array.from(mac.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function isErased(kv: KVNamespace, secret: string, userId: string): Promise<boolean> {
  return (await kv.get(kvKeys.erasure(await userHash(secret, userId)))) !== null;
}
