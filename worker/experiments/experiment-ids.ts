/**
 * The stored experiments' ids a page at a time, in id order (the admin API's list, the dashboard): the
 * registry's (strongly consistent) with any KV holds that it has not adopted (from before the registry), each
 * source read past the page's start and merged. A page's cursor is its last id.
 */
import type { ExperimentRegistry } from "../state/experiment-registry";
import { listExperimentIds } from "./experiment-store";

export interface ExperimentIdPage {
  ids: string[];
  /** where the next page starts (after this id); null on the last page */
  cursor: string | null;
}

export async function experimentIdPage(
  kv: KVNamespace | undefined,
  registry: DurableObjectStub<ExperimentRegistry> | null,
  limit: number,
  after = "",
): Promise<ExperimentIdPage> {
  // one more than the page from each: whether more follow
  const [registered, listed] = await Promise.all([
    registry ? registry.ids(limit + 1, after) : [],
    // a deploy without the KV binding (the dashboard still shows): the registry's alone, KV holding none
    kv ? listExperimentIds(kv, limit + 1, after) : [],
  ]);
  const merged = [...new Set([...registered, ...listed])].sort();
  const ids = merged.slice(0, limit);
  return { ids, cursor: merged.length > limit ? (ids[ids.length - 1] as string) : null };
}
