/** Seeds the fixture model into miniflare's KV and calls the Worker the way a mail client's proxy does. */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { inject } from "vitest";
import { base64ToBytes } from "../../../core/base64";
import type { QueuedEvent } from "../../../core/events";
import type { HybridGoldenCase } from "../../../core/golden";
import { kvKeys } from "../../../core/kv-keys";
import { type ModelManifest, type RankerManifest, RankerManifestSchema } from "../../../core/manifest";
import { featuresOf } from "../../../core/profile";
import { mintToken, sendOf, verifyToken } from "../../../core/token";
import { resetBlockMemo } from "../../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../../worker/decisions/campaign-store";
import { getConfig } from "../../../worker/env";
import { type EventsMessage, eventsOf } from "../../../worker/events/queue";
import { resetExperimentCache } from "../../../worker/experiments/experiment-store";
import { experimentRegistry } from "../../../worker/experiments/registry-stub";
import worker from "../../../worker/index";
import { resetModelCache } from "../../../worker/model/model-store";
import { resetPinnedModel } from "../../../worker/model/pinned-model";
import { type Recommendation, recommend } from "../../../worker/recs/recommend";
import type { CampaignWriter } from "../../../worker/state/campaign-writer";
import type { ExperimentRegistry } from "../../../worker/state/experiment-registry";
import type { ModelMover } from "../../../worker/state/model-mover";
import { READER_SHARDS, shardStub } from "../../../worker/state/shard-routing";
import { type ModelFixture, TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "../fixture";

export const SENDER = "newsletter@shop.example";

/**
 * The retail fixture with its ranker serving the given modes (by default both; which serves is the trainer's
 * choice on validation).
 */
export function rankerServing(chosen: RankerManifest["chosen"] = { all: "ranker", novel: "ranker" }): ModelFixture {
  const f = retailFixture();
  const m = JSON.parse(f.manifestJson) as ModelManifest;
  const ranker = RankerManifestSchema.parse(m.ranker);
  m.ranker = { ...ranker, chosen };
  return { ...f, manifestJson: JSON.stringify(m) };
}

/**
 * A golden case's reader, stored, then recommended to at the case's time and mode, without an exclusion window.
 * Their features are stored with the case's pool (core/reader-pool.ts), or with `pool` when given (null: no
 * features, so none); `now` (unix seconds), `n` and `excludePurchasedDays` replace the case's time, the ten items
 * and no exclusion window.
 */
export async function goldenRecommendation(
  g: HybridGoldenCase,
  opts: { pool?: string | null; now?: number; n?: number; excludePurchasedDays?: number } = {},
): Promise<Recommendation> {
  await env.OPENTIME_KV.put(kvKeys.profile(g.user), JSON.stringify(g.profile));
  const version = g.profile.factors?.model ?? "";
  const pool = opts.pool === undefined ? (g.pool ?? null) : opts.pool;
  if (pool !== null)
    await env.OPENTIME_KV.put(kvKeys.features(g.user, version), JSON.stringify(featuresOf(g.profile, version, pool)));
  else await env.OPENTIME_KV.delete(kvKeys.features(g.user, version));
  const config = { ...getConfig(env), excludePurchasedDays: opts.excludePurchasedDays ?? 0, recsMode: g.mode };
  const now = (opts.now ?? g.now) * 1000;
  return recommend({ kv: env.OPENTIME_KV, config, token: await token(g.user), n: opts.n ?? 10, now });
}
export const fixture = () => inject("model");
export const retailFixture = () => inject("retail");

export async function clearKv(): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await env.OPENTIME_KV.list(cursor ? { cursor } : {});
    await Promise.all(page.keys.map((k) => env.OPENTIME_KV.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  // the campaigns' writer reads its own writes of the last 90 s over KV's: forget them with KV
  const campaigns = env.CAMPAIGN_WRITER as NonNullable<typeof env.CAMPAIGN_WRITER>;
  await runInDurableObject(campaigns.get(campaigns.idFromName("campaigns")), (_: CampaignWriter, state) => {
    state.storage.sql.exec("DELETE FROM recent");
  });
  resetModelCache();
  resetPinnedModel();
}

/** Empties the experiment registry (worker/state/experiment-registry.ts), whose experiments KV's mirror. */
export async function clearExperimentRegistry(): Promise<void> {
  await runInDurableObject(experimentRegistry(env), async (_: ExperimentRegistry, state) => {
    for (const table of ["experiments", "holdout", "unpublished", "meta"])
      state.storage.sql.exec(`DELETE FROM ${table}`);
    await state.storage.deleteAlarm();
  });
}

/** Empties the model moves' writer (worker/state/model-mover.ts): its copy of the pointer and history it wrote. */
export async function clearModelMover(): Promise<void> {
  const movers = env.MODEL_MOVER as NonNullable<typeof env.MODEL_MOVER>;
  await runInDurableObject(movers.get(movers.idFromName("models")), (_: ModelMover, state) =>
    state.storage.deleteAll(),
  );
}

/** Another stored version: the fixture's parts under another name (`<fixture version>-<name>`). */
export async function storeVersionCopy(name: string): Promise<string> {
  const f = fixture();
  const version = `${f.version}-${name}`;
  await env.OPENTIME_KV.put(kvKeys.manifest(version), JSON.stringify({ ...JSON.parse(f.manifestJson), version }));
  await env.OPENTIME_KV.put(kvKeys.catalog(version), f.catalogJson);
  await env.OPENTIME_KV.put(kvKeys.onnx(version), base64ToBytes(f.onnxBase64));
  return version;
}

/** Puts a fixture model (default: the demo's), its catalog, fallback items, profiles and the active pointer into KV. */
export async function seedModel(
  opts: {
    onnx?: Uint8Array | null;
    pointer?: boolean;
    fixture?: ModelFixture;
    /** false: leave the ranker's neighbour table out (the version then serves its hybrid) */
    ranker?: boolean;
  } = {},
): Promise<void> {
  const f = opts.fixture ?? fixture();
  const catalog = JSON.parse(f.catalogJson) as { items: unknown[]; popular: number[] };
  await env.OPENTIME_KV.put(kvKeys.manifest(f.version), f.manifestJson);
  await env.OPENTIME_KV.put(kvKeys.catalog(f.version), f.catalogJson);
  const onnx = opts.onnx === undefined ? base64ToBytes(f.onnxBase64) : opts.onnx;
  if (onnx) await env.OPENTIME_KV.put(kvKeys.onnx(f.version), onnx);
  if (f.contentOnnxBase64) await env.OPENTIME_KV.put(kvKeys.contentOnnx(f.version), base64ToBytes(f.contentOnnxBase64));
  if (f.itemTableJson) await env.OPENTIME_KV.put(kvKeys.itemTable(f.version), f.itemTableJson);
  if (f.neighboursBase64 && opts.ranker !== false)
    await env.OPENTIME_KV.put(kvKeys.neighbours(f.version), base64ToBytes(f.neighboursBase64));
  await env.OPENTIME_KV.put(
    kvKeys.fallbackItems,
    JSON.stringify({ items: catalog.popular.slice(0, 12).map((i) => catalog.items[i]) }),
  );
  for (const p of f.profiles) await env.OPENTIME_KV.put(kvKeys.profile(p.userId), JSON.stringify(p));
  if (opts.pointer !== false) {
    await env.OPENTIME_KV.put(
      kvKeys.activeModel,
      JSON.stringify({ version: f.version, activatedAt: new Date().toISOString() }),
    );
  }
  resetModelCache();
}

export function token(user: string, ttlSeconds = 3600, secret = TEST_TOKEN_SECRET): Promise<string> {
  return mintToken(secret, { user, campaign: "test", ttlSeconds });
}

/** The KV key of the decision a test token's email stored for `slot` (decisions are kept per send). */
export async function decisionKeyOf(t: string, slot: string): Promise<string> {
  const v = await verifyToken([TEST_TOKEN_SECRET], t);
  if (!v.ok) throw new Error(`not a test token: ${v.reason}`);
  return kvKeys.decision(v.claims.u, v.claims.c, sendOf(v.claims), slot);
}

export async function call(
  path: string,
  headers: Record<string, string> = { "AMP-Email-Sender": SENDER },
  bindings: typeof env = env,
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://opentime.test${path}`, { headers }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/**
 * Any request to the Worker (method, headers, body, and `cf` for the request's location), its background awaited;
 * `bindings`: another configuration than the tests' own.
 */
export async function send(
  path: string,
  init: RequestInit & { cf?: Record<string, unknown> } = {},
  bindings: typeof env = env,
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://opentime.test${path}`, init as RequestInit), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export const ADMIN_HEADERS = { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" };

/** PUT /v1/admin/campaigns/<id> with the admin key. */
export function putCampaign(id: string, body: unknown): Promise<Response> {
  return send(`/v1/admin/campaigns/${id}`, { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify(body) });
}

export function putExperiment(id: string, body: unknown): Promise<Response> {
  return send(`/v1/admin/experiments/${id}`, { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify(body) });
}

export interface RecsBody {
  items: { id: string; title: string; price: string; currency: string; image: string; url: string }[];
}

/** The events queue's handler on `events`, under `bindings`: which messages it acked and retried. */
export async function consume(events: QueuedEvent[], bindings: typeof env = env) {
  const batch = createMessageBatch<QueuedEvent>(
    "opentime-events",
    events.map((body, i) => ({ id: `m${i}-${body.id}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  return getQueueResult(batch, ctx);
}

/**
 * Waits until every reader shard has sent its experiment outbox to D1 (the shards send after their call
 * answers: running each one's alarm awaits the send in flight and sends what is left).
 */
export async function flushExperimentStore(): Promise<void> {
  for (let shard = 0; shard < READER_SHARDS; shard++) await runDurableObjectAlarm(shardStub(env, shard));
}

/**
 * Forgets the clicks and purchases every shard keeps for late exposures (worker/state/outcomes-table.ts), as two
 * days passing would: a test's readers then carry none of an earlier test's outcomes into its experiment.
 */
export async function forgetRecentOutcomes(): Promise<void> {
  for (let shard = 0; shard < READER_SHARDS; shard++)
    await runInDurableObject(shardStub(env, shard), (_: unknown, state) => {
      state.storage.sql.exec("DELETE FROM recent_outcomes");
    });
}

/**
 * A clean slate for an experiment test: KV and the experiment registry emptied, no shard's recent outcomes, the
 * fixture model seeded, and this isolate's campaign, block and experiment caches forgotten.
 */
export async function freshExperimentState(): Promise<void> {
  await clearKv();
  await clearExperimentRegistry();
  await forgetRecentOutcomes();
  await seedModel();
  resetCampaignCache();
  resetBlockMemo();
  resetExperimentCache();
}

/** A queue binding that keeps the events sent to it (what a route recorded), instead of delivering them. */
export function recordingQueue(): { queue: Queue<EventsMessage>; sent: QueuedEvent[] } {
  const sent: QueuedEvent[] = [];
  const queue = {
    send: async (body: EventsMessage) => {
      sent.push(...(eventsOf(body) ?? []));
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<EventsMessage>>) => {
      for (const m of messages) sent.push(...(eventsOf(m.body) ?? []));
    },
  } as unknown as Queue<EventsMessage>;
  return { queue, sent };
}
