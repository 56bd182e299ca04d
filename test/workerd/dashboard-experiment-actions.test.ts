/**
 * An experiment's buttons on its dashboard page, in workerd with the real registry, campaigns' writer, KV, queue
 * consumer, reader shards and D1: Stop really stops assigning (a reader not yet counted gets the campaign as it is
 * and is exposed to nothing), Start again keeps each counted reader's arm and begins no phase; "Ship this arm" makes
 * what an amp-list open of the campaign serves the arm's, for a reader of another arm too, and records it; a
 * campaign edited since the page was shown is refused and kept, never overwritten; only the dashboard's own pages
 * may post; a popular arm is not offered; the page's words come from a code and its own reads, never the URL.
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { assign } from "../../core/experiments/assignment";
import { ExperimentSchema } from "../../core/experiments/experiment";
import type { Profile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import type { Bindings } from "../../worker/env";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import { TEST_TOKEN_SECRET } from "./fixture";
import {
  experimentOn,
  followed,
  freshCampaign,
  ORIGIN,
  page,
  press,
  recs,
  shipForm,
  stored,
  storeExperiment,
} from "./support/dashboard-forms";
import {
  ADMIN_HEADERS,
  call,
  consume,
  fixture,
  flushExperimentStore,
  freshExperimentState,
  putCampaign,
  recordingQueue,
  SENDER,
  send,
} from "./support/harness";

const CAMPAIGN = "dash-camp";
const body = experimentOn(CAMPAIGN, [{ id: "popular", weight: 1, content: "popular" }]);

const rowText = (html: string, arm: string) =>
  (new RegExp(`<tr data-ship="${arm}">(.*?)</tr>`, "s").exec(html)?.[1] ?? "").replace(/<[^>]*>/g, " ");

const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];

/** The arm the hashes give a reader not yet counted. */
function hashedArm(id: string, user: string): string {
  const a = assign(ExperimentSchema.parse({ v: 1, id, ...body() }), user);
  return a.kind === "variant" ? a.variant : a.kind;
}

/** An amp-list open of the campaign by `user`, the events it queued applied by the real consumer and shards. */
async function open(user: string) {
  // each isolate's copies expire within a minute; these tests are that minute later
  resetCampaignCache();
  resetExperimentCache();
  resetBlockMemo();
  const rec = recordingQueue();
  const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 3600 });
  const res = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, { ...env, EVENTS: rec.queue });
  expect(res.status).toBe(200);
  const json = (await res.json()) as { block: { id: string } };
  if (rec.sent.length > 0) await consume(rec.sent);
  await flushExperimentStore();
  return {
    block: json.block.id,
    arm: res.headers.get("X-Opentime-Experiment"),
    exposures: rec.sent.filter((e) => e.type === "exposure").length,
  };
}

beforeEach(() => freshCampaign(CAMPAIGN));

