/**
 * Settings an open reads from KV through the isolate's cache (campaigns, the experiment running on a campaign, the
 * global holdout) through a KV outage: a failed read keeps what the isolate had, instead of the defaults for a
 * minute, and is tried again 5 s later; with nothing kept, the defaults serve for those 5 s only.
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CAMPAIGN } from "../../core/campaign";
import { ExperimentSchema, GlobalHoldoutSchema } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { getCampaign, resetCampaignCache } from "../../worker/decisions/campaign-store";
import { globalHoldout, resetExperimentCache, runningExperiment } from "../../worker/experiments/experiment-store";
import { RETRY_AFTER_FAILURE_MS, SHARE_WAIT_MS } from "../../worker/lib/isolate-cache";

const T0 = 1_800_000_000_000;
const MINUTE = 60_000;
const CAMPAIGN = "outage";

/** KV whose reads go through `read` (`real()` is KV's own read); every other operation is KV's. */
function kvReading(read: (name: string, real: () => Promise<unknown>) => Promise<unknown>): KVNamespace {
  return new Proxy(env.OPENTIME_KV, {
    get(target, key) {
      if (key === "get")
        return (name: string, ...rest: unknown[]) =>
          read(name, () => (target.get as (...a: unknown[]) => Promise<unknown>)(name, ...rest));
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as KVNamespace;
}

const failed = (detail: string) => Promise.reject(new Error(`KV GET failed: ${detail}`));

/** The test's KV, whose reads fail while `down` is set. */
let down = false;
const kv = kvReading((_, real) => (down ? failed("503 Service Unavailable") : real()));

/** A campaign told apart by its fallback URL. */
const campaign = (page: string) => ({
  v: 2,
  default: { id: "picks", type: "recommendations" },
  fallbackUrl: `https://shop.example/${page}`,
});
const pageOf = (c: { fallbackUrl?: string }) => c.fallbackUrl?.split("/").at(-1);

/** A running experiment on the campaign. */
const experimentOn = (id: string, extra: Record<string, unknown> = {}) =>
  ExperimentSchema.parse({
    v: 1,
    id,
    campaign: CAMPAIGN,
    status: "running",
    variants: [
      { id: "personal", weight: 1, content: campaign("Wine") },
      { id: "popular", weight: 1, content: "popular" },
    ],
    ...extra,
  });

beforeEach(async () => {
  down = false;
  resetCampaignCache();
  resetExperimentCache();
  await env.OPENTIME_KV.delete(kvKeys.campaign(CAMPAIGN));
});

describe("a KV outage", () => {
  it("keeps a campaign the isolate had, past its minute, and reads it again 5 s later", async () => {
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), JSON.stringify(campaign("Wine")));
    expect(pageOf(await getCampaign(kv, CAMPAIGN, T0))).toBe("Wine");
    down = true;
    // past the minute, the read fails: the campaign stays (before, the defaults served for a minute)
    expect(pageOf(await getCampaign(kv, CAMPAIGN, T0 + MINUTE + 1))).toBe("Wine");
    down = false;
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), JSON.stringify(campaign("Spirits")));
    // not read again before the retry, then read
    const retry = T0 + MINUTE + 1 + RETRY_AFTER_FAILURE_MS;
    expect(pageOf(await getCampaign(kv, CAMPAIGN, retry - 1))).toBe("Wine");
    expect(pageOf(await getCampaign(kv, CAMPAIGN, retry))).toBe("Spirits");
  });

  it("serves the defaults for 5 s, not a minute, to an isolate that had nothing", async () => {
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), JSON.stringify(campaign("Wine")));
    down = true;
    expect(await getCampaign(kv, CAMPAIGN, T0)).toEqual(DEFAULT_CAMPAIGN);
    down = false;
    expect(await getCampaign(kv, CAMPAIGN, T0 + RETRY_AFTER_FAILURE_MS - 1)).toEqual(DEFAULT_CAMPAIGN);
    expect(pageOf(await getCampaign(kv, CAMPAIGN, T0 + RETRY_AFTER_FAILURE_MS))).toBe("Wine");
  });

  it("a failed read that ends after a good one leaves the good answer in place", async () => {
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), JSON.stringify(campaign("Wine")));
    let calls = 0;
    const racing = kvReading((_, real) =>
      calls++ === 0 ? new Promise((r) => setTimeout(r, 50)).then(() => failed("timeout")) : real(),
    );
    // (the second open comes as the first read is too old to be joined: isolate-cache.test.ts has reads shared)
    const [slow, quick] = await Promise.all([
      getCampaign(racing, CAMPAIGN, T0),
      getCampaign(racing, CAMPAIGN, T0 + SHARE_WAIT_MS),
    ]);
    expect(pageOf(quick)).toBe("Wine");
    expect(pageOf(slow)).toBe("Wine");
    expect(pageOf(await getCampaign(kv, CAMPAIGN, T0 + SHARE_WAIT_MS + 1000))).toBe("Wine");
  });

  it("an entry that is not JSON is the defaults for the minute, as an invalid one (not an outage)", async () => {
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), "{oops");
    expect(await getCampaign(kv, CAMPAIGN, T0)).toEqual(DEFAULT_CAMPAIGN);
    await env.OPENTIME_KV.put(kvKeys.campaign(CAMPAIGN), JSON.stringify(campaign("Wine")));
    expect(await getCampaign(kv, CAMPAIGN, T0 + RETRY_AFTER_FAILURE_MS)).toEqual(DEFAULT_CAMPAIGN);
  });

  it("keeps the experiment running on a campaign: its readers stay in their arms", async () => {
    const experiment = experimentOn("e-outage");
    await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(experiment));
    expect((await runningExperiment(kv, CAMPAIGN, T0))?.id).toBe("e-outage");
    down = true;
    expect((await runningExperiment(kv, CAMPAIGN, T0 + MINUTE + 1))?.id).toBe("e-outage");
    // an isolate that had none: none, for 5 s
    resetExperimentCache();
    expect(await runningExperiment(kv, CAMPAIGN, T0)).toBeNull();
    down = false;
    expect((await runningExperiment(kv, CAMPAIGN, T0 + RETRY_AFTER_FAILURE_MS))?.id).toBe("e-outage");
    await env.OPENTIME_KV.delete(kvKeys.campaignExperiment(CAMPAIGN));
  });

  it("a bandit whose weights cannot be read is still served, on its own weights", async () => {
    const experiment = experimentOn("e-bandit-outage", { bandit: { goal: "click", floor: 0.05 } });
    await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(experiment));
    const weightsDown = kvReading((name, real) =>
      name === kvKeys.banditWeights(experiment.id) ? failed("503") : real(),
    );
    expect((await runningExperiment(weightsDown, CAMPAIGN, T0))?.variants.map((v) => v.weight)).toEqual([1, 1]);
    await env.OPENTIME_KV.delete(kvKeys.campaignExperiment(CAMPAIGN));
  });

  it("keeps the global holdout: its readers are not personalized through an outage", async () => {
    const holdout = GlobalHoldoutSchema.parse({ share: 0.1, seed: "outage", phaseStart: 1 });
    await env.OPENTIME_KV.put(kvKeys.globalHoldout, JSON.stringify(holdout));
    expect(await globalHoldout(kv, T0)).toMatchObject({ share: 0.1, seed: "outage" });
    down = true;
    expect(await globalHoldout(kv, T0 + MINUTE + 1)).toMatchObject({ share: 0.1, seed: "outage" });
    await env.OPENTIME_KV.delete(kvKeys.globalHoldout);
  });
});
