/**
 * Experiments end to end in workerd, with real KV, queue consumer, reader shards and D1: the admin API (with
 * its conflicts), each reader served their arm's configuration (a `popular` arm gets popular items and nothing
 * of theirs), the exposure recorded once at the first real open (not at Apple's prefetch; a click records it
 * too), sticky across re-weighting, clicks and purchases attributed within the window to the exposed arm
 * (only clicks on the experiment's campaign), the report's counts equal to the rows, erasure removing a
 * reader's rows and their share of the daily aggregates.
 */
import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/base64";
import type { QueuedEvent } from "../../core/events";
import { assign, bucket } from "../../core/experiments/assignment";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile } from "../../core/profile";
import { mintToken, sendKey, type TokenClaims, verifyToken } from "../../core/token";
import type { ExperimentReport } from "../../worker/experiments/experiment-report";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import { experimentRegistry } from "../../worker/experiments/registry-stub";
import worker from "../../worker/index";
import type { ExperimentRegistry } from "../../worker/state/experiment-registry";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import {
  ADMIN_HEADERS,
  call,
  clearExperimentRegistry,
  consume,
  fixture,
  flushExperimentStore,
  freshExperimentState,
  putCampaign,
  putExperiment,
  recordingQueue,
  SENDER,
  send,
} from "./support/harness";

const CAMPAIGN = "exp-camp";
const PERSONAL = { v: 2, default: { id: "picks", type: "recommendations" } };

const body = (over: Record<string, unknown> = {}) => ({
  campaign: CAMPAIGN,
  variants: [
    { id: "personal", weight: 1, content: PERSONAL },
    { id: "popular", weight: 1, content: "popular" },
  ],
  ...over,
});

/**
 * What two starts on the campaign that both passed before the registry left in KV: both records say running,
 * and the campaign's copy names the last, `served` (what opens serve); `shadow` never served.
 */
async function twoLegacyStarts(): Promise<void> {
  const served = ExperimentSchema.parse({ v: 1, id: "served", ...body() });
  const shadow = ExperimentSchema.parse({ v: 1, id: "shadow", ...body() });
  await env.OPENTIME_KV.put(kvKeys.experiment("served"), JSON.stringify(served));
  await env.OPENTIME_KV.put(kvKeys.experiment("shadow"), JSON.stringify(shadow));
  await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(served));
}

async function report(id: string, intervals = "fixed", query = ""): Promise<ExperimentReport> {
  const res = await send(`/v1/admin/experiments/${id}/report?intervals=${intervals}${query}`, {
    headers: ADMIN_HEADERS,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as ExperimentReport;
}

const db = () => env.DB as D1Database;
const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];

/** The arm the hashes give a reader (what the Worker must serve a reader not yet exposed). */
function hashedArm(experiment: Experiment, user: string): string {
  const a = assign(experiment, user);
  return a.kind === "variant" ? a.variant : a.kind;
}

/** The amp-list for the reader; the events it queued, applied by the real consumer and shards. */
async function open(user: string, campaign = CAMPAIGN) {
  const rec = recordingQueue();
  const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign, ttlSeconds: 3600 });
  const res = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, { ...env, EVENTS: rec.queue });
  expect(res.status).toBe(200);
  const items = ((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id);
  if (rec.sent.length > 0) await consume(rec.sent);
  await flushExperimentStore();
  return { items, res, sent: rec.sent };
}

/** Events through the real events API, then the real consumer. */
async function post(events: Record<string, unknown>[]): Promise<void> {
  const rec = recordingQueue();
  const posted = await fetchWith(
    new Request("https://opentime.test/v1/events", {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_EVENTS_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ events }),
    }),
    rec.queue,
  );
  expect(posted.status).toBe(202);
  await consume(rec.sent);
  await flushExperimentStore();
}