describe("Stop and Start on an experiment's page", () => {
  it("Stop stops assigning: a reader not yet counted gets the campaign as it is; Start again keeps each counted reader's arm", async () => {
    await storeExperiment("e-stop", body());
    const [first, later] = readers().filter((p) => hashedArm("e-stop", p.userId) === "a") as [Profile, Profile];
    const before = await open(first.userId);
    expect(before).toMatchObject({ block: "picks-a", arm: "e-stop:a" });
    const shown = await page("?experiment=e-stop");
    expect(shown).toContain('data-testid="stop"');
    expect(shown).toContain("every reader gets campaign dash-camp as it is");

    const stop = await followed(await press("/dashboard/experiments/e-stop/stop"));
    expect(stop.location).toBe("/dashboard?experiment=e-stop&change=stopped");
    expect(stop.message).toMatch(/^Stopped\. Readers now get campaign dash-camp as it is/);
    expect((await stored("e-stop")).status).toBe("stopped");
    expect((await stored("e-stop")).changes?.map((c) => c.kind)).toEqual(["started", "stopped"]);
    // nobody is assigned: the counted reader and the new one both get the campaign as it is, exposed to nothing
    expect(await open(first.userId)).toEqual({ block: "picks", arm: null, exposures: 0 });
    expect(await open(later.userId)).toEqual({ block: "picks", arm: null, exposures: 0 });
    const stoppedPage = await page("?experiment=e-stop");
    expect(stoppedPage).toContain('data-testid="start"');
    expect(stoppedPage).not.toContain('data-testid="stop"');
    expect(stoppedPage).toContain("No new phase begins");

    const phase = (await stored("e-stop")).phaseStart;
    const start = await followed(await press("/dashboard/experiments/e-stop/start"));
    expect(start.message).toMatch(/^Running\. Readers counted before keep their arm/);
    const again = await stored("e-stop");
    expect(again.status).toBe("running");
    expect(again.changes?.map((c) => c.kind)).toEqual(["started", "stopped", "started"]);
    expect(again.phaseStart).toBe(phase);
    expect((await open(first.userId)).arm).toBe("e-stop:a");
  });

  it("a start where another experiment runs on the campaign is refused, the page saying why from its own reads", async () => {
    await storeExperiment("e-old", body({ status: "stopped" }));
    await storeExperiment("e-new", body());
    const refused = await followed(await press("/dashboard/experiments/e-old/start"));
    expect(refused.location).toBe("/dashboard?experiment=e-old&change=start-refused");
    expect(refused.message).toBe(
      "Not started: another experiment runs on campaign dash-camp (one at a time per campaign): stop it first. Nothing changed.",
    );
    expect((await stored("e-old")).status).toBe("stopped");
    expect((await stored("e-new")).status).toBe("running");
    // one that could never measure anything says that instead
    await storeExperiment("e-one", {
      campaign: "other",
      variants: [{ id: "a", weight: 1, content: recs("x") }],
      status: "stopped",
    });
    expect((await followed(await press("/dashboard/experiments/e-one/start"))).message).toMatch(
      /^Not started: variants: one variant and no holdout compares nothing/,
    );
    expect((await stored("e-one")).status).toBe("stopped");
  });

  it("only the dashboard's own pages may post: another Origin, or none, is 403 and changes nothing", async () => {
    await storeExperiment("e-origin", body());
    for (const origin of ["https://evil.example", null]) {
      const res = await press("/dashboard/experiments/e-origin/stop", {}, origin);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ORIGIN_NOT_ALLOWED");
      const ship = await press("/dashboard/experiments/e-origin/ship", { arm: "b" }, origin);
      expect(ship.status).toBe(403);
    }
    expect((await stored("e-origin")).status).toBe("running");
    expect((await press("/dashboard/experiments/nothing/stop")).status).toBe(404);
  });

  it("only `start` and `stop` press: a path that begins with one or ends with the other is 404 and changes nothing", async () => {
    await storeExperiment("e-paths", body());
    for (const path of ["startle", "nonstop", "bus-stop", "start-stop"])
      expect((await press(`/dashboard/experiments/e-paths/${path}`)).status, path).toBe(404);
    expect((await stored("e-paths")).status).toBe("running");
  });

  it("without D1 (no report, nothing counted) the page still shows the experiment's buttons, and they work", async () => {
    await storeExperiment("e-nodb", body());
    const bare = { ...env, DB: undefined } as typeof env;
    const html = await page("?experiment=e-nodb", bare);
    expect(html).toContain('data-testid="experiment-id">e-nodb<');
    expect(html).toMatch(
      /data-testid="no-report">No results: experiments are counted in a D1 database[^<]*The buttons above work without it/,
    );
    expect(html).not.toContain('data-testid="arms"');
    expect(html).toContain('data-testid="stop"');
    // shipping is offered too, with no verdict (there is no report to judge by)
    expect(shipForm(html, "b")).not.toBeNull();
    expect(html).not.toContain('data-testid="verdict"');
    const stop = await followed(await press("/dashboard/experiments/e-nodb/stop", {}, ORIGIN, bare), bare);
    expect(stop.message).toMatch(/^Stopped\. Readers now get campaign dash-camp as it is/);
    expect((await stored("e-nodb")).status).toBe("stopped");
    expect(await page("?experiment=e-nodb", bare)).toContain('data-testid="start"');
    // and with no experiment to show, the page says only why there are no results
    await freshExperimentState();
    const empty = await page("", bare);
    expect(empty).toContain('data-testid="no-report">No results');
    expect(empty).not.toContain("The buttons above");
  });

  it("says nothing a link makes up: a code the experiment does not bear out shows no message", async () => {
    await storeExperiment("e-link", body());
    const html = await page("?experiment=e-link&change=stopped");
    expect(html).not.toContain('data-testid="experiment-message"');
    expect(await page("?experiment=e-link&change=shipped&arm=b")).not.toContain('data-testid="experiment-message"');
    expect(await page(`?experiment=e-link&change=${encodeURIComponent("Call 555-0100")}`)).not.toContain("555-0100");
    // the global holdout has no buttons (PUT /v1/admin/holdout): turned off, a link saying "stopped" says nothing
    for (const share of [0.05, 0]) {
      const res = await send("/v1/admin/holdout", {
        method: "PUT",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ share }),
      });
      expect(res.status).toBe(200);
    }
    const holdout = await page("?experiment=global-holdout&change=stopped");
    expect(holdout).toContain('data-testid="experiment-id">global-holdout<');
    expect(holdout).not.toContain('data-testid="experiment-message"');
    expect(holdout).not.toContain('data-testid="experiment-controls"');
  });
});

