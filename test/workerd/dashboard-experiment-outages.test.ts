/**
 * An experiment's buttons when Workers KV fails for a passing reason (its rate limit, as workerd words it), in
 * workerd with the real registry and campaigns' writer, KV failing inside them: the press is answered with a
 * redirect to the experiment's page, never a JSON 503 in the browser, and the page says what was written. A
 * start or stop the registry could not decide (its read of KV failed before its transaction) changed nothing;
 * a ship whose campaign could not be read wrote nothing; one whose campaign write KV did not confirm, or whose
 * writer was lost during the call, may have landed and did not stop the experiment, and the page says that.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ExperimentSchema } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import type { Bindings } from "../../worker/env";
import { experimentRegistry } from "../../worker/experiments/registry-stub";
import { objectEnv } from "../../worker/lib/bounded-env";
import { type CampaignWriter, OWN_WRITES_MS } from "../../worker/state/campaign-writer";
import {
  experimentOn,
  followed,
  freshCampaign,
  ORIGIN,
  page,
  press,
  shipForm,
  stored,
  storeExperiment,
} from "./support/dashboard-forms";
import { type FaultyKv, faultyKv, type KvFault } from "./support/faulty-bindings";
import { ADMIN_HEADERS, send } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

const CAMPAIGN = "dash-down";
const body = experimentOn(CAMPAIGN);

/** What the campaign's default block is, as its editors read it. */
async function campaignBlock(): Promise<string> {
  const res = await send(`/v1/admin/campaigns/${CAMPAIGN}`, { headers: ADMIN_HEADERS });
  return ((await res.json()) as { campaign: { default: { id: string } } }).campaign.default.id;
}

const writers = env.CAMPAIGN_WRITER as NonNullable<Bindings["CAMPAIGN_WRITER"]>;
const writer = () => writers.get(writers.idFromName("campaigns"));

/**
 * `act` run while the Durable Object behind `stub` reads and writes Workers KV through `faults` (the real
 * namespace otherwise); the object's own KV is put back before this returns. The faults must be hit.
 */
async function withObjectKv<T>(stub: DurableObjectStub, faults: KvFault[], act: () => Promise<T>): Promise<T> {
  const kv: FaultyKv = faultyKv(env.OPENTIME_KV, faults);
  try {
    return await withObjectEnv(stub, (real) => ({ ...real, OPENTIME_KV: kv.kv }), act);
  } finally {
    expect(kv.hits, "the fault was hit").toBeGreaterThan(0);
  }
}

const rateLimited = (ops: KvFault["ops"], prefix: string): KvFault[] => [{ ops, mode: "rate-limited", prefix }];

beforeEach(() => freshCampaign(CAMPAIGN));

