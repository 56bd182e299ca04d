/**
 * Up to 50 user ids that have a profile or model features in KV, for the preview's user picker. User ids may
 * contain ':' (core/kv-keys.ts): a profile key's id is all of what follows `profile:`, a features key's is what
 * lies between `features:` and its model version (which never contains ':'). Only ids the preview can mint a token
 * for (core/events.ts UserIdSchema): one an earlier version stored shaped like an address (HeldUserIdSchema), or a
 * model's features under an id the events API refuses, would fail the whole blocks table (mintToken throws) and
 * could not be shown (the email's query refuses it).
 */
import { UserIdSchema } from "../../core/events";

const MAX_USERS = 50;

const PREFIXES = {
  "profile:": (rest: string) => rest,
  "features:": (rest: string) => rest.slice(0, Math.max(0, rest.lastIndexOf(":"))),
} as const;

export async function listUsers(kv: KVNamespace): Promise<string[]> {
  const ids = new Set<string>();
  for (const [prefix, userOf] of Object.entries(PREFIXES)) {
    const page = await kv.list({ prefix, limit: MAX_USERS });
    for (const k of page.keys) {
      const user = userOf(k.name.slice(prefix.length));
      if (user && UserIdSchema.safeParse(user).success) ids.add(user);
    }
    if (ids.size >= MAX_USERS) break;
  }
  return [...ids].sort().slice(0, MAX_USERS);
}