describe("Ship this arm", () => {
  it("makes the arm what every reader of the campaign gets, a reader of another arm too, then stops and records it", async () => {
    await storeExperiment("e-ship", body());
    const reader = readers().find((p) => hashedArm("e-ship", p.userId) === "a") as Profile;
    expect(await open(reader.userId)).toMatchObject({ block: "picks-a", arm: "e-ship:a" });
    const html = await page("?experiment=e-ship");
    // no data yet: offered all the same, and said to be no winner yet
    expect(rowText(html, "b")).toContain("Not (yet) a winner");
    const form = shipForm(html, "b") as Record<string, string>;
    expect(Object.keys(form)).toEqual(["arm", "arm-tag", "campaign-etag"]);
    const shipped = await followed(await press("/dashboard/experiments/e-ship/ship", form));
    expect(shipped.location).toBe("/dashboard?experiment=e-ship&change=shipped&arm=b");
    expect(shipped.message).toMatch(/^Shipped b: campaign dash-camp now shows every reader what b showed/);
    const campaign = await send(`/v1/admin/campaigns/${CAMPAIGN}`, { headers: ADMIN_HEADERS });
    expect(((await campaign.json()) as { campaign: { default: { id: string } } }).campaign.default.id).toBe("picks-b");
    const after = await stored("e-ship");
    expect(after.status).toBe("stopped");
    expect(after.changes?.slice(-2)).toEqual([
      { at: expect.any(Number), kind: "shipped", arms: ["b"] },
      { at: expect.any(Number), kind: "stopped" },
    ]);
    // the amp-list of a reader of arm a now serves b's content, outside any arm
    expect(await open(reader.userId)).toEqual({ block: "picks-b", arm: null, exposures: 0 });
    expect(await page("?experiment=e-ship")).toMatch(
      /data-testid="changes">.*b shipped: the campaign shows what it showed/s,
    );
  });

  it("refuses, writing nothing, when the campaign was edited since the page was shown: the edit stays", async () => {
    await storeExperiment("e-race", body());
    const form = shipForm(await page("?experiment=e-race"), "b") as Record<string, string>;
    // a colleague's edit lands between the page and the press
    expect((await putCampaign(CAMPAIGN, recs("colleague"))).status).toBe(200);
    const refused = await followed(await press("/dashboard/experiments/e-race/ship", form));
    expect(refused.location).toBe("/dashboard?experiment=e-race&change=ship-campaign-changed&arm=b");
    expect(refused.message).toMatch(/^Nothing shipped: campaign dash-camp was edited since this page was shown/);
    const campaign = await send(`/v1/admin/campaigns/${CAMPAIGN}`, { headers: ADMIN_HEADERS });
    expect(((await campaign.json()) as { campaign: { default: { id: string } } }).campaign.default.id).toBe(
      "colleague",
    );
    expect((await stored("e-race")).status).toBe("running");
    expect((await stored("e-race")).changes?.map((c) => c.kind)).toEqual(["started"]);
    // the page drawn again carries the new ETag: shipping then goes through
    const fresh = shipForm(await page("?experiment=e-race"), "b") as Record<string, string>;
    expect((await followed(await press("/dashboard/experiments/e-race/ship", fresh))).message).toMatch(/^Shipped b/);
  });

  it("refuses when what the arm shows changed since the page was shown (an experiment PUT)", async () => {
    await storeExperiment("e-arm", body());
    const form = shipForm(await page("?experiment=e-arm"), "b") as Record<string, string>;
    await storeExperiment(
      "e-arm",
      body({
        variants: [
          { id: "a", weight: 1, content: recs("picks-a") },
          { id: "b", weight: 1, content: recs("picks-b2") },
          { id: "popular", weight: 1, content: "popular" },
        ],
      }),
    );
    const refused = await followed(await press("/dashboard/experiments/e-arm/ship", form));
    expect(refused.location).toBe("/dashboard?experiment=e-arm&change=ship-arm-changed&arm=b");
    const campaign = await send(`/v1/admin/campaigns/${CAMPAIGN}`, { headers: ADMIN_HEADERS });
    expect(((await campaign.json()) as { campaign: { default: { id: string } } }).campaign.default.id).toBe("picks");
    expect((await stored("e-arm")).status).toBe("running");
  });

  it("a stop that fails after the campaign was written is said so on the page, never hidden behind an error", async () => {
    await storeExperiment("e-half", body());
    const form = shipForm(await page("?experiment=e-half"), "b") as Record<string, string>;
    // the registry answers its read, then is lost before the stop (the runtime's passing failure)
    const registry = env.EXPERIMENT_REGISTRY as NonNullable<Bindings["EXPERIMENT_REGISTRY"]>;
    const lost = () => Promise.reject(Object.assign(new Error("Network connection lost."), { retryable: true }));
    const flaky = {
      idFromName: (name: string) => registry.idFromName(name),
      get: (id: DurableObjectId) => ({ find: (e: string) => registry.get(id).find(e), edit: lost }),
    } as unknown as Bindings["EXPERIMENT_REGISTRY"];
    const res = await press("/dashboard/experiments/e-half/ship", form, ORIGIN, { ...env, EXPERIMENT_REGISTRY: flaky });
    const told = await followed(res);
    expect(told.location).toBe("/dashboard?experiment=e-half&change=shipped-not-stopped&arm=b");
    expect(told.message).toMatch(
      /^Campaign dash-camp now shows what b showed, but the experiment could not be stopped/,
    );
    expect((await stored("e-half")).status).toBe("running");
    const campaign = await send(`/v1/admin/campaigns/${CAMPAIGN}`, { headers: ADMIN_HEADERS });
    expect(((await campaign.json()) as { campaign: { default: { id: string } } }).campaign.default.id).toBe("picks-b");
    // Stop then finishes it
    expect((await followed(await press("/dashboard/experiments/e-half/stop"))).message).toMatch(/^Stopped\./);
  });

  it("is not offered for popular items or the holdout, saying why; a hand-made post for one is 400", async () => {
    await storeExperiment("e-pop", body({ holdout: 0.1 }));
    const html = await page("?experiment=e-pop");
    expect(shipForm(html, "popular")).toBeNull();
    expect(shipForm(html, "holdout")).toBeNull();
    expect(rowText(html, "popular")).toContain("Not offered: popular serves popular items with nothing of the reader");
    expect(rowText(html, "holdout")).toContain("Not offered: the holdout serves popular items");
    const form = shipForm(html, "a") as Record<string, string>;
    for (const arm of ["popular", "holdout"]) {
      const res = await press("/dashboard/experiments/e-pop/ship", { ...form, arm });
      expect(res.status).toBe(400);
    }
    expect((await stored("e-pop")).status).toBe("running");
  });
});