/** Any request with the Worker's events going to `queue`, its background awaited. */
async function fetchWith(req: Request, queue: Queue<QueuedEvent>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, { ...env, EVENTS: queue }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The experiment's rows of the reader (a purchase counts for every experiment whose window holds it). */
async function rows(table: "exposures" | "assignments" | "outcomes", user: string, experiment: string) {
  return (await db().prepare(`SELECT * FROM ${table} WHERE user = ? AND experiment = ?`).bind(user, experiment).all())
    .results;
}

beforeEach(async () => {
  await freshExperimentState();
  await putCampaign(CAMPAIGN, { v: 2, default: { id: "picks", type: "recommendations" } });
  await db()
    .batch([
      db().prepare("DELETE FROM exposures"),
      db().prepare("DELETE FROM outcomes"),
      db().prepare("DELETE FROM daily"),
    ])
    .catch(() => undefined);
});

describe("the experiments admin API", () => {
  it("stores an experiment, reads and lists it, and names bad fields by path", async () => {
    const put = await putExperiment("e1", body());
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      id: "e1",
      created: true,
      experiment: { campaign: CAMPAIGN, coverage: 1 },
    });
    const got = await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS });
    expect(((await got.json()) as { experiment: Experiment }).experiment.variants).toHaveLength(2);
    const list = await send("/v1/admin/experiments", { headers: ADMIN_HEADERS });
    expect(await list.json()).toEqual({ ids: ["e1"], cursor: null });
    // the registry answers, not KV (which, at another location, may not have the PUT yet)
    await env.OPENTIME_KV.delete(kvKeys.experiment("e1"));
    expect((await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS })).status).toBe(200);
    expect(await (await send("/v1/admin/experiments", { headers: ADMIN_HEADERS })).json()).toEqual({
      ids: ["e1"],
      cursor: null,
    });
    const bad = await putExperiment(
      "e2",
      body({ variants: [{ id: "x", weight: 1, content: { v: 2, default: { id: "d", type: "nope" } } }] }),
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      "variants[0].content.default",
    );
    // what only the admin API checks (a stored experiment is read more leniently) is refused at the PUT
    const copy = { v: 2, default: { id: "d", type: "recommendations", copy: { cta: "{{segment}}" } } };
    const strict = await putExperiment("e3", body({ variants: [{ id: "x", weight: 1, content: copy }] }));
    expect(strict.status).toBe(400);
    expect(((await strict.json()) as { error: { message: string } }).error.message).toContain(
      'variants[0].content.default.copy.cta: unknown variable "segment"',
    );
    expect((await send("/v1/admin/experiments/e1", {})).status).toBe(401);
    expect((await send("/v1/admin/experiments/none", { headers: ADMIN_HEADERS })).status).toBe(404);
  });

  it("refuses a running experiment of one variant and no holdout (it could never measure anything), saying what to add", async () => {
    const one = { variants: [{ id: "personal", weight: 1, content: PERSONAL }] };
    const refused = await putExperiment("one-arm", body(one));
    expect(refused.status).toBe(400);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^variants: one variant and no holdout compares nothing/);
    expect(error.message).toContain('"content":"popular"');
    expect(error.message).toContain("holdout");
    expect((await send("/v1/admin/experiments/one-arm", { headers: ADMIN_HEADERS })).status).toBe(404);
    // with a holdout it compares the variant with it; stopped, it serves nobody (a stop of one stored before)
    expect((await putExperiment("one-arm", body({ ...one, holdout: 0.1 }))).status).toBe(200);
    expect((await putExperiment("one-arm", body({ ...one, holdout: 0.1, status: "stopped" }))).status).toBe(200);
    expect((await putExperiment("one-arm", body({ ...one, status: "stopped" }))).status).toBe(200);
  });

  it("refuses a running experiment of coverage 0 (it would never expose anyone), saying how to stop it instead", async () => {
    const refused = await putExperiment("no-one", body({ coverage: 0 }));
    expect(refused.status).toBe(400);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^coverage: 0 covers no reader/);
    expect(error.message).toContain('"status":"stopped"');
    expect((await send("/v1/admin/experiments/no-one", { headers: ADMIN_HEADERS })).status).toBe(404);
    // the smallest share is taken, and a stopped experiment of coverage 0 (it serves nobody either way)
    expect((await putExperiment("no-one", body({ coverage: 0.0001 }))).status).toBe(200);
    expect((await putExperiment("no-one", body({ coverage: 0, status: "stopped" }))).status).toBe(200);
    // lowered to 0 while running: refused too (the stored experiment runs on as it was)
    expect((await putExperiment("no-one", body({ coverage: 0.5 }))).status).toBe(200);
    expect((await putExperiment("no-one", body({ coverage: 0 }))).status).toBe(400);
  });

  it("refuses a variant's campaign whose test no value of its fact passes, as the campaigns API does, naming the path", async () => {
    const hot = { id: "hot", type: "recommendations", when: { topProbability: { $gte: 70 } } };
    const percent = { v: 2, blocks: [hot], default: { id: "picks", type: "recommendations" } };
    const bad = await putExperiment(
      "e-impossible",
      body({
        variants: [
          { id: "popular", weight: 1, content: "popular" },
          { id: "hot", weight: 1, content: percent },
        ],
      }),
    );
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toBe(
      "variants[1].content.blocks[0].when.topProbability.$gte: topProbability is a probability, 0 to 1 (0.7 is 70%): this test never holds",
    );
    // a subject rule's too, and an hour no clock shows
    const subjects = {
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: {
        rules: [{ id: "likely", when: { propensity: { $gt: 30 } }, subject: "Still thinking?" }],
        default: { subject: "Hello" },
      },
    };
    const late = { ...percent, blocks: [{ ...hot, when: { localHour: { $eq: 24 } } }] };
    const both = await putExperiment(
      "e-impossible",
      body({
        variants: [
          { id: "a", weight: 1, content: subjects },
          { id: "b", weight: 1, content: late },
        ],
      }),
    );
    expect(both.status).toBe(400);
    const message = ((await both.json()) as { error: { message: string } }).error.message;
    expect(message).toMatch(/^variants\[0\]\.content\.subjects\.rules\[0\]\.when\.propensity\.\$gt: /);
    expect(message).toMatch(
      /; variants\[1\]\.content\.blocks\[0\]\.when\.localHour\.\$eq: localHour is an hour, 0 to 23/,
    );
    expect((await send("/v1/admin/experiments/e-impossible", { headers: ADMIN_HEADERS })).status).toBe(404);
    // the same variant with a probability that can hold is taken
    const fine = { ...percent, blocks: [{ ...hot, when: { topProbability: { $gte: 0.7 } } }] };
    const ok = await putExperiment(
      "e-impossible",
      body({
        variants: [
          { id: "popular", weight: 1, content: "popular" },
          { id: "hot", weight: 1, content: fine },
        ],
      }),
    );
    expect(ok.status).toBe(200);
  });

  it("refuses a second running experiment on a campaign, and a changed campaign or seed", async () => {
    expect((await putExperiment("e1", body())).status).toBe(200);
    const second = await putExperiment("e2", body());
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe("EXPERIMENT_CONFLICT");
    expect((await putExperiment("e1", body({ campaign: "other" }))).status).toBe(409);
    expect((await putExperiment("e1", body({ seed: "reshuffle" }))).status).toBe(409);
    // stopped, the campaign is free again
    expect((await putExperiment("e1", body({ status: "stopped" }))).status).toBe(200);
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN))).toBeNull();
    expect((await putExperiment("e2", body())).status).toBe(200);
  });

  it("a PUT with If-Match changes only the version read: 412 EXPERIMENT_CHANGED when another landed since", async () => {
    const putIf = (id: string, b: unknown, headers: Record<string, string>) =>
      send(`/v1/admin/experiments/${id}`, {
        method: "PUT",
        headers: { ...ADMIN_HEADERS, ...headers },
        body: JSON.stringify(b),
      });
    const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
    // none stored: If-Match `*` is refused, If-None-Match `*` creates, and only once
    const none = await putIf("e1", body(), { "If-Match": "*" });
    expect([none.status, await code(none)]).toEqual([412, "EXPERIMENT_CHANGED"]);
    const created = await putIf("e1", body({ status: "stopped" }), { "If-None-Match": "*" });
    expect(created.status).toBe(200);
    expect((await putIf("e1", body(), { "If-None-Match": "*" })).status).toBe(412);
    // the GET's tag is the PUT's: the tag of what is stored
    const read = await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS });
    const tag = read.headers.get("ETag") as string;
    expect(tag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(created.headers.get("ETag")).toBe(tag);
    // two editors read that version; the first PUT lands, the second is refused and changes nothing
    const first = await putIf("e1", body({ coverage: 0.5, status: "stopped" }), { "If-Match": tag });
    expect(first.status).toBe(200);
    expect(first.headers.get("ETag")).not.toBe(tag);
    const second = await putIf("e1", body({ coverage: 0.2, status: "stopped" }), { "If-Match": `"other", ${tag}` });
    expect([second.status, await code(second)]).toEqual([412, "EXPERIMENT_CHANGED"]);
    const now = await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS });
    expect(((await now.json()) as { experiment: Experiment }).experiment.coverage).toBe(0.5);
    expect(now.headers.get("ETag")).toBe(first.headers.get("ETag"));
    // the tag now held, among others, or `*`, passes; a malformed header is a 400 naming it
    expect(
      (await putIf("e1", body({ status: "stopped" }), { "If-Match": `"x", ${now.headers.get("ETag")}` })).status,
    ).toBe(200);
    expect((await putIf("e1", body({ status: "stopped" }), { "If-Match": "*" })).status).toBe(200);
    // the tag as Cloudflare hands it on when it compresses the answer (`W/"..."`) is still the tag read
    const held = (await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS })).headers.get("ETag") as string;
    const weak = { "If-Match": `W/${held}` };
    expect((await putIf("e1", body({ coverage: 0.7, status: "stopped" }), weak)).status).toBe(200);
    expect((await putIf("e1", body({ coverage: 0.8, status: "stopped" }), weak)).status).toBe(412);
    const malformed = await putIf("e1", body(), { "If-Match": "not-a-tag" });
    expect([malformed.status, await code(malformed)]).toEqual([400, "BAD_REQUEST"]);
  });

  it("two PUTs with one If-Match at once: one lands, the other is refused, whichever the registry takes first", async () => {
    const put = await putExperiment("e1", body({ status: "stopped" }));
    const tag = put.headers.get("ETag") as string;
    const withTag = (coverage: number) =>
      send("/v1/admin/experiments/e1", {
        method: "PUT",
        headers: { ...ADMIN_HEADERS, "If-Match": tag },
        body: JSON.stringify(body({ coverage, status: "stopped" })),
      });
    const [a, b] = await Promise.all([withTag(0.5), withTag(0.25)]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const now = await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS });
    const coverage = ((await now.json()) as { experiment: Experiment }).experiment.coverage;
    expect(coverage).toBe(a.status === 200 ? 0.5 : 0.25);
  });

  it("an experiment KV held before the registry has a tag, and a PUT naming it adopts and changes it", async () => {
    const legacy = ExperimentSchema.parse({ v: 1, id: "legacy", ...body({ status: "stopped" }) });
    await env.OPENTIME_KV.put(kvKeys.experiment("legacy"), JSON.stringify(legacy));
    const read = await send("/v1/admin/experiments/legacy", { headers: ADMIN_HEADERS });
    const tag = read.headers.get("ETag") as string;
    expect(tag).toMatch(/^"[0-9a-f]{32}"$/);
    const put = await send("/v1/admin/experiments/legacy", {
      method: "PUT",
      headers: { ...ADMIN_HEADERS, "If-Match": tag },
      body: JSON.stringify(body({ coverage: 0.5, status: "stopped" })),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ created: false, experiment: { coverage: 0.5 } });
  });

  it("two starts on one campaign at once: exactly one wins, and KV's running copy names it", async () => {
    const [a, b] = await Promise.all([putExperiment("e1", body()), putExperiment("e2", body())]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? "e1" : "e2";
    const copy = (await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment;
    expect(copy.id).toBe(winner);
    const loser = (await (a.status === 409 ? a : b).json()) as { error: { code: string; message: string } };
    expect(loser.error).toMatchObject({ code: "EXPERIMENT_CONFLICT" });
    expect(loser.error.message).toContain(`"${winner}" runs on it`);
  });

  it("a stop and another start at once leave KV as the registry decided, in either order", async () => {
    expect((await putExperiment("e1", body())).status).toBe(200);
    const [stop, start] = await Promise.all([
      putExperiment("e1", body({ status: "stopped" })),
      putExperiment("e2", body()),
    ]);
    expect(stop.status).toBe(200);
    const copy = (await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment | null;
    // the start came first (the campaign was taken: 409, and the stop then left no copy) or second (it runs)
    if (start.status === 200) expect(copy?.id).toBe("e2");
    else {
      expect(start.status).toBe(409);
      expect(copy).toBeNull();
    }
    const e1 = (await env.OPENTIME_KV.get(kvKeys.experiment("e1"), "json")) as Experiment;
    expect(e1.status).toBe("stopped");
  });

  it("adopts an experiment KV held before the registry existed: its campaign stays taken until it stops", async () => {
    const legacy = ExperimentSchema.parse({ v: 1, id: "legacy", ...body() });
    await env.OPENTIME_KV.put(kvKeys.experiment("legacy"), JSON.stringify(legacy));
    await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(legacy));
    // a stopped experiment stored on the campaign leaves the serving one alone
    expect((await putExperiment("draft", body({ status: "stopped" }))).status).toBe(200);
    expect(((await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment).id).toBe("legacy");
    const taken = await putExperiment("e2", body());
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { error: { message: string } }).error.message).toContain('"legacy" runs on it');
    expect((await putExperiment("legacy", body({ seed: "reshuffle" }))).status).toBe(409);
    const stop = await putExperiment("legacy", body({ status: "stopped" }));
    expect(stop.status).toBe(200);
    expect(await stop.json()).toMatchObject({ created: false, published: true });
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN))).toBeNull();
    expect((await putExperiment("e2", body())).status).toBe(200);
  });

  it("of two experiments KV says run on one campaign (both started before the registry), adopts the one served", async () => {
    await twoLegacyStarts();
    // before any PUT names it, the registry shows the one never served as stopped
    const before = await send("/v1/admin/experiments/shadow", { headers: ADMIN_HEADERS });
    expect(((await before.json()) as { experiment: Experiment }).experiment.status).toBe("stopped");
    const res = await putExperiment("shadow", body({ coverage: 0.5 }));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"served" runs on it');
    await runDurableObjectAlarm(experimentRegistry(env));
    // what opens did all along: shadow never served; KV's record now says so too
    expect(((await env.OPENTIME_KV.get(kvKeys.experiment("shadow"), "json")) as Experiment).status).toBe("stopped");
    expect(((await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment).id).toBe("served");
    const got = await send("/v1/admin/experiments/shadow", { headers: ADMIN_HEADERS });
    expect(((await got.json()) as { experiment: Experiment }).experiment.status).toBe("stopped");
  });

  it("adopts a legacy experiment KV's copy never served as stopped, whichever campaign the PUT names", async () => {
    await twoLegacyStarts();
    // the PUT names another campaign: refused, but what it adopted is as opens served it
    expect((await putExperiment("shadow", body({ campaign: "elsewhere" }))).status).toBe(409);
    await runDurableObjectAlarm(experimentRegistry(env));
    // the campaign still serves the one it served (the registry has not adopted it yet)
    expect(((await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment).id).toBe("served");
    // stopping the one served stops the campaign; the other never starts
    expect((await putExperiment("served", body({ status: "stopped" }))).status).toBe(200);
    await runDurableObjectAlarm(experimentRegistry(env));
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN))).toBeNull();
    expect(((await env.OPENTIME_KV.get(kvKeys.experiment("shadow"), "json")) as Experiment).status).toBe("stopped");
  });

  it("adopts the experiment served on its campaign as running when a PUT names it with another campaign", async () => {
    await twoLegacyStarts();
    expect((await putExperiment("served", body({ campaign: "elsewhere" }))).status).toBe(409);
    await runDurableObjectAlarm(experimentRegistry(env));
    expect(((await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment).id).toBe("served");
    const taken = await putExperiment("e2", body());
    expect(((await taken.json()) as { error: { message: string } }).error.message).toContain('"served" runs on it');
  });

  it("a stored row that does not parse can be stopped on its campaign, and nothing else", async () => {
    expect((await putExperiment("e1", body())).status).toBe(200);
    const registry = experimentRegistry(env);
    await runInDurableObject(registry, (_: ExperimentRegistry, state) => {
      state.storage.sql.exec("UPDATE experiments SET body = '{\"v\":99}' WHERE id = 'e1'");
    });
    expect((await putExperiment("e1", body({ coverage: 0.5 }))).status).toBe(409);
    expect((await putExperiment("e1", body({ campaign: "elsewhere", status: "stopped" }))).status).toBe(409);
    const stop = await putExperiment("e1", body({ status: "stopped" }));
    expect(stop.status).toBe(200);
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN))).toBeNull();
    expect((await putExperiment("e2", body())).status).toBe(200);
  });

  it("a change KV refused to take is written by the registry's alarm; a KV read that fails refuses the PUT", async () => {
    const registry = experimentRegistry(env);
    const failing = (ops: string[]) =>
      new Proxy(env.OPENTIME_KV, {
        get(target, prop) {
          if (ops.includes(String(prop))) return () => Promise.reject(new Error("KV is down"));
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    const putWith = (kv: KVNamespace, experiment: Experiment) =>
      runInDurableObject(registry, async (instance: ExperimentRegistry) => {
        const self = instance as unknown as { env: typeof env };
        const real = self.env;
        self.env = { ...real, OPENTIME_KV: kv };
        try {
          return await instance.put(experiment);
        } finally {
          self.env = real;
        }
      });
    const e1 = ExperimentSchema.parse({ v: 1, id: "e1", ...body() });
    // KV cannot be read: nothing may be taken for "no experiment there", nothing is stored
    expect(await putWith(failing(["get"]), e1)).toMatchObject({ ok: false, code: "KV_UNAVAILABLE" });
    expect((await send("/v1/admin/experiments/e1", { headers: ADMIN_HEADERS })).status).toBe(404);
    // KV refuses the writes: stored, not published
    const started = [{ at: expect.any(Number), kind: "started" }];
    expect(await putWith(failing(["put", "delete"]), e1)).toEqual({
      ok: true,
      created: true,
      published: false,
      experiment: { ...e1, changes: started },
      recorded: started,
    });
    // the registry holds the campaign already: another start is refused before KV knows
    expect((await putExperiment("e2", body())).status).toBe(409);
    await runDurableObjectAlarm(registry);
    expect(((await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")) as Experiment).id).toBe("e1");
    expect(((await env.OPENTIME_KV.get(kvKeys.experiment("e1"), "json")) as Experiment).status).toBe("running");
  });
});

describe("serving and exposure", () => {
  it("serves each reader their arm: personalized, or popular items with nothing of theirs", async () => {
    expect((await putExperiment("e-serve", body())).status).toBe(200);
    const experiment = ExperimentSchema.parse({ v: 1, id: "e-serve", ...body() });
    const catalog = JSON.parse(fixture().catalogJson) as { items: { id: string }[]; popular: number[] };
    const popularTop = catalog.popular.slice(0, 4).map((i) => catalog.items[i]?.id);
    const seen = new Set<string>();
    for (const p of readers().slice(0, 12)) {
      const arm = hashedArm(experiment, p.userId);
      const { items, res } = await open(p.userId);
      expect(res.headers.get("X-Opentime-Experiment")).toBe(`e-serve:${arm}`);
      if (arm === "popular") {
        expect(res.headers.get("X-Opentime-Reason")).toBe("experiment-popular");
        expect(items).toEqual(popularTop);
      } else expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
      seen.add(arm);
    }
    expect(seen).toEqual(new Set(["personal", "popular"]));
  });

  it("records the exposure once, at the first open; it is sticky when the weights change", async () => {
    expect((await putExperiment("e-sticky", body())).status).toBe(200);
    const experiment = ExperimentSchema.parse({ v: 1, id: "e-sticky", ...body() });
    const exposed = readers().find((p) => hashedArm(experiment, p.userId) === "personal") as Profile;
    const first = await open(exposed.userId);
    expect(first.sent.filter((e) => e.type === "exposure")).toEqual([
      expect.objectContaining({
        id: "exposure:e-sticky",
        exposure: expect.objectContaining({ experiment: "e-sticky", arm: "personal" }),
      }),
    ]);
    await open(exposed.userId);
    expect(await rows("exposures", exposed.userId, "e-sticky")).toEqual([
      expect.objectContaining({ experiment: "e-sticky", arm: "personal", campaign: CAMPAIGN }),
    ]);
    // everyone to popular from now on: the exposed reader stays; a reader not yet exposed moves
    const reweighted = body({
      variants: [
        { id: "personal", weight: 0.001, content: PERSONAL },
        { id: "popular", weight: 1000, content: "popular" },
      ],
    });
    expect((await putExperiment("e-sticky", reweighted)).status).toBe(200);
    resetExperimentCache();
    // the snapshot with the exposure reaches KV after the shard's commit (at most a second)
    await until(async () => {
      const p = (await env.OPENTIME_KV.get(kvKeys.profile(exposed.userId), "json")) as Profile | null;
      return p?.experiments?.["e-sticky"]?.arm === "personal";
    });
    expect((await open(exposed.userId)).res.headers.get("X-Opentime-Experiment")).toBe("e-sticky:personal");
    const fresh = readers().find(
      (p) => p.userId !== exposed.userId && hashedArm(experiment, p.userId) === "personal",
    ) as Profile;
    expect((await open(fresh.userId)).res.headers.get("X-Opentime-Experiment")).toBe("e-sticky:popular");
  });

  it("an Apple prefetch of an image exposes nobody; the real open and a click do, and the click counts", async () => {
    expect((await putExperiment("e-click", body())).status).toBe(200);
    const user = (readers()[1] as Profile).userId;
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 3600 });
    const rec = recordingQueue();
    const appleMpp = new Request(`https://opentime.test/v1/img/${t}/row-0.png`, {
      headers: { "User-Agent": "Mozilla/5.0" },
      cf: { asn: 714, asOrganization: "Apple Inc." },
    } as RequestInit);
    const prefetched = await fetchWith(appleMpp, rec.queue);
    expect(prefetched.headers.get("X-Opentime-Fetch")).toBe("apple-mpp");
    expect(rec.sent.filter((e) => e.type === "exposure")).toEqual([]);
    const click = await fetchWith(new Request(`https://opentime.test/v1/c/${t}/row-0`), rec.queue);
    expect(click.status).toBe(302);
    // the click carries the open's exposure (no other message): its shard records it, then counts the click
    expect(rec.sent.map((e) => e.type)).toEqual(["email_click"]);
    expect(rec.sent[0]?.exposures).toEqual([expect.objectContaining({ experiment: "e-click", days: 7 })]);
    await consume(rec.sent);
    await flushExperimentStore();
    const arm = (await rows("exposures", user, "e-click"))[0]?.arm;
    expect(arm).toBeDefined();
    const send = (await verifyToken([TEST_TOKEN_SECRET], t)) as { claims: TokenClaims };
    expect(await rows("outcomes", user, "e-click")).toEqual([
      expect.objectContaining({ kind: "click", arm, slot: "row-0", event: `click:${sendKey(send.claims)}:row-0` }),
    ]);
    // another email of the campaign (a trigger's emails share one): its click counts too
    const next = await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 7200 });
    const again = recordingQueue();
    expect((await fetchWith(new Request(`https://opentime.test/v1/c/${next}/row-0`), again.queue)).status).toBe(302);
    await consume(again.sent);
    await flushExperimentStore();
    expect(await rows("outcomes", user, "e-click")).toHaveLength(2);
    // seen only by clicking, the reader could not have entered any arm but by clicking: the report per open
    // leaves them out in every arm alike (else an arm that wins clicks also wins readers), and says so
    expect((await rows("exposures", user, "e-click"))[0]).toMatchObject({ via: "click" });
    const r = await report("e-click");
    expect(r.unit).toBe("opened");
    const counted = r.arms.find((x) => x.arm === arm);
    expect(counted).toMatchObject({ exposed: 0, clickers: 0, clickOnly: 1 });
  });

  it("an email whose images were decided before the experiment started exposes nobody when it shows them again", async () => {
    const user = (readers()[2] as Profile).userId;
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 3600 });
    const image = () => new Request(`https://opentime.test/v1/img/${t}/row-0.png`);
    // opened with no experiment running: the slot's decision is frozen, personalized, under no arm
    const before = recordingQueue();
    const first = await fetchWith(image(), before.queue);
    expect(first.headers.get("X-Opentime-Reason")).toBe("personalized");
    expect(first.headers.get("X-Opentime-Experiment")).toBeNull();
    // then everyone goes to popular; the same email opened again shows what it showed (frozen), not popular items
    const allPopular = body({
      variants: [
        { id: "personal", weight: 0.001, content: PERSONAL },
        { id: "popular", weight: 1000, content: "popular" },
      ],
    });
    expect((await putExperiment("e-before", allPopular)).status).toBe(200);
    resetExperimentCache();
    const rec = recordingQueue();
    const again = await fetchWith(image(), rec.queue);
    expect(again.headers.get("X-Opentime-Decision")).toBe("stored");
    expect(again.headers.get("X-Opentime-Reason")).toBe("stored-frozen");
    // so it is no exposure to the popular arm (nor its click a click on it): the reader's first open of an email
    // decided under an arm will be
    expect(again.headers.get("X-Opentime-Experiment")).toBeNull();
    expect(rec.sent.filter((e) => e.type === "exposure")).toEqual([]);
    const click = await fetchWith(new Request(`https://opentime.test/v1/c/${t}/row-0`), rec.queue);
    expect(click.status).toBe(302);
    const clicked = rec.sent.find((e) => e.type === "email_click");
    expect(clicked?.exposures).toBeUndefined();
    await consume(rec.sent);
    await flushExperimentStore();
    expect(await rows("exposures", user, "e-before")).toEqual([]);
    // a new email of the campaign serves the arm and exposes the reader to it
    expect((await open(user)).res.headers.get("X-Opentime-Experiment")).toBe("e-before:popular");
    expect(await rows("exposures", user, "e-before")).toEqual([expect.objectContaining({ arm: "popular" })]);
  });
});