describe("Stop and Start when Workers KV fails", () => {
  it("a start the registry could not decide changes nothing, and the page says to press again", async () => {
    await storeExperiment("e-start", body({ status: "stopped" }));
    const before = await stored("e-start");
    // the registry reads the campaign's copy in KV (what it has not adopted yet) before its transaction
    const res = await withObjectKv(experimentRegistry(env), rateLimited(["get"], kvKeys.campaignExperiment("")), () =>
      press("/dashboard/experiments/e-start/start"),
    );
    const told = await followed(res);
    expect(told.location).toBe("/dashboard?experiment=e-start&change=not-started");
    expect(told.message).toBe(
      "Not started: Workers KV could not be read just now, and nothing was changed: the experiment is still stopped. Press Start again in a moment.",
    );
    expect(await stored("e-start")).toEqual(before);
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN))).toBeNull();
    // pressed again once KV answers, it starts
    expect((await followed(await press("/dashboard/experiments/e-start/start"))).message).toMatch(/^Running\./);
  });

  it("a stop of an experiment the registry has not adopted yet, KV failing, changes nothing either", async () => {
    // stored in KV by a Worker from before the registry, served on its campaign
    const legacy = ExperimentSchema.parse({ v: 1, id: "e-legacy", ...body() });
    await env.OPENTIME_KV.put(kvKeys.experiment("e-legacy"), JSON.stringify(legacy));
    await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(legacy));
    const res = await withObjectKv(experimentRegistry(env), rateLimited(["get"], kvKeys.campaignExperiment("")), () =>
      press("/dashboard/experiments/e-legacy/stop"),
    );
    const told = await followed(res);
    expect(told.location).toBe("/dashboard?experiment=e-legacy&change=not-stopped");
    expect(told.message).toBe(
      "Not stopped: Workers KV could not be read just now, and nothing was changed: the experiment still runs. Press Stop again in a moment.",
    );
    expect((await stored("e-legacy")).status).toBe("running");
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")).toEqual(legacy);
    expect((await followed(await press("/dashboard/experiments/e-legacy/stop"))).message).toMatch(/^Stopped\./);
  });

  it("an experiment not adopted yet whose record KV fails to read is not taken for none: not stopped, not shipped", async () => {
    const legacy = ExperimentSchema.parse({ v: 1, id: "e-unread-record", ...body() });
    await env.OPENTIME_KV.put(kvKeys.experiment("e-unread-record"), JSON.stringify(legacy));
    await env.OPENTIME_KV.put(kvKeys.campaignExperiment(CAMPAIGN), JSON.stringify(legacy));
    const failing = rateLimited(["get"], kvKeys.experiment(""));
    const stop = await withObjectKv(experimentRegistry(env), failing, () =>
      press("/dashboard/experiments/e-unread-record/stop"),
    );
    expect(stop.status).toBe(303);
    expect(stop.headers.get("Location")).toBe("/dashboard?experiment=e-unread-record&change=not-stopped");
    const form = { arm: "b", "arm-tag": "as-drawn", "campaign-etag": "" };
    const ship = await withObjectKv(experimentRegistry(env), failing, () =>
      press("/dashboard/experiments/e-unread-record/ship", form),
    );
    expect(ship.status).toBe(303);
    expect(ship.headers.get("Location")).toBe("/dashboard?experiment=e-unread-record&change=not-shipped&arm=b");
    // nothing changed: still served on its campaign, the campaign as it was
    expect(await env.OPENTIME_KV.get(kvKeys.campaignExperiment(CAMPAIGN), "json")).toEqual(legacy);
    expect(await campaignBlock()).toBe("picks");
    expect((await stored("e-unread-record")).status).toBe("running");
  });
});

