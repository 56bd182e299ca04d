/**
 * The triggers configuration (core/triggers.ts) from KV (`triggers:config`, written by the admin API only),
 * cached per isolate for 30 seconds. Missing: no triggers; unreadable or invalid (written by another version,
 * a rollback): the last one known, or unknown (logged), so nothing is scheduled or cancelled by it.
 */
import { kvKeys } from "../../core/kv-keys";
import { NO_TRIGGERS, type TriggersConfig, TriggersConfigSchema } from "../../core/triggers";
import { errorMessage, logEvent } from "../lib/log";
import { describeIssues } from "../lib/zod-issues";

const TTL_MS = 30_000;
let cached: { at: number; config: TriggersConfig } | null = null;

export function resetTriggersCache(): void {
  cached = null;
}

/**
 * The stored configuration, uncached; null when it does not parse, as JSON or as a configuration (logged, never
 * its text: webhook URLs may hold keys). A KV failure throws, as KV threw it (the admin GET answers it as every
 * route does: worker/errors.ts, its Retry-After KV's).
 */
export async function storedTriggers(kv: KVNamespace): Promise<TriggersConfig | null> {
  const text = await kv.get(kvKeys.triggers, "text");
  if (text === null) return NO_TRIGGERS;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // damaged (a hand-made write, cut short): the parser's message would quote the text
    logEvent("error", "triggers.invalid", { detail: "not JSON" });
    return null;
  }
  const parsed = TriggersConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  // written by another version (a rollback) or damaged: unknown, so pending deliveries wait, not cancelled
  logEvent("error", "triggers.invalid", { detail: describeIssues(parsed.error) });
  return null;
}

/** The stored configuration, uncached; null when it cannot be read (logged). */
export async function readTriggers(kv: KVNamespace): Promise<TriggersConfig | null> {
  try {
    return await storedTriggers(kv);
  } catch (e) {
    logEvent("error", "triggers.read_failed", { detail: errorMessage(e) });
    return null;
  }
}

/**
 * The configuration in force; a failed read keeps what was known, and is null (unknown) when nothing was: the
 * caller then neither schedules nor cancels by it.
 */
export async function getTriggers(kv: KVNamespace, now = Date.now()): Promise<TriggersConfig | null> {
  if (cached && now - cached.at < TTL_MS && now >= cached.at) return cached.config;
  const config = await readTriggers(kv);
  if (config === null) return cached?.config ?? null;
  cached = { at: now, config };
  return config;
}

export async function putTriggers(kv: KVNamespace, config: TriggersConfig): Promise<void> {
  await kv.put(kvKeys.triggers, JSON.stringify(config));
  cached = null;
}
