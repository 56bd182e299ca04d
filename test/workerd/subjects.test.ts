/**
 * Subject lines by reader (POST /v1/admin/subjects) in workerd: the campaign's subject rules decided on the
 * reader's profile snapshot and features (segment, engagement band, propensity), never on what an opted-out or
 * erased reader's data says; subject rules that test open or model facts are refused when the campaign is saved.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile } from "../../core/profile";
import { MAX_SUBJECT_USERS, type SubjectAnswer } from "../../core/subject-request";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import worker from "../../worker/index";
import { resetModelCache } from "../../worker/model/model-store";
import { TEST_ADMIN_KEY } from "./fixture";
import { failingQueue, faultyKv } from "./support/faulty-bindings";
import { clearKv, fixture, seedModel, storeVersionCopy } from "./support/harness";

const admin = { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" };

async function send(path: string, method: string, body: unknown) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://opentime.test${path}`, { method, headers: admin, body: JSON.stringify(body) }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];
const subjectsOf = async (campaign: string, users: string[]) => {
  const res = await send("/v1/admin/subjects", "POST", { campaign, users });
  expect(res.status).toBe(200);
  return new Map(((await res.json()) as { subjects: SubjectAnswer[] }).subjects.map((s) => [s.user, s]));
};
const setProfile = async (p: Profile) => env.OPENTIME_KV.put(kvKeys.profile(p.userId), JSON.stringify(p));

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetCampaignCache();
});

describe("subject lines by reader", () => {
  it("the first rule that holds gives the subject and preheader; the default otherwise", async () => {
    const [a, b, c] = readers() as [Profile, Profile, Profile];
    const now = Math.floor(Date.now() / 1000);
    await setProfile({ ...a, segment: { id: 1, name: "loyal" } });
    await setProfile({ ...b, segment: { id: 2, name: "new" }, engagement: { score: 9, at: now } });
    await setProfile({ ...c, segment: { id: 2, name: "new" }, engagement: { score: 0, at: now } });
    const put = await send("/v1/admin/campaigns/news", "PUT", {
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: {
        rules: [
          {
            id: "loyal",
            when: { segment: { $eq: "loyal" } },
            subject: "Thanks for sticking around",
            preheader: "Picked for you",
          },
          { id: "engaged", when: { engagement: { $eq: "high" } }, subject: "New in, just for you" },
        ],
        default: { subject: "We miss you", preheader: "Come back for 10% off" },
      },
    });
    expect(put.status).toBe(200);
    const out = await subjectsOf("news", [a.userId, b.userId, c.userId]);
    expect(out.get(a.userId)).toMatchObject({
      subject: "Thanks for sticking around",
      preheader: "Picked for you",
      rule: "loyal",
    });
    expect(out.get(b.userId)).toMatchObject({ subject: "New in, just for you", preheader: null, rule: "engaged" });
    expect(out.get(c.userId)).toMatchObject({
      subject: "We miss you",
      preheader: "Come back for 10% off",
      rule: "default",
    });
    // the answer names the tests, not the reader's values
    expect(out.get(b.userId)?.why).toBe("engagement ok");
    // a reader who turned personalization off is not chosen by what is known of them
    await setProfile({ ...a, segment: { id: 1, name: "loyal" }, consent: { ...a.consent, personalization: false } });
    expect((await subjectsOf("news", [a.userId])).get(a.userId)?.rule).toBe("default");
    // nor an erased one, even should a snapshot of their profile still stand in KV
    expect((await send(`/v1/users/${b.userId}`, "DELETE", undefined)).status).toBe(200);
    await setProfile({ ...b, segment: { id: 2, name: "new" }, engagement: { score: 9, at: now } });
    expect((await subjectsOf("news", [b.userId])).get(b.userId)?.rule).toBe("default");
    // a campaign without subject rules: no subject (the sender's own is used)
    expect((await subjectsOf("plain", [a.userId])).get(a.userId)).toMatchObject({ subject: null, rule: null });
  });

  it("a reader in a popular arm or the global holdout gets the subject chosen by nothing of theirs", async () => {
    const [a] = readers() as [Profile];
    for (const r of [a]) await setProfile({ ...r, segment: { id: 1, name: "loyal" } });
    const subjects = {
      rules: [{ id: "loyal", when: { segment: { $eq: "loyal" } }, subject: "Thanks for sticking around" }],
      default: { subject: "New this week" },
    };
    const copy = { headline: "Picked for you" };
    // one campaign without block copy, one with (the two ways the route finds the reader)
    for (const [campaign, block] of [
      ["arm-plain", { id: "picks", type: "recommendations" }],
      ["arm-copy", { id: "picks", type: "recommendations", copy }],
    ] as const) {
      expect((await send(`/v1/admin/campaigns/${campaign}`, "PUT", { v: 2, default: block, subjects })).status).toBe(
        200,
      );
      expect((await subjectsOf(campaign, [a.userId])).get(a.userId)?.rule).toBe("loyal");
      // two arms of popular items: every reader gets them (one variant alone, measuring nothing, is refused)
      const arm = { weight: 1, content: "popular" };
      const experiment = {
        campaign,
        variants: [
          { id: "popular", ...arm },
          { id: "popular-2", ...arm },
        ],
      };
      expect((await send(`/v1/admin/experiments/${campaign}-pop`, "PUT", experiment)).status).toBe(200);
      resetExperimentCache();
      const popular = (await subjectsOf(campaign, [a.userId])).get(a.userId);
      expect(popular).toMatchObject({
        rule: "default",
        subject: "New this week",
        experiment: expect.stringMatching(new RegExp(`^${campaign}-pop:popular(-2)?$`)),
      });
      // arms that cannot be recorded (the queue refuses): 503 with Retry-After, as every EVENTS_UNAVAILABLE says
      const refused = await worker.fetch(
        new Request("https://opentime.test/v1/admin/subjects", {
          method: "POST",
          headers: admin,
          body: JSON.stringify({ campaign, users: [a.userId], record: true }),
        }),
        { ...env, EVENTS: failingQueue().queue },
        createExecutionContext(),
      );
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("EVENTS_UNAVAILABLE");
      expect(refused.headers.get("Retry-After")).toBe("1");
      const stop = { ...experiment, status: "stopped" };
      expect((await send(`/v1/admin/experiments/${campaign}-pop`, "PUT", stop)).status).toBe(200);
      resetExperimentCache();
    }
    // the global holdout (a fifth of the readers): those held out get the default, the others their rule
    const some = readers().slice(0, 20);
    for (const r of some) await setProfile({ ...r, segment: { id: 1, name: "loyal" } });
    expect((await send("/v1/admin/holdout", "PUT", { share: 0.2, seed: "subjects" })).status).toBe(200);
    resetExperimentCache();
    const answers = [
      ...(
        await subjectsOf(
          "arm-plain",
          some.map((r) => r.userId),
        )
      ).values(),
    ];
    const arms = answers.map((x) => [x.experiment, x.rule]);
    expect(arms.filter(([arm]) => arm === "global-holdout:holdout").length).toBeGreaterThan(0);
    for (const [arm, rule] of arms) expect(rule).toBe(arm === "global-holdout:holdout" ? "default" : "loyal");
    expect((await send("/v1/admin/holdout", "PUT", { share: 0, seed: "subjects" })).status).toBe(200);
    resetExperimentCache();
  });

  it("with no model serving, rules on the reader's own facts hold with block copy or without", async () => {
    const [a] = readers() as [Profile];
    await setProfile({ ...a, engagement: { score: 9, at: Math.floor(Date.now() / 1000) } });
    await env.OPENTIME_KV.delete(kvKeys.activeModel);
    resetModelCache();
    const subjects = {
      rules: [{ id: "engaged", when: { engagement: { $eq: "high" } }, subject: "New in, just for you" }],
      default: { subject: "We miss you" },
    };
    for (const [campaign, block] of [
      ["nomodel-copy", { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } }],
      ["nomodel-plain", { id: "picks", type: "recommendations" }],
    ] as const) {
      expect((await send(`/v1/admin/campaigns/${campaign}`, "PUT", { v: 2, default: block, subjects })).status).toBe(
        200,
      );
      expect((await subjectsOf(campaign, [a.userId])).get(a.userId)?.rule, campaign).toBe("engaged");
    }
    // nor is an opted-out reader's data used without a model
    await setProfile({ ...a, engagement: { score: 9, at: 0 }, consent: { ...a.consent, personalization: false } });
    expect((await subjectsOf("nomodel-plain", [a.userId])).get(a.userId)?.rule).toBe("default");
  });

  it("a campaign held on a model version: the subject sees that version's segment, with block copy or without", async () => {
    const [a] = readers() as [Profile];
    const pinned = await storeVersionCopy("pinned");
    // the active version's features say one segment, the pinned version's another (a retrain renamed its clusters)
    const features = (p: Profile, version: string, name: string) =>
      env.OPENTIME_KV.put(
        kvKeys.features(p.userId, version),
        JSON.stringify(featuresOf({ ...p, segment: { id: 1, name } }, version)),
      );
    await features(a, fixture().version, "loyal");
    await features(a, pinned, "vip");
    const subjects = {
      rules: [{ id: "vip", when: { segment: { $eq: "vip" } }, subject: "For our VIPs" }],
      default: { subject: "New this week" },
    };
    for (const [campaign, block] of [
      ["pinned-copy", { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } }],
      ["pinned-plain", { id: "picks", type: "recommendations" }],
    ] as const) {
      const body = { v: 2, model: pinned, default: block, subjects };
      expect((await send(`/v1/admin/campaigns/${campaign}`, "PUT", body)).status).toBe(200);
      expect((await subjectsOf(campaign, [a.userId])).get(a.userId)?.rule, campaign).toBe("vip");
    }
  });

  it("a campaign edited a moment ago: the subjects are the last edit's, where KV still holds the one before", async () => {
    const [a] = readers() as [Profile];
    const edit = (subject: string) => ({
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: { rules: [], default: { subject } },
    });
    expect((await send("/v1/admin/campaigns/fresh", "PUT", edit("Old line"))).status).toBe(200);
    const before = await env.OPENTIME_KV.get(kvKeys.campaign("fresh"), "text");
    expect((await send("/v1/admin/campaigns/fresh", "PUT", edit("New line"))).status).toBe(200);
    // KV at this location has not caught up with the writer's for up to a minute: it still answers the edit before
    await env.OPENTIME_KV.put(kvKeys.campaign("fresh"), before as string);
    resetCampaignCache();
    expect((await subjectsOf("fresh", [a.userId])).get(a.userId)?.subject).toBe("New line");
    // and one created a moment ago, not in KV here yet, is that campaign, not the defaults (no subject rules)
    expect((await send("/v1/admin/campaigns", "POST", { id: "brand-new", campaign: edit("Hello") })).status).toBe(201);
    await env.OPENTIME_KV.delete(kvKeys.campaign("brand-new"));
    expect((await subjectsOf("brand-new", [a.userId])).get(a.userId)?.subject).toBe("Hello");
  });

  it("a reader whose profile cannot be read fails the batch (503 KV_UNAVAILABLE), never a stranger's subject", async () => {
    const [a, b] = readers() as [Profile, Profile];
    for (const r of [a, b]) await setProfile({ ...r, segment: { id: 1, name: "loyal" } });
    const subjects = {
      rules: [{ id: "loyal", when: { segment: { $eq: "loyal" } }, subject: "Thanks for sticking around" }],
      default: { subject: "New this week" },
    };
    const copy = { headline: "Picked for you" };
    // both ways the route reads a reader: a ranking (block copy), or the profile alone
    for (const [campaign, block] of [
      ["kv-copy", { id: "picks", type: "recommendations", copy }],
      ["kv-plain", { id: "picks", type: "recommendations" }],
    ] as const) {
      expect((await send(`/v1/admin/campaigns/${campaign}`, "PUT", { v: 2, default: block, subjects })).status).toBe(
        200,
      );
      // KV's own refusal of one reader's profile (a deadline's error is handled alike: worker/errors.ts)
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "rate-limited", prefix: kvKeys.profile(a.userId) }]);
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("https://opentime.test/v1/admin/subjects", {
          method: "POST",
          headers: admin,
          body: JSON.stringify({ campaign, users: [a.userId, b.userId] }),
        }),
        { ...env, OPENTIME_KV: f.kv },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(f.hits, campaign).toBeGreaterThan(0);
      expect(res.status, campaign).toBe(503);
      expect(res.headers.get("Retry-After")).toBe("1");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KV_UNAVAILABLE");
      // read again once KV answers: both get their rule
      const out = await subjectsOf(campaign, [a.userId, b.userId]);
      expect([out.get(a.userId)?.rule, out.get(b.userId)?.rule], campaign).toEqual(["loyal", "loyal"]);
    }
  });

  it("refuses subject rules on facts unknown at send time, and bad requests, naming the field", async () => {
    const bad = await send("/v1/admin/campaigns/news", "PUT", {
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: {
        rules: [{ id: "de", when: { country: { $eq: "DE" } }, subject: "Hallo" }],
        default: { subject: "Hi" },
      },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /^subjects\.rules\[0\]\.when: subjects are chosen before any open: they test reader facts only \(not country\)/,
    );
    for (const subject of ['=HYPERLINK("x")', "@SUM(1)", "two\nlines"]) {
      const res = await send("/v1/admin/campaigns/news", "PUT", {
        v: 2,
        default: { id: "picks", type: "recommendations" },
        subjects: { rules: [], default: { subject } },
      });
      expect(res.status, subject).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /^subjects\.default\.subject: /,
      );
    }
    const tooMany = await send("/v1/admin/subjects", "POST", {
      campaign: "news",
      users: Array.from({ length: 151 }, (_, i) => `u${i}`),
    });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toMatch(/^users: /);
  });

  it("takes a full batch of ids of 128 characters with every character escaped, as Python's json.dumps writes it", async () => {
    const block = { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } };
    const subjects = { rules: [], default: { subject: "D" } };
    expect((await send("/v1/admin/campaigns/escaped", "PUT", { v: 2, default: block, subjects })).status).toBe(200);
    const users = Array.from(
      { length: MAX_SUBJECT_USERS },
      (_, i) => `${String(i).padStart(3, "0")}${"\u3042".repeat(125)}`,
    );
    const body = JSON.stringify({ campaign: "escaped", users }).replace(
      /[\u0080-\uffff]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://opentime.test/v1/admin/subjects", { method: "POST", headers: admin, body }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status, (await res.clone().text()).slice(0, 200)).toBe(200);
    expect(((await res.json()) as { subjects: SubjectAnswer[] }).subjects).toHaveLength(MAX_SUBJECT_USERS);
  });

  it("a full batch stays within a Worker invocation's 1,000 KV operations: the experiment and holdout read once", async () => {
    // the worst case: readers without a profile (a tombstone under each token secret asked too), an experiment and
    // the global holdout on the campaign, a token secret being rotated
    const block = { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } };
    const subjects = {
      rules: [{ id: "r", when: { segment: { $eq: "loyal" } }, subject: "S" }],
      default: { subject: "D" },
    };
    expect((await send("/v1/admin/campaigns/batch", "PUT", { v: 2, default: block, subjects })).status).toBe(200);
    const variant = { weight: 1, content: { v: 2, default: block, subjects } };
    const experiment = {
      campaign: "batch",
      variants: [
        { id: "a", ...variant },
        { id: "b", ...variant },
      ],
    };
    expect((await send("/v1/admin/experiments/batch-test", "PUT", experiment)).status).toBe(200);
    expect((await send("/v1/admin/holdout", "PUT", { share: 0.05, seed: "batch" })).status).toBe(200);
    resetExperimentCache();
    const reads = new Map<string, number>();
    let ops = 0;
    const kv = new Proxy(env.OPENTIME_KV, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          ops++;
          const key = String(args[0]);
          reads.set(key, (reads.get(key) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const users = Array.from({ length: MAX_SUBJECT_USERS }, (_, i) => `new-reader-${i}`);
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://opentime.test/v1/admin/subjects", {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ campaign: "batch", users, record: false }),
      }),
      { ...env, OPENTIME_KV: kv, TOKEN_SECRET_PREVIOUS: "previous-secret-0123456789abcdef" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(reads.get(kvKeys.globalHoldout)).toBe(1);
    expect(reads.get(kvKeys.campaignExperiment("batch"))).toBe(1);
    expect(ops).toBeLessThanOrEqual(1000);
    expect((await send("/v1/admin/holdout", "PUT", { share: 0, seed: "batch" })).status).toBe(200);
    resetExperimentCache();
  });
});
