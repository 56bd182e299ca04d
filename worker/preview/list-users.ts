/** Up to 50 user ids that have a profile or model features in KV, for the preview's user picker. */

const MAX_USERS = 50;

export async function listUsers(kv: KVNamespace): Promise<string[]> {
  const ids = new Set<string>();
  for (const prefix of ["profile:", "features:"]) {
    const page = await kv.list({ prefix, limit: MAX_USERS });
    for (const k of page.keys) ids.add(k.name.slice(prefix.length).split(":")[0] as string);
    if (ids.size >= MAX_USERS) break;
  }
  return [...ids].sort().slice(0, MAX_USERS);
}
