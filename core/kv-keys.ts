/** The names of every Workers KV key opentime reads or writes, in one place. */

export const kvKeys = {
  /** JSON `ActivePointer`: which model version serves */
  activeModel: "model:active",
  /** JSON `ModelHistory`: the versions active before, oldest first (written by `npm run models`; a fresh isolate
   * serves the last one while the active version fails to load) */
  modelHistory: "model:history",
  manifest: (version: string) => `model:${version}:manifest`,
  /** ONNX bytes of the ALS scoring graph */
  onnx: (version: string) => `model:${version}:onnx`,
  /** ONNX bytes of the content (LSA) scoring graph, when the model has one */
  contentOnnx: (version: string) => `model:${version}:content-onnx`,
  /** JSON `ItemTable`: the ALS graph's int8 item factors and their Gram matrix, for fold-in */
  itemTable: (version: string) => `model:${version}:item-table`,
  /** bytes of the learned ranker's neighbour table (core/neighbour-table.ts `encodeNeighbours`), when the model has one */
  neighbours: (version: string) => `model:${version}:neighbours`,
  /** ONNX bytes of the segment (nearest centroid) graph, when the model has one */
  segmentsOnnx: (version: string) => `model:${version}:segments-onnx`,
  /** JSON `Catalog` the model's item indices refer to */
  catalog: (version: string) => `model:${version}:catalog`,
  /** JSON `FallbackItems`: generic content when no model can be loaded at all */
  fallbackItems: "fallback:items",
  profile: (userId: string) => `profile:${userId}`,
  /** JSON `UserFeatures`: one model version's outputs for a user (written by seeding, never by events) */
  features: (userId: string, version: string) => `features:${userId}:${version}`,
  /** prefix of every model version's features of a user (erasure lists it) */
  featuresPrefix: (userId: string) => `features:${userId}:`,
  /**
   * JSON string[]: ids of the user's applied events beyond the profile's own window (read by their shard, once, at
   * their first event there)
   */
  seen: (userId: string) => `seen:${userId}`,
  /** marks an erased user (keyed by a SHA-256 of the id, core/erasure-key.ts; never the id itself) */
  erasure: (userHash: string) => `erased:${userHash}`,
  /** prefix of stored per-recipient decisions (open-time images) */
  decisionsPrefix: (userId: string) => `decision:${userId}:`,
  /**
   * JSON `Decision`: what one slot of one send showed a user (TTL: the campaign's decisionTtlDays). A send is
   * the campaign and the token's expiry and nonce (`send`: core/token.ts `sendOf`, `<e>` for a token without one):
   * a trigger's emails share a campaign.
   */
  decision: (userId: string, campaignId: string, send: number | string, slot: string) =>
    `decision:${userId}:${campaignId}:${slot}#${send}`,
  /** a decision stored before they were kept per send (one per campaign): read until the last has expired */
  legacyDecision: (userId: string, campaignId: string, slot: string) => `decision:${userId}:${campaignId}:${slot}`,
  /** JSON `LiveCatalog` (core/live-catalog.ts): stock, price and other live fields, written by the CatalogWriter only */
  liveCatalog: "catalog:live",
  /** JSON `{version}`: the live catalog's version, which opens poll (small, read once a second per isolate) */
  liveCatalogVersion: "catalog:live:version",
  /**
   * JSON `Campaign` (core/campaign.ts): settings and blocks; written by the CampaignWriter only (admin API, preview
   * editor, dashboard), and by `npm start` for the demo's campaigns on this machine
   */
  campaign: (campaignId: string) => `campaign:${campaignId}`,
  /** JSON `Experiment` (core/experiments/experiment.ts), running or stopped; written by the ExperimentRegistry only */
  experiment: (experimentId: string) => `experiment:${experimentId}`,
  /**
   * JSON `Experiment`: the one running on a campaign (a copy of `experiment:<id>`), what opens read;
   * ExperimentRegistry only
   */
  campaignExperiment: (campaignId: string) => `experiment-of:${campaignId}`,
  /** JSON `{at, weights}`: a bandit's current variant weights; written by the bandit job only (hourly) */
  banditWeights: (experimentId: string) => `experiment-weights:${experimentId}`,
  /** JSON `GlobalHoldout`: the share of every campaign's readers kept from personalization; ExperimentRegistry only */
  globalHoldout: "experiments:global-holdout",
  /** JSON `TriggersConfig` (core/triggers.ts); written by the admin API only, read by the reader shards */
  triggers: "triggers:config",
} as const;

/**
 * Whether `key`, listed under `prefix` (a `decisionsPrefix` or `featuresPrefix`), is that user's own.
 * User ids may contain ':', so user "a"'s prefix also lists the keys of user "a:b"; the parts after a
 * user's prefix (campaign and slot, or model version) never contain ':', so counting them tells apart.
 */
export function isOwnKey(prefix: string, key: string): boolean {
  if (!key.startsWith(prefix)) return false;
  const rest = key.slice(prefix.length).split(":").length;
  return prefix.startsWith("decision:") ? rest === 2 : rest === 1;
}