describe("attribution and the report", () => {
  it("counts clicks on the campaign and purchases inside the window for the exposed arm, once each", async () => {
    expect((await putExperiment("e-attr", body({ attributionDays: 7 }))).status).toBe(200);
    const [a, b] = readers() as [Profile, Profile];
    await open(a.userId);
    await open(b.userId);
    const now = Math.floor(Date.now() / 1000);
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    const events = [
      { id: "c1", type: "email_click", user: a.userId, item, campaign: CAMPAIGN, ts: now + 5 },
      // another campaign's click, and a purchase before the exposure: not the experiment's
      { id: "c2", type: "email_click", user: a.userId, item, campaign: "other", ts: now + 6 },
      { id: "p0", type: "purchase", user: b.userId, item, ts: now - 3600, properties: { value: 99 } },
      { id: "p1", type: "purchase", user: a.userId, item, ts: now + 10, properties: { value: 20 } },
      { id: "p2", type: "purchase", user: a.userId, item, ts: now + 11, properties: { value: 30 } },
    ];
    await post(events);
    await post(events); // redelivered: counted once
    const outcomes = await rows("outcomes", a.userId, "e-attr");
    expect(outcomes.map((o) => o.event).sort()).toEqual(["c1", "p1", "p2"]);
    expect(await rows("outcomes", b.userId, "e-attr")).toEqual([]);

    const r = await report("e-attr");
    const armOf = (u: string) => hashedArm(ExperimentSchema.parse({ v: 1, id: "e-attr", ...body() }), u);
    const forA = r.arms.find((x) => x.arm === armOf(a.userId));
    expect(forA).toMatchObject({ clickers: 1, clicks: 1, buyers: 1, purchases: 2, revenue: 50 });
    expect(r.arms.reduce((s, x) => s + x.exposed, 0)).toBe(2);
    expect(r.control).toBe("popular");
    // per block: the block each reader's first open served (the popular arm's is its own "popular" block)
    expect(r.blocks.reduce((s, b) => s + b.exposed, 0)).toBe(2);
    for (const b of r.blocks) expect(b.block).toBe(b.arm === "popular" ? "popular" : "picks");
    expect(r.srm?.expected).toEqual({ personal: 0.5, popular: 0.5 });
    // the daily aggregates equal the rows
    const daily = r.daily.filter((d) => d.arm === armOf(a.userId));
    expect(daily.reduce((s, d) => s + d.clicks, 0)).toBe(1);
    expect(daily.reduce((s, d) => s + d.revenue, 0)).toBe(50);
  });

  it("never adds revenue of different currencies: the report's is in one, the others listed; a bad currency is a 400", async () => {
    expect((await putExperiment("e-cur", body({ attributionDays: 7 }))).status).toBe(200);
    const [a, b, c] = readers() as [Profile, Profile, Profile];
    for (const r of [a, b, c]) await open(r.userId);
    const now = Math.floor(Date.now() / 1000);
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    const buy = (id: string, user: string, value: number, currency?: string) => ({
      id,
      type: "purchase",
      user,
      item,
      ts: now + 10,
      properties: { value, ...(currency && { currency }) },
    });
    // two purchases in GBP (one written in lower case), one in EUR, one without a currency
    await post([buy("g1", a.userId, 20, "GBP"), buy("g2", b.userId, 30, "gbp"), buy("e1", a.userId, 1000, "EUR")]);
    await post([buy("n1", c.userId, 7)]);
    expect((await rows("outcomes", b.userId, "e-cur"))[0]).toMatchObject({ event: "g2", currency: "GBP" });
    expect((await rows("outcomes", c.userId, "e-cur"))[0]).toMatchObject({ event: "n1", currency: null });

    const r = await report("e-cur");
    expect(r.currency).toBe("GBP");
    expect(r.currencies).toEqual([
      { currency: "GBP", purchases: 2, revenue: 50 },
      // a tie: a named currency before none
      { currency: "EUR", purchases: 1, revenue: 1000 },
      { currency: null, purchases: 1, revenue: 7 },
    ]);
    const sum = (x: ExperimentReport, f: (a: ExperimentReport["arms"][number]) => number) =>
      x.arms.reduce((t, arm) => t + f(arm), 0);
    // revenue counts GBP only; buyers and purchases count every purchase, payers those with revenue in GBP
    expect(sum(r, (x) => x.revenue)).toBe(50);
    expect(sum(r, (x) => x.purchases)).toBe(4);
    expect(sum(r, (x) => x.buyers)).toBe(3);
    expect(sum(r, (x) => x.payers)).toBe(2);
    expect(r.daily.reduce((t, d) => t + d.revenue, 0)).toBe(50);
    expect(r.items.reduce((t, i) => t + i.revenue, 0)).toBe(50);

    const eur = await report("e-cur", "fixed", "&currency=eur");
    expect(eur.currency).toBe("EUR");
    expect(sum(eur, (x) => x.revenue)).toBe(1000);
    expect(eur.daily.reduce((t, d) => t + d.revenue, 0)).toBe(1000);
    expect(sum(eur, (x) => x.payers)).toBe(1);
    const none = await report("e-cur", "fixed", "&currency=none");
    expect(none.currency).toBeNull();
    expect(sum(none, (x) => x.revenue)).toBe(7);
    // with SHOP_CURRENCY, purchases that named none (stored before and after) count in it
    const shop = await call("/v1/admin/experiments/e-cur/report?intervals=fixed", ADMIN_HEADERS, {
      ...env,
      SHOP_CURRENCY: "gbp",
    });
    const inShop = (await shop.json()) as ExperimentReport;
    expect(inShop.currency).toBe("GBP");
    expect(inShop.currencies).toEqual([
      { currency: "GBP", purchases: 3, revenue: 57 },
      { currency: "EUR", purchases: 1, revenue: 1000 },
    ]);
    expect(sum(inShop, (x) => x.revenue)).toBe(57);
    // the dashboard says which currency its revenue is in, and what it leaves out
    const html = await (await send("/dashboard?experiment=e-cur", { headers: ADMIN_HEADERS })).text();
    expect(html).toContain(
      "Revenue in GBP; purchases in other currencies are not added to it (EUR: 1 purchase, 1000.00; no currency given: 1 purchase, 7.00).",
    );

    const bad = await send("/v1/admin/experiments/e-cur/report?currency=pounds", { headers: ADMIN_HEADERS });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("currency"),
    });
  });

  it("corrects for several arms against the control: Holm-Bonferroni by default, or as asked; a bad method is a 400", async () => {
    const three = body({
      variants: [
        { id: "personal", weight: 1, content: PERSONAL },
        { id: "again", weight: 1, content: PERSONAL },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    expect((await putExperiment("e-many", three)).status).toBe(200);
    for (const p of readers().slice(0, 12)) await open(p.userId);
    const r = await report("e-many");
    expect(r.correction).toEqual({ method: "holm-bonferroni", comparisons: 2 });
    // both arms' click-through differences are estimable with a dozen readers: each is adjusted, never narrower
    for (const arm of ["personal", "again"]) {
      const e = r.arms.find((x) => x.arm === arm)?.vsControl?.ctr.absolute;
      expect(e?.adjusted?.pValue).toBeGreaterThanOrEqual(e?.pValue as number);
      expect(e?.adjusted?.ciLow).toBeLessThanOrEqual(e?.ciLow as number);
    }
    expect((await report("e-many", "fixed", "&correction=benjamini-hochberg")).correction.method).toBe(
      "benjamini-hochberg",
    );
    const none = await report("e-many", "fixed", "&correction=none");
    expect(none.arms.find((x) => x.arm === "personal")?.vsControl?.ctr.absolute?.adjusted).toBeUndefined();
    const bad = await send("/v1/admin/experiments/e-many/report?correction=bonferroni", { headers: ADMIN_HEADERS });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("correction"),
    });
  });

  it("credits a click and a purchase that overtook the open's exposure, once it arrives; tracking off forgets them", async () => {
    expect((await putExperiment("e-late", body({ attributionDays: 7 }))).status).toBe(200);
    const a = readers()[0] as Profile;
    // a reader no other test here uses: their tracking is turned off below, and shards outlive tests
    const c = readers().at(-1) as Profile;
    // the open queues its exposure, whose message is held back (a retry) while the click and purchase land
    const rec = recordingQueue();
    const t = await mintToken(TEST_TOKEN_SECRET, { user: a.userId, campaign: CAMPAIGN, ttlSeconds: 3600 });
    const res = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, { ...env, EVENTS: rec.queue });
    expect(res.status).toBe(200);
    const exposure = rec.sent.find((e) => e.type === "exposure" && e.user === a.userId);
    expect(exposure).toBeDefined();
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    const at = (exposure as QueuedEvent).ts;
    await post([
      { id: "late-c", type: "email_click", user: a.userId, item, campaign: CAMPAIGN, ts: at + 5 },
      { id: "late-p", type: "purchase", user: a.userId, item, ts: at + 9, properties: { value: 40, currency: "EUR" } },
      // before the exposure: never the experiment's
      { id: "early-p", type: "purchase", user: a.userId, item, ts: at - 60, properties: { value: 5 } },
    ]);
    await flushExperimentStore();
    expect(await rows("outcomes", a.userId, "e-late")).toEqual([]);
    await consume(rec.sent);
    await flushExperimentStore();
    const credited = await rows("outcomes", a.userId, "e-late");
    expect(credited.map((o) => o.event).sort()).toEqual(["late-c", "late-p"]);
    const armOf = hashedArm(ExperimentSchema.parse({ v: 1, id: "e-late", ...body() }), a.userId);
    expect(new Set(credited.map((o) => o.arm))).toEqual(new Set([armOf]));
    // the purchase kept for late attribution kept its currency
    expect(credited.find((o) => o.event === "late-p")).toMatchObject({ value: 40, currency: "EUR" });
    // the right of access shows what is kept (not a purchase applied too late for any exposure to follow it);
    // tracking off deletes it
    const outcomesOf = async (user: string) =>
      (
        (await (await send(`/v1/users/${encodeURIComponent(user)}`, { headers: ADMIN_HEADERS })).json()) as {
          outcomes: { id: string }[];
        }
      ).outcomes.map((o) => o.id);
    await post([
      { id: "old-p", type: "purchase", user: a.userId, item, ts: at - 3 * 86_400, properties: { value: 1 } },
    ]);
    expect((await outcomesOf(a.userId)).sort()).toEqual(["early-p", "late-c", "late-p"]);
    await post([{ id: "c-click", type: "email_click", user: c.userId, item, campaign: CAMPAIGN, ts: at + 5 }]);
    expect(await outcomesOf(c.userId)).toEqual(["c-click"]);
    const off = recordingQueue();
    const consent = await fetchWith(
      new Request(`https://opentime.test/v1/users/${encodeURIComponent(c.userId)}/consent`, {
        method: "PUT",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ tracking: false }),
      }),
      off.queue,
    );
    expect(consent.status).toBeLessThan(300);
    await consume(off.sent);
    expect(await outcomesOf(c.userId)).toEqual([]);
  });

  it("a purchase in the exposure's second counts whatever the order: before it in the same batch too", async () => {
    expect((await putExperiment("e-tie", body({ attributionDays: 7 }))).status).toBe(200);
    const a = readers()[1] as Profile;
    const rec = recordingQueue();
    const t = await mintToken(TEST_TOKEN_SECRET, { user: a.userId, campaign: CAMPAIGN, ttlSeconds: 3600 });
    const res = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, { ...env, EVENTS: rec.queue });
    expect(res.status).toBe(200);
    const exposure = rec.sent.find((e) => e.type === "exposure" && e.user === a.userId) as QueuedEvent;
    expect(exposure).toBeDefined();
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    // the window holds the exposure's own second (a click or purchase at it counts, applied after it or in a later
    // batch): one arriving just ahead of the exposure in the same batch must count too
    const purchase: QueuedEvent = { id: "tie-p", type: "purchase", user: a.userId, item, ts: exposure.ts, value: 12 };
    await consume([purchase, exposure]);
    await flushExperimentStore();
    expect((await rows("outcomes", a.userId, "e-tie")).map((o) => o.event)).toEqual(["tie-p"]);
  });

  it("an open applied after the click that carried it moves the window back to the open: what it credits is the same as in order", async () => {
    const user = (readers().at(-4) as Profile).userId;
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    // half an hour before midnight (UTC): the click, an hour later, is on the next day
    const at = Math.floor(Date.now() / 86_400_000) * 86_400 - 1800;
    const facts = { experiment: "e-moved", arm: "personal", campaign: CAMPAIGN, days: 1 };
    const ev = (id: string, type: string, ts: number, more: Record<string, unknown> = {}) =>
      ({ id, type, user, ts, ...more }) as QueuedEvent;
    // the click (images blocked: it carries the open's exposure) and two purchases land before the open's message
    await consume([
      ev("mv-click", "email_click", at + 3600, { item, campaign: CAMPAIGN, slot: "row-0", exposures: [facts] }),
      ev("mv-between", "purchase", at + 600, { item, value: 10 }),
      ev("mv-past", "purchase", at + 86_400 + 1800, { item, value: 20 }),
    ]);
    await flushExperimentStore();
    expect(await rows("exposures", user, "e-moved")).toMatchObject([{ at: at + 3600, via: "click" }]);
    expect((await rows("outcomes", user, "e-moved")).map((o) => o.event).sort()).toEqual(["mv-click", "mv-past"]);
    // the open (made first, its message retried) arrives: the window runs from it, a day long
    await consume([ev(`exposure:e-moved`, "exposure", at, { exposure: facts })]);
    await flushExperimentStore();
    expect(await rows("exposures", user, "e-moved")).toMatchObject([{ at, via: "open" }]);
    expect((await rows("outcomes", user, "e-moved")).map((o) => o.event).sort()).toEqual(["mv-between", "mv-click"]);
    // the daily counts follow the rows: one exposure, one click, one purchase of 10
    const daily = (
      await db()
        .prepare(
          "SELECT sum(exposures) AS x, sum(clicks) AS c, sum(purchases) AS p, sum(revenue) AS r FROM daily WHERE experiment = ?",
        )
        .bind("e-moved")
        .all()
    ).results[0];
    expect(daily).toEqual({ x: 1, c: 1, p: 1, r: 10 });
    // the exposure's count moved to the open's day
    const exposuresByDay = await db()
      .prepare("SELECT day, sum(exposures) AS x FROM daily WHERE experiment = ? GROUP BY day ORDER BY day")
      .bind("e-moved")
      .all();
    const dayOf = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);
    expect(exposuresByDay.results).toContainEqual({ day: dayOf(at), x: 1 });
    expect(exposuresByDay.results).toContainEqual({ day: dayOf(at + 3600), x: 0 });
    // delivered again: nothing changes
    await consume([ev(`exposure:e-moved`, "exposure", at, { exposure: facts })]);
    await flushExperimentStore();
    expect((await rows("outcomes", user, "e-moved")).map((o) => o.event).sort()).toEqual(["mv-between", "mv-click"]);
  });

  it("the shard's alarm prunes outcomes kept past their two days, and attribution never reads them", async () => {
    const user = (readers().at(-3) as Profile).userId;
    const now = Math.floor(Date.now() / 1000);
    // after the exposure below: credited by it, were it still read
    await post([{ id: "kept-c", type: "email_click", user, item: "x", campaign: CAMPAIGN, ts: now + 30 }]);
    const shard = readerStub(env, user);
    const held = () =>
      runInDurableObject(shard, (_: unknown, state) =>
        state.storage.sql.exec("SELECT event FROM recent_outcomes WHERE user = ?", user).toArray(),
      );
    expect(await held()).toEqual([{ event: "kept-c" }]);
    // two days pass: the row is past its time, and a late exposure now credits nothing
    await runInDurableObject(shard, (_: unknown, state) => {
      state.storage.sql.exec("UPDATE recent_outcomes SET until = ? WHERE user = ?", Date.now() - 1, user);
    });
    expect((await putExperiment("e-expired", body())).status).toBe(200);
    await open(user);
    expect(await rows("outcomes", user, "e-expired")).toEqual([]);
    await runDurableObjectAlarm(shard);
    expect(await held()).toEqual([]);
  });

  it("keeps a reader's newest 200 clicks and purchases for late exposures", async () => {
    const user = (readers().at(-2) as Profile).userId;
    const now = Math.floor(Date.now() / 1000);
    const events = Array.from({ length: 205 }, (_, i) => ({
      id: `bulk-${i}`,
      type: "purchase",
      user,
      item: "x",
      ts: now - 1000 + i,
      properties: { value: 1 },
    }));
    await post(events);
    const access = await send(`/v1/users/${encodeURIComponent(user)}`, { headers: ADMIN_HEADERS });
    const kept = ((await access.json()) as { outcomes: { id: string }[] }).outcomes.map((o) => o.id);
    expect(kept).toHaveLength(200);
    expect(kept[0]).toBe("bulk-5");
    expect(kept.at(-1)).toBe("bulk-204");
  });

  it("erasure deletes the reader's rows, and their share of the daily aggregates", async () => {
    expect((await putExperiment("e-erase", body())).status).toBe(200);
    const user = (readers()[2] as Profile).userId;
    await open(user);
    const now = Math.floor(Date.now() / 1000);
    await post([{ id: "p9", type: "purchase", user, item: "x", ts: now + 1, properties: { value: 5 } }]);
    expect(await rows("outcomes", user, "e-erase")).toHaveLength(1);
    const keptOf = () =>
      runInDurableObject(readerStub(env, user), (_: unknown, state) =>
        state.storage.sql.exec("SELECT event FROM recent_outcomes WHERE user = ?", user).toArray(),
      );
    expect(await keptOf()).toEqual([{ event: "p9" }]);
    const erased = await send(`/v1/users/${user}`, { method: "DELETE", headers: ADMIN_HEADERS });
    expect(erased.status).toBe(200);
    await until(async () => (await rows("exposures", user, "e-erase")).length === 0);
    expect(await rows("outcomes", user, "e-erase")).toEqual([]);
    // and what the shard kept for late exposures
    expect(await keptOf()).toEqual([]);
    const totals = await db()
      .prepare(
        "SELECT sum(exposures) AS e, sum(purchases) AS p, sum(revenue) AS r FROM daily WHERE experiment = 'e-erase'",
      )
      .first<{ e: number; p: number; r: number }>();
    expect(totals).toEqual({ e: 0, p: 0, r: 0 });
  });
});

