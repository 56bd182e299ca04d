/**
 * Every Workers KV key opentime makes fits KV's 512 bytes with each part at the longest its schema takes: a user id
 * of 128 UTF-16 units at 3 UTF-8 bytes each (384 bytes; an astral character is 4 bytes but 2 units, and zod, which
 * counts code points, would take 128 of them: UserIdSchema bounds the units too), 64-character
 * campaign, experiment and model ids, a token's send (expiry and nonce) and the widest slot. A key over 512 bytes is
 * refused by KV (`414`), which would lose that reader's decisions or features for good.
 */
import { describe, expect, it } from "vitest";
import { CampaignIdSchema } from "../../core/campaign";
import { MAX_ID_LENGTH, UserIdSchema } from "../../core/events";
import { ExperimentIdSchema } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { slotKey } from "../../core/layouts";
import { ModelVersionSchema } from "../../core/manifest";
import { sendOf } from "../../core/token";

const USER = "中".repeat(MAX_ID_LENGTH);
const ASTRAL_USER = "𝒜".repeat(MAX_ID_LENGTH / 2);
const ID64 = `a${"b".repeat(63)}`;
const SEND = sendOf({ e: 9_999_999_999, n: "ABCDEFGH" });
const SLOT = slotKey({ layout: "grid", index: 9 });

/** Each key of kv-keys.ts made from its parts at their longest; a key added there must be added here. */
function longestKeys(user: string): Record<string, string> {
  return {
    activeModel: kvKeys.activeModel,
    modelHistory: kvKeys.modelHistory,
    manifest: kvKeys.manifest(ID64),
    onnx: kvKeys.onnx(ID64),
    contentOnnx: kvKeys.contentOnnx(ID64),
    itemTable: kvKeys.itemTable(ID64),
    neighbours: kvKeys.neighbours(ID64),
    segmentsOnnx: kvKeys.segmentsOnnx(ID64),
    catalog: kvKeys.catalog(ID64),
    fallbackItems: kvKeys.fallbackItems,
    profile: kvKeys.profile(user),
    features: kvKeys.features(user, ID64),
    featuresPrefix: kvKeys.featuresPrefix(user),
    seen: kvKeys.seen(user),
    erasure: kvKeys.erasure("f".repeat(64)), // a hex SHA-256 (core/erasure-key.ts)
    decisionsPrefix: kvKeys.decisionsPrefix(user),
    decision: kvKeys.decision(user, ID64, SEND, SLOT),
    legacyDecision: kvKeys.legacyDecision(user, ID64, SLOT),
    liveCatalog: kvKeys.liveCatalog,
    liveCatalogVersion: kvKeys.liveCatalogVersion,
    campaign: kvKeys.campaign(ID64),
    experiment: kvKeys.experiment(ID64),
    campaignExperiment: kvKeys.campaignExperiment(ID64),
    banditWeights: kvKeys.banditWeights(ID64),
    globalHoldout: kvKeys.globalHoldout,
    triggers: kvKeys.triggers,
  };
}

describe("KV key length", () => {
  it("takes the longest parts as their schemas do", () => {
    expect(UserIdSchema.safeParse(USER).success).toBe(true);
    expect(UserIdSchema.safeParse(ASTRAL_USER).success).toBe(true);
    expect(UserIdSchema.safeParse(`${USER}x`).success).toBe(false);
    // zod counts code points: 65 emoji are 65 characters to it, 130 UTF-16 units and 260 bytes; 128 of them 512 bytes
    expect(UserIdSchema.safeParse(`${ASTRAL_USER}𝒜`).success).toBe(false);
    expect(UserIdSchema.safeParse("𝒜".repeat(MAX_ID_LENGTH)).error?.issues[0]?.message).toMatch(/UTF-16 units/);
    for (const schema of [CampaignIdSchema, ExperimentIdSchema, ModelVersionSchema]) {
      expect(schema.safeParse(ID64).success).toBe(true);
      expect(schema.safeParse(`${ID64}x`).success).toBe(false);
    }
  });

  it("names every key of kv-keys.ts", () => {
    expect(Object.keys(longestKeys(USER)).sort()).toEqual(Object.keys(kvKeys).sort());
  });

  it.each([
    ["three-byte", USER],
    ["four-byte", ASTRAL_USER],
  ])("fits every key in 512 bytes with a user id of %s characters", (_, user) => {
    for (const [name, key] of Object.entries(longestKeys(user))) {
      expect([name, Buffer.byteLength(key, "utf8") <= 512]).toEqual([name, true]);
    }
  });
});
