/** Builds KV profiles (core/profile.ts) from an interaction log and a trained model's user factors. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { float32ToBase64 } from "../../core/base64";
import { MAX_RECENT_PURCHASES, PROFILE_SCHEMA_VERSION, type Profile } from "../../core/profile";
import type { InteractionLog } from "../data/interaction-log";

export interface ModelUserFactors {
  version: string;
  dims: number;
  userIds: string[];
  factors: Float32Array;
}

export async function readUserFactors(modelDir: string, version: string, dims: number): Promise<ModelUserFactors> {
  const userIds = JSON.parse(await readFile(join(modelDir, "user-ids.json"), "utf8")) as string[];
  const buf = await readFile(join(modelDir, "user-factors.f32"));
  const factors = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (factors.length !== userIds.length * dims)
    throw new Error(`user-factors.f32 does not hold ${userIds.length} x ${dims} floats`);
  return { version, dims, userIds, factors };
}

/** One profile per user of the log: recent purchases (newest first) and the model's factor vector. */
export function buildProfiles(log: InteractionLog, model: ModelUserFactors, now = new Date()): Profile[] {
  const purchaseType = log.types.indexOf("purchase");
  const purchases = new Map<number, { item: string; ts: number }[]>();
  for (let i = 0; i < log.rows; i++) {
    if (purchaseType < 0 || log.type[i] !== purchaseType) continue;
    const u = log.user[i] as number;
    const list = purchases.get(u) ?? [];
    purchases.set(u, list);
    list.push({ item: log.itemIds[log.item[i] as number] as string, ts: Math.floor(log.time[i] as number) });
  }
  const factorRow = new Map(model.userIds.map((id, i) => [id, i]));
  return log.userIds.map((userId, u) => {
    const row = factorRow.get(userId);
    const recent = (purchases.get(u) ?? []).sort((a, b) => b.ts - a.ts).slice(0, MAX_RECENT_PURCHASES);
    return {
      v: PROFILE_SCHEMA_VERSION,
      userId,
      updatedAt: now.toISOString(),
      factors:
        row === undefined
          ? null
          : {
              model: model.version,
              vector: float32ToBase64(model.factors.subarray(row * model.dims, (row + 1) * model.dims)),
            },
      recentPurchases: recent,
    } satisfies Profile;
  });
}