describe("changes while it runs", () => {
  type Saved = { recorded: { at: number; kind: string; arms?: string[] }[]; experiment: Experiment };

  it("a change of what an arm shows starts a phase, recorded with its time; the current phase counts only readers drawn since", async () => {
    const started = await putExperiment("e-content", body());
    expect(((await started.json()) as Saved).recorded).toEqual([{ at: expect.any(Number), kind: "started" }]);
    const experiment = ExperimentSchema.parse({ v: 1, id: "e-content", ...body() });
    const [before, after] = readers().filter((p) => hashedArm(experiment, p.userId) === "personal") as [
      Profile,
      Profile,
    ];
    expect((await open(before.userId)).res.headers.get("X-Opentime-Experiment")).toBe("e-content:personal");
    // the arm's campaign changes while it runs (its block, here): readers drawn from now on see only the new one
    const fresh = { v: 2, default: { id: "fresh", type: "recommendations" } };
    const changed = body({
      variants: [
        { id: "personal", weight: 1, content: fresh },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    const put = await putExperiment("e-content", changed);
    expect(put.status).toBe(200);
    const saved = (await put.json()) as Saved;
    const at = saved.experiment.phaseStart as number;
    expect(at).toBeGreaterThan(0);
    expect(saved.recorded).toEqual([{ at, kind: "content", arms: ["personal"] }]);
    // the same body again changes nothing
    expect(((await (await putExperiment("e-content", changed)).json()) as Saved).recorded).toEqual([]);
    resetExperimentCache();
    await open(after.userId);
    // all readers (the default): both, pooled, and the report says the arm changed, when
    const all = await report("e-content");
    expect(all.phase).toBe("all");
    expect(all.experiment.phaseStart).toBe(at);
    expect(all.experiment.changes).toEqual([
      { at: expect.any(Number), kind: "started" },
      { at, kind: "content", arms: ["personal"] },
    ]);
    expect(all.arms.find((a) => a.arm === "personal")?.exposed).toBe(2);
    expect(all.blocks.filter((b) => b.arm === "personal").map((b) => b.block)).toEqual(["fresh", "picks"]);
    // the current phase alone: the reader drawn since, who saw only the new content
    const current = await report("e-content", "fixed", "&phase=current");
    expect(current.phase).toBe("current");
    expect(current.arms.find((a) => a.arm === "personal")?.exposed).toBe(1);
    expect(current.blocks.filter((b) => b.arm === "personal")).toEqual([
      expect.objectContaining({ block: "fresh", exposed: 1 }),
    ]);
    // a phase it does not take is said so, naming those it takes, by the API and the dashboard alike (never read as
    // all readers)
    for (const path of [
      "/v1/admin/experiments/e-content/report?phase=first",
      "/dashboard?experiment=e-content&phase=bogus",
    ]) {
      const refused = await send(path, { headers: ADMIN_HEADERS });
      expect(refused.status).toBe(400);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(/^phase: .*"all".*"current"/);
    }
    // the dashboard says so, and links the current phase
    const stamp = new Date(at * 1000).toISOString().slice(0, 16).replace("T", " ");
    const page = await (await send("/dashboard?experiment=e-content", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`data-testid="changes"`);
    expect(page).toContain(`${stamp} UTC: what personal shows changed`);
    expect(page).toContain("pool readers who saw personal before and after");
    expect(page).toContain('href="?experiment=e-content&amp;phase=current"');
    const phased = await (
      await send("/dashboard?experiment=e-content&phase=current", { headers: ADMIN_HEADERS })
    ).text();
    expect(phased).toContain(`Only readers whose arm was drawn since ${stamp} UTC`);
    expect(phased).toContain('data-metric="personal:exposed" data-value="1"');
  });

  it("a stopped experiment says when it stopped; clicks and purchases of readers exposed while it ran count after, within their window", async () => {
    expect((await putExperiment("e-stop", body({ attributionDays: 3 }))).status).toBe(200);
    const [a, b] = readers() as [Profile, Profile];
    await open(a.userId);
    const stop = await putExperiment("e-stop", body({ attributionDays: 3, status: "stopped" }));
    const saved = (await stop.json()) as Saved;
    expect(saved.recorded).toEqual([{ at: expect.any(Number), kind: "stopped" }]);
    const stoppedAt = (saved.recorded[0] as { at: number }).at;
    resetExperimentCache();
    // after the stop: the exposed reader's click (an email opened while it ran) and purchase count for their arm
    const now = Math.floor(Date.now() / 1000);
    const item = JSON.parse(fixture().catalogJson).items[0].id as string;
    await post([
      { id: "after-c", type: "email_click", user: a.userId, item, campaign: CAMPAIGN, ts: now + 2 },
      { id: "after-p", type: "purchase", user: a.userId, item, ts: now + 3, properties: { value: 40 } },
    ]);
    // a reader who opens only now is served no arm, and exposed to nothing
    expect((await open(b.userId)).res.headers.get("X-Opentime-Experiment")).toBeNull();
    const r = await report("e-stop");
    const armOfA = hashedArm(ExperimentSchema.parse({ v: 1, id: "e-stop", ...body() }), a.userId);
    expect(r.arms.find((x) => x.arm === armOfA)).toMatchObject({ exposed: 1, clickers: 1, buyers: 1, revenue: 40 });
    expect(r.arms.reduce((s, x) => s + x.exposed, 0)).toBe(1);
    // the last window counted is the reader's, exposed before the stop; a click on images served while it ran can
    // still expose a reader for as long as the campaign keeps its decisions (30 days), and count for 3 days more
    const exposableUntil = stoppedAt + 60 + 30 * 86_400;
    expect(r.experiment).toMatchObject({
      status: "stopped",
      stoppedAt,
      attributionEndsAt: stoppedAt + 3 * 86_400,
      exposableUntil,
      finalAt: exposableUntil + 3 * 86_400,
    });
    const utc = (s: number) => new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ");
    const page = await (await send("/dashboard?experiment=e-stop", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`data-testid="stopped"`);
    expect(page).toContain(`until ${utc(exposableUntil)} UTC`);
    expect(page).toContain(`still count until ${utc(exposableUntil + 3 * 86_400)} UTC at the latest`);
  });
});

describe("variants on model versions", () => {
  it("scores a variant with the model version it names; one that cannot load serves the active model", async () => {
    const f = fixture();
    const retrained = `${f.version}-retrained`;
    await env.OPENTIME_KV.put(
      kvKeys.manifest(retrained),
      JSON.stringify({ ...JSON.parse(f.manifestJson), version: retrained }),
    );
    await env.OPENTIME_KV.put(kvKeys.catalog(retrained), f.catalogJson);
    await env.OPENTIME_KV.put(kvKeys.onnx(retrained), base64ToBytes(f.onnxBase64));
    // the readers' features for it, as `npm run seed` writes them for a new version
    for (const p of readers().slice(0, 10))
      await env.OPENTIME_KV.put(kvKeys.features(p.userId, retrained), JSON.stringify(featuresOf(p, retrained)));
    const onModel = (model: string) => ({ ...PERSONAL, model });
    const exp = {
      campaign: CAMPAIGN,
      variants: [
        { id: "retrained", weight: 1, content: onModel(retrained) },
        { id: "missing", weight: 1, content: onModel("no-such-version") },
      ],
    };
    expect((await putExperiment("e-model", exp)).status).toBe(200);
    const experiment = ExperimentSchema.parse({ v: 1, id: "e-model", ...exp });
    const seen = new Set<string>();
    for (const p of readers().slice(0, 10)) {
      const { res } = await open(p.userId);
      const arm = hashedArm(experiment, p.userId);
      seen.add(arm);
      expect(res.headers.get("X-Opentime-Model")).toBe(arm === "retrained" ? retrained : f.version);
      expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
    }
    expect(seen).toEqual(new Set(["retrained", "missing"]));
  });
});

describe("the global holdout", () => {
  it("keeps its share of every campaign's readers from personalization, and counts them", async () => {
    const put = await send("/v1/admin/holdout", {
      method: "PUT",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ share: 0.2, seed: "gh-test" }),
    });
    expect(put.status).toBe(200);
    expect(await (await send("/v1/admin/holdout", { headers: ADMIN_HEADERS })).json()).toEqual({
      share: 0.2,
      seed: "gh-test",
      phaseStart: expect.any(Number),
    });
    resetExperimentCache();
    const held = (u: string) => bucket("gh-test", "global", u) < 0.2;
    const users = readers().slice(0, 20);
    const heldOut = users.find((p) => held(p.userId)) as Profile;
    const rest = users.find((p) => !held(p.userId)) as Profile;
    const a = await open(heldOut.userId);
    expect(a.res.headers.get("X-Opentime-Experiment")).toBe("global-holdout:holdout");
    expect(a.res.headers.get("X-Opentime-Reason")).toBe("experiment-popular");
    const b = await open(rest.userId);
    expect(b.res.headers.get("X-Opentime-Experiment")).toBe("global-holdout:personalized");
    expect(b.res.headers.get("X-Opentime-Reason")).toBe("personalized");
    // a click on any campaign counts for it
    const now = Math.floor(Date.now() / 1000);
    await post([{ id: "gh-c", type: "email_click", user: rest.userId, item: "x", campaign: "another", ts: now + 2 }]);
    expect(await rows("outcomes", rest.userId, "global-holdout")).toEqual([
      expect.objectContaining({ kind: "click", arm: "personalized" }),
    ]);
    // its report: the holdout is the control, its share the intended one
    const r = await report("global-holdout");
    expect(r.control).toBe("holdout");
    expect(r.srm?.expected).toEqual({ personalized: 0.8, holdout: 0.2 });
    expect(r.arms.find((x) => x.arm === "personalized")).toMatchObject({ exposed: 1, clickers: 1 });
    // no experiment can take its id
    expect((await putExperiment("global-holdout", body())).status).toBe(400);
    // a reader an experiment's coverage leaves out is still the global holdout's (the smallest coverage: a running
    // one of 0 is refused)
    expect((await putExperiment("e-nobody", body({ coverage: 0.0001 }))).status).toBe(200);
    resetExperimentCache();
    const outside = users.find((p) => !held(p.userId) && p.userId !== rest.userId) as Profile;
    const c = await open(outside.userId);
    expect(c.res.headers.get("X-Opentime-Experiment")).toBe("global-holdout:personalized");
    expect(c.res.headers.get("X-Opentime-Reason")).toBe("personalized");
    // off again
    const before = await report("global-holdout");
    await send("/v1/admin/holdout", { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify({ share: 0 }) });
    resetExperimentCache();
    expect((await open(heldOut.userId)).res.headers.get("X-Opentime-Experiment")).toBeNull();
    // its report reads as it did: the holdout still the control, its share the one it ended with
    const after = await report("global-holdout");
    // and when it ended: its readers' clicks and purchases still count for 30 days of their first open
    const ended = after.experiment.stoppedAt as number;
    expect(after.experiment).toMatchObject({ status: "stopped", attributionEndsAt: ended + 30 * 86_400 });
    // a click on any campaign's images served while it ran can still expose a reader, for as long as a campaign
    // may keep its decisions (365 days)
    expect(after.experiment.exposableUntil).toBe(ended + 60 + 365 * 86_400);
    expect(Math.abs(ended - Date.now() / 1000)).toBeLessThan(60);
    expect(after.control).toBe("holdout");
    expect(after.srm?.expected).toEqual({ personalized: 0.8, holdout: 0.2 });
    expect(after.arms).toEqual(before.arms);
  });

  it("its one writer is the registry: a holdout an earlier version left in KV is adopted, seed and all", async () => {
    await clearExperimentRegistry();
    // what an earlier version's PUT wrote, straight to KV
    await env.OPENTIME_KV.put(kvKeys.globalHoldout, JSON.stringify({ share: 0.05, seed: "gh-legacy" }));
    const put = (b: object) =>
      send("/v1/admin/holdout", { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify(b) });
    expect(await (await send("/v1/admin/holdout", { headers: ADMIN_HEADERS })).json()).toEqual({
      share: 0.05,
      seed: "gh-legacy",
    });
    const answer = await (await put({ share: 0.1 })).json();
    expect(answer).toEqual({ share: 0.1, seed: "gh-legacy", phaseStart: expect.any(Number) });
    // published to KV, which opens and reports read
    expect(await env.OPENTIME_KV.get(kvKeys.globalHoldout, "json")).toEqual(answer);
    // changes sent at once are decided one after the other: the seed given survives either order
    const [a, b] = await Promise.all([put({ share: 0.15, seed: "gh-both" }), put({ share: 0.2 })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const held = (await (await send("/v1/admin/holdout", { headers: ADMIN_HEADERS })).json()) as { seed: string };
    expect(held.seed).toBe("gh-both");
    expect(((await env.OPENTIME_KV.get(kvKeys.globalHoldout, "json")) as { seed: string }).seed).toBe("gh-both");
    expect((await put({ share: 0 })).status).toBe(200);
    // off: a share of 0 that remembers what it ended
    expect(await env.OPENTIME_KV.get(kvKeys.globalHoldout, "json")).toMatchObject({
      share: 0,
      seed: "gh-both",
      ended: { share: expect.any(Number), at: expect.any(Number) },
    });
  });

  it("a share changed without a seed keeps the seed in force (a new one would move every reader)", async () => {
    const put = (b: object) =>
      send("/v1/admin/holdout", { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify(b) });
    const inForce = async () => (await send("/v1/admin/holdout", { headers: ADMIN_HEADERS })).json();
    const on = await put({ share: 0.05, seed: "gh-kept" });
    expect(await on.json()).toEqual({ share: 0.05, seed: "gh-kept", phaseStart: expect.any(Number) });
    const widened = await put({ share: 0.1 });
    // a new share starts a phase (the report's ratio check counts the readers recorded since)
    const phase = { phaseStart: expect.any(Number) };
    expect(await widened.json()).toEqual({ share: 0.1, seed: "gh-kept", ...phase });
    expect(await inForce()).toEqual({ share: 0.1, seed: "gh-kept", ...phase });
    // a seed given is a new seed; one turned off remembers what it ended, and on again starts a phase, its seed kept
    expect((await put({ share: 0.1, seed: "gh-new" })).status).toBe(200);
    expect(await inForce()).toEqual({ share: 0.1, seed: "gh-new", ...phase });
    expect((await put({ share: 0 })).status).toBe(200);
    expect(await inForce()).toEqual({
      share: 0,
      seed: "gh-new",
      ended: { share: 0.1, at: expect.any(Number), ...phase },
    });
    expect(await (await put({ share: 0.05 })).json()).toEqual({
      share: 0.05,
      seed: "gh-new",
      phaseStart: expect.any(Number),
    });
    expect((await put({ share: 0 })).status).toBe(200);
  });
});

describe("subject-line experiments", () => {
  it("chooses each reader's subject by their arm at the send, and the open serves that arm after a re-weight", async () => {
    const variant = (subject: string) => ({
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: { default: { subject } },
    });
    const subj = (a: number, b: number) => ({
      campaign: CAMPAIGN,
      variants: [
        { id: "a", weight: a, content: variant("Subject A") },
        { id: "b", weight: b, content: variant("Subject B") },
      ],
    });
    expect((await putExperiment("e-subj", subj(1, 1))).status).toBe(200);
    const experiment = ExperimentSchema.parse({ v: 1, id: "e-subj", ...subj(1, 1) });
    const users = readers()
      .slice(0, 10)
      .map((p) => p.userId);
    const rec = recordingQueue();
    const res = await fetchWith(
      new Request("https://opentime.test/v1/admin/subjects", {
        method: "POST",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ campaign: CAMPAIGN, users }),
      }),
      rec.queue,
    );
    expect(res.status).toBe(200);
    const answers = ((await res.json()) as { subjects: { user: string; subject: string; experiment: string }[] })
      .subjects;
    for (const a of answers) {
      const arm = hashedArm(experiment, a.user);
      expect(a.experiment).toBe(`e-subj:${arm}`);
      expect(a.subject).toBe(arm === "a" ? "Subject A" : "Subject B");
    }
    expect(rec.sent.map((e) => e.type)).toEqual(users.map(() => "assignment"));
    // a dry run's request ("record": false) is answered the same arms and records none
    const dry = recordingQueue();
    const preview = await fetchWith(
      new Request("https://opentime.test/v1/admin/subjects", {
        method: "POST",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ campaign: CAMPAIGN, users, record: false }),
      }),
      dry.queue,
    );
    expect(preview.status).toBe(200);
    const previewed = ((await preview.json()) as { subjects: { user: string; experiment: string }[] }).subjects;
    expect(previewed.map((a) => a.experiment)).toEqual(answers.map((a) => a.experiment));
    expect(dry.sent).toEqual([]);
    await consume(rec.sent);
    await flushExperimentStore();
    // everyone to b from now on: a reader sent Subject A still opens variant a, and is exposed to it
    const reweighted = await putExperiment("e-subj", subj(0.001, 1000));
    expect(reweighted.status).toBe(200);
    // a new phase: the report's ratio check counts the readers exposed from now on, at the new shares
    const phaseStart = ((await reweighted.json()) as { experiment: { phaseStart?: number } }).experiment.phaseStart;
    expect(phaseStart).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    resetExperimentCache();
    const sentA = users.find((u) => hashedArm(experiment, u) === "a") as string;
    await until(async () => {
      const p = (await env.OPENTIME_KV.get(kvKeys.profile(sentA), "json")) as Profile | null;
      return p?.experiments?.["e-subj"]?.arm === "a";
    });
    const opened = await open(sentA);
    expect(opened.res.headers.get("X-Opentime-Experiment")).toBe("e-subj:a");
    expect(await rows("exposures", sentA, "e-subj")).toEqual([expect.objectContaining({ arm: "a" })]);
    await flushExperimentStore();
    // a subject-line test counts the readers each arm was sent (an arm that wins opens is not judged per open),
    // and compares the open rate too
    const r = await report("e-subj");
    expect(r.unit).toBe("sent");
    // (a reader another test turned tracking off for gets no assignment: counted from the store's rows)
    const assigned = await Promise.all(users.map((u) => rows("assignments", u, "e-subj")));
    const sentTo = (arm: string) => assigned.filter((x) => x[0]?.arm === arm).length;
    expect(sentTo("a") + sentTo("b")).toBeGreaterThanOrEqual(users.length - 2);
    expect(r.arms.find((x) => x.arm === "a")).toMatchObject({ exposed: sentTo("a"), opened: 1 });
    expect(r.arms.find((x) => x.arm === "b")).toMatchObject({ exposed: sentTo("b"), opened: 0 });
    expect(r.arms.find((x) => x.arm !== r.control)?.vsControl?.opens).toBeDefined();
    // the new phase's ratio check counts the readers drawn at its shares only: not the reader sent Subject A
    // before it, though they opened after it began
    expect(r.srm?.since).toBe(phaseStart);
    expect(r.srm?.observed).toEqual({ a: 0, b: 0 });
    // readers sent from now on are drawn at the new shares, and counted
    const later = readers()
      .slice(10, 16)
      .map((p) => p.userId);
    const rec2 = recordingQueue();
    const res2 = await fetchWith(
      new Request("https://opentime.test/v1/admin/subjects", {
        method: "POST",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ campaign: CAMPAIGN, users: later }),
      }),
      rec2.queue,
    );
    expect(res2.status).toBe(200);
    await consume(rec2.sent);
    await flushExperimentStore();
    const r2 = await report("e-subj");
    const laterAssigned = (await Promise.all(later.map((u) => rows("assignments", u, "e-subj")))).flat().length;
    expect(laterAssigned).toBeGreaterThan(0);
    expect(r2.srm?.observed).toEqual({ a: 0, b: laterAssigned });
    expect(r2.srm?.mismatch).toBe(false);
  });
});

/** Polls until `check` holds; fails after `ms` (generous: a loaded machine takes seconds for one request). */
async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}