describe("Ship this arm when Workers KV fails", () => {
  it("a campaign that could not be read writes nothing: the page says nothing was shipped, ship again", async () => {
    await storeExperiment("e-unread", body());
    const form = shipForm(await page("?experiment=e-unread"), "b") as Record<string, string>;
    // past the writer's own-writes window it reads KV for the campaign
    await runInDurableObject(writer(), (_: CampaignWriter, state) => {
      state.storage.sql.exec("UPDATE recent SET at = at - ?", OWN_WRITES_MS + 1000);
    });
    const res = await withObjectKv(writer(), rateLimited(["get"], kvKeys.campaign(CAMPAIGN)), () =>
      press("/dashboard/experiments/e-unread/ship", form),
    );
    const told = await followed(res);
    expect(told.location).toBe("/dashboard?experiment=e-unread&change=not-shipped&arm=b");
    expect(told.message).toMatch(
      /^Nothing shipped: Workers KV \(or the campaigns(&#39;|')? writer\) could not be used just now \(the experiment and campaign dash-down are read, then the campaign written\), and nothing was written/,
    );
    expect(await campaignBlock()).toBe("picks");
    expect((await stored("e-unread")).status).toBe("running");
    expect((await stored("e-unread")).changes?.map((c) => c.kind)).toEqual(["started"]);
    expect((await followed(await press("/dashboard/experiments/e-unread/ship", form))).message).toMatch(/^Shipped b/);
  });

  it("a campaign write not confirmed (KV's refusal, or the writer lost) is said to be unknown, the experiment running", async () => {
    await storeExperiment("e-unsure", body());
    const form = shipForm(await page("?experiment=e-unsure"), "b") as Record<string, string>;
    const unconfirmed = "/dashboard?experiment=e-unsure&change=ship-unconfirmed&arm=b";
    const message =
      /^Not confirmed: what b shows was sent as campaign dash-down, but Workers KV \(or the campaigns(&#39;|')? writer\) did not confirm it was stored, so the campaign may show it now or may be as it was; the experiment was not stopped/;
    const refused = await withObjectKv(writer(), rateLimited(["put"], kvKeys.campaign(CAMPAIGN)), () =>
      press("/dashboard/experiments/e-unsure/ship", form),
    );
    const told = await followed(refused);
    expect(told.location).toBe(unconfirmed);
    expect(told.message).toMatch(message);
    // the writer lost during its call (the runtime's passing failure): whether it wrote is not known either
    const lost = () => Promise.reject(Object.assign(new Error("Network connection lost."), { retryable: true }));
    const flaky = {
      idFromName: (name: string) => writers.idFromName(name),
      get: (id: DurableObjectId) => ({ read: (c: string) => writers.get(id).read(c), write: lost }),
    } as unknown as Bindings["CAMPAIGN_WRITER"];
    const res = await press("/dashboard/experiments/e-unsure/ship", form, ORIGIN, { ...env, CAMPAIGN_WRITER: flaky });
    expect((await followed(res)).location).toBe(unconfirmed);
    // neither wrote here; the experiment was not stopped; shipping again from the page goes through
    expect(await campaignBlock()).toBe("picks");
    expect((await stored("e-unsure")).changes?.map((c) => c.kind)).toEqual(["started"]);
    const again = shipForm(await page("?experiment=e-unsure"), "b") as Record<string, string>;
    expect((await followed(await press("/dashboard/experiments/e-unsure/ship", again))).message).toMatch(/^Shipped b/);
    expect(await campaignBlock()).toBe("picks-b");
  });

  it("a campaign write never sent (held behind one given up on, or the writer overloaded) says nothing was shipped", async () => {
    await storeExperiment("e-held", body());
    const form = shipForm(await page("?experiment=e-held"), "b") as Record<string, string>;
    const notShipped = "/dashboard?experiment=e-held&change=not-shipped&arm=b";
    // the writer's own bindings (ordered writes, short deadlines) over a KV whose put of the campaign never settles
    const hung = faultyKv(env.OPENTIME_KV, [{ ops: ["put"], mode: "hang", prefix: kvKeys.campaign(CAMPAIGN) }]);
    const short = { readMs: 50, modelReadMs: 50, writeMs: 50 };
    await withObjectEnv(
      writer(),
      (real) => objectEnv({ ...real, OPENTIME_KV: hung.kv }, short),
      async () => {
        // given up on at its deadline: it may land
        const first = await press("/dashboard/experiments/e-held/ship", form);
        expect(first.headers.get("Location")).toBe("/dashboard?experiment=e-held&change=ship-unconfirmed&arm=b");
        // pressed again while it has not settled: the writer holds the write back, never sends it
        const again = await press("/dashboard/experiments/e-held/ship", form);
        expect(again.headers.get("Location")).toBe(notShipped);
        expect(hung.hits).toBe(1);
      },
    );
    // the writer overloaded: the runtime refused the call, which never ran
    const overloaded = () =>
      Promise.reject(Object.assign(new Error("Durable Object is overloaded."), { overloaded: true }));
    const busy = {
      idFromName: (name: string) => writers.idFromName(name),
      get: (id: DurableObjectId) => ({ read: (c: string) => writers.get(id).read(c), write: overloaded }),
    } as unknown as Bindings["CAMPAIGN_WRITER"];
    const res = await press("/dashboard/experiments/e-held/ship", form, ORIGIN, { ...env, CAMPAIGN_WRITER: busy });
    expect((await followed(res)).message).toMatch(/^Nothing shipped: .* and nothing was written/);
    expect(await campaignBlock()).toBe("picks");
    expect((await stored("e-held")).status).toBe("running");
  });
});
