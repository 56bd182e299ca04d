/**
 * Real-time events and privacy inside workerd, with the real queue: ingestion (auth, limits, per-event
 * errors), end-to-end profile updates, idempotency, the pixel, consent (API and amp-form), erasure.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { IdSchema, MAX_ID_LENGTH, type QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile, parseProfile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { DeadLetterSelectionSchema } from "../../worker/events/dead-letter-selection";
import worker from "../../worker/index";
import type { SendTimeResponse } from "../../worker/routes/send-time";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { clearKv, consume, fixture, recordingQueue, retailFixture, SENDER, seedModel, token } from "./support/harness";

const now = () => Math.floor(Date.now() / 1000);

async function post(path: string, body: unknown, headers: Record<string, string> = {}, method = "POST") {
  const req = new Request(`https://opentime.test${path}`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${TEST_EVENTS_KEY}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return worker.fetch(req, env, createExecutionContext());
}

async function admin(method: string, path: string, body?: unknown) {
  const req = new Request(`https://opentime.test${path}`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${TEST_ADMIN_KEY}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return worker.fetch(req, env, createExecutionContext());
}

async function profileOf(user: string): Promise<Profile | null> {
  const raw = await env.OPENTIME_KV.get(kvKeys.profile(user), "json");
  if (raw === null) return null;
  const p = parseProfile(raw);
  return p.ok ? p.profile : null;
}

/** Polls until the user's profile exists and satisfies `ready` (the real queue applies in about a second). */
/** Posts the email's preferences form as Gmail does (its AMP sender header unless `cors` says otherwise). */
function submitPreferences(
  t: string,
  form: URLSearchParams,
  cors: Record<string, string> = { "AMP-Email-Sender": SENDER },
) {
  return worker.fetch(
    new Request(`https://opentime.test/v1/amp/preferences?t=${t}`, {
      method: "POST",
      headers: { ...cors, "Content-Type": "application/x-www-form-urlencoded" },
      body: form,
    }),
    env,
    createExecutionContext(),
  );
}

async function waitForProfile(user: string, ready: (p: Profile) => boolean): Promise<Profile> {
  const started = Date.now();
  for (;;) {
    const p = await profileOf(user);
    if (p && ready(p)) return p;
    if (Date.now() - started > 10_000) throw new Error(`profile of ${user} not ready after 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ev = (id: string, user: string, type: QueuedEvent["type"], item?: string, value?: number): QueuedEvent => ({
  id,
  user,
  type,
  item,
  ts: now() - 60,
  value,
});

beforeEach(clearKv);

describe("POST /v1/events", () => {
  it("needs an API key", async () => {
    const res = await post("/v1/events", { events: [] }, { Authorization: "Bearer wrong-key-wrong-key-wrong" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
  });

  it("accepts the good events of a mixed batch and reports the bad ones by index", async () => {
    const res = await post("/v1/events", {
      events: [
        { id: "e1", type: "view", user: "u-1", item: "p1", ts: now() },
        { id: "e2", type: "teleport", user: "u-1", ts: now() },
        { id: "e3", type: "view", user: "jane@example.com", item: "p1", ts: now() },
        { id: "e4", type: "purchase", user: "u-1", ts: now() },
        { id: "e5", type: "view", user: "u-1", item: "p2", ts: now() - 400 * 86400 },
        { id: "e6", type: "email_open", user: "u-2", ts: new Date().toISOString() },
        // a time that cannot be read is a bad event, not one out of range: unix times are numbers
        { id: "e7", type: "email_open", user: "u-2", ts: String(now()) },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, "INVALID_EVENT"],
      [2, "USER_ID_NOT_PSEUDONYMOUS"],
      [3, "INVALID_EVENT"],
      [4, "TIMESTAMP_OUT_OF_RANGE"],
      [6, "INVALID_EVENT"],
    ]);
    expect(body.rejected[4]?.message).toMatch(/^ts: .*ISO-8601/);
  });

  it("refuses an address behind a look-alike @ or its percent-encoding as a user id, as the address itself", async () => {
    const users = ["jane\uFF20example.com", "jane\uFE6Bexample.com", "jane%40example.com", "jane@example\u3002com"];
    const res = await post("/v1/events", {
      events: [
        ...users.map((user, i) => ({ id: `la-${i}`, type: "view", user, item: "p1", ts: now() })),
        { id: "la-ok", type: "view", user: "c%400", item: "p1", ts: now() },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; code: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual(users.map((_, i) => [i, "USER_ID_NOT_PSEUDONYMOUS"]));
    // and so does every path that names a reader (one check: core/events.ts looksLikeEmail) for a new write
    for (const path of ["/v1/users/jane%EF%BC%A0example.com", "/v1/users/jane%2540example.com"]) {
      // what an earlier version stored under one can still be read and erased
      expect((await admin("GET", path)).status, path).toBe(404);
      expect((await admin("DELETE", path)).status, path).toBe(200);
      // and its reader can still opt out; an opt-in (or anything but an opt-out with it) stores nothing new
      for (const optIn of [{ tracking: true }, { unsubscribed: true, topics: ["shoes"] }, { pausedUntil: null }]) {
        const got = await admin("PUT", `${path}/consent`, optIn);
        expect(got.status, path).toBe(400);
        expect(((await got.json()) as { error: { code: string } }).error.code).toBe("USER_ID_NOT_PSEUDONYMOUS");
      }
      const out = { tracking: false, personalization: false, unsubscribed: true, pausedUntil: now() + 86_400 };
      expect((await admin("PUT", `${path}/consent`, out)).status, path).toBe(202);
    }
    expect((await admin("DELETE", "/v1/users/jane%40example.com")).status).toBe(400);
    expect((await admin("PUT", "/v1/users/jane%40example.com/consent", { unsubscribed: true })).status).toBe(400);
  });

  it("refuses an event with a property `__proto__` (INVALID_EVENT naming it), never accepts it unchecked", async () => {
    // JSON's "__proto__" is an own key; zod's record would skip it, its value never checked
    const res = await post(
      "/v1/events",
      `{"events":[{"id":"e-proto","type":"purchase","user":"u-1","item":"p1","ts":${now()},"properties":{"__proto__":{"value":1e9},"value":5}},` +
        `{"id":"e-fine","type":"view","user":"u-1","item":"p1","ts":${now()}}]}`,
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([
      {
        index: 0,
        code: "INVALID_EVENT",
        message: 'properties.__proto__: "__proto__" cannot be used as a property name',
      },
    ]);
  });

  it("refuses an event id or campaign shaped like an email address (ID_NOT_PSEUDONYMOUS, naming the field)", async () => {
    const res = await post("/v1/events", {
      events: [
        { id: "jane@example.com:1700000000", type: "view", user: "u-1", item: "p1", ts: now() },
        { id: "e-camp", type: "email_open", user: "u-1", campaign: "jane@example.com", ts: now() },
        // no email address: a UUID, an `@` without a domain, an item id with one (item ids are the shop's)
        { id: "0f8fad5b-d9cb-469f-a165-70867728950e", type: "view", user: "u-1", item: "p1", ts: now() },
        { id: "order-17@2x", type: "view", user: "u-1", item: "mug@shop.example", ts: now() },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, "ID_NOT_PSEUDONYMOUS"],
      [1, "ID_NOT_PSEUDONYMOUS"],
    ]);
    expect(body.rejected[0]?.message).toMatch(/^id: must not be shaped like an email address/);
    expect(body.rejected[1]?.message).toMatch(/^campaign: must not be shaped like an email address/);
  });

  it("accepts a purchase without a value and says so in `warnings` (PURCHASE_WITHOUT_VALUE, by index)", async () => {
    const res = await post("/v1/events", {
      events: [
        { id: "w-none", type: "purchase", user: "u-1", item: "p1", ts: now() },
        { id: "w-value", type: "purchase", user: "u-1", item: "p2", ts: now(), properties: { value: 12.5 } },
        { id: "w-price", type: "purchase", user: "u-1", item: "p3", ts: now(), properties: { price: 4 } },
        // a quantity alone is no value
        { id: "w-qty", type: "purchase", user: "u-1", item: "p4", ts: now(), properties: { quantity: 2 } },
        { id: "w-view", type: "view", user: "u-1", item: "p1", ts: now() },
        { id: "w-bad", type: "purchase", user: "u-1", ts: now() },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      rejected: { index: number; code: string }[];
      warnings: { index: number; code: string; message: string }[];
    };
    expect(body.accepted).toBe(5);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([[5, "INVALID_EVENT"]]);
    expect(body.warnings.map((w) => [w.index, w.code])).toEqual([
      [0, "PURCHASE_WITHOUT_VALUE"],
      [3, "PURCHASE_WITHOUT_VALUE"],
    ]);
    expect(body.warnings[0]?.message).toMatch(/worth 0: neither properties\.value nor properties\.price/);
    // nothing to say: an empty list
    const fine = await post("/v1/events", {
      events: [{ id: "w-ok", type: "view", user: "u-1", item: "p1", ts: now() }],
    });
    expect(await fine.json()).toEqual({ accepted: 1, rejected: [], warnings: [] });
  });

  it("answers limits and bad bodies with clear codes", async () => {
    const many = Array.from({ length: 501 }, (_, i) => ({
      id: `x${i}`,
      type: "view",
      user: "u",
      item: "p",
      ts: now(),
    }));
    expect((await post("/v1/events", { events: many })).status).toBe(413);
    const big = await post("/v1/events", `{"events":[${"1,".repeat(600_000)}1]}`);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    const bad = await post("/v1/events", "{not json");
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("INVALID_JSON");
    // a gzipped batch is refused saying so (it is not inflated), not as a body that is not UTF-8
    const gz = new Response(
      new Blob([JSON.stringify({ events: [{ id: "gz", type: "view", user: "u", item: "p", ts: now() }] })])
        .stream()
        .pipeThrough(new CompressionStream("gzip")),
    );
    /** the batch as sent with `Content-Encoding: gzip` */
    const gzipped = (body: BodyInit) =>
      worker.fetch(
        new Request("https://opentime.test/v1/events", {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            Authorization: `Bearer ${TEST_EVENTS_KEY}`,
          },
          body,
        }),
        env,
        createExecutionContext(),
      );
    const zipped = await gzipped(await gz.arrayBuffer());
    expect(zipped.status).toBe(400);
    expect(((await zipped.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: "INVALID_JSON",
      message: "the body is compressed (Content-Encoding: gzip): send it uncompressed",
    });
    // one a proxy inflated on the way, its header left, reads as it is
    const inflated = await gzipped(
      JSON.stringify({ events: [{ id: "gz2", type: "view", user: "u", item: "p", ts: now() }] }),
    );
    expect(inflated.status).toBe(202);
  });

  it("a time out of range says how far it is from the Worker's clock (a clock skewed by hours shows as such)", async () => {
    const res = await post("/v1/events", {
      events: [
        { id: "k1", type: "view", user: "u-k", item: "p1", ts: now() + 3 * 3600 },
        { id: "k2", type: "view", user: "u-k", item: "p1", ts: now() - 40 * 86400 },
      ],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { rejected: { code: string; message: string }[] };
    expect(body.rejected.map((r) => r.code)).toEqual(["TIMESTAMP_OUT_OF_RANGE", "TIMESTAMP_OUT_OF_RANGE"]);
    expect(body.rejected[0]?.message).toMatch(/is 3\.0 h ahead of the Worker's clock.*the Worker's time: \d{4}-/);
    expect(body.rejected[1]?.message).toMatch(/is 40\.0 days old: send older history through POST \/v1\/admin\/events/);
  });

  it("reaches the profile through the real queue within seconds", async () => {
    const started = Date.now();
    const res = await post("/v1/events", {
      events: [
        { id: "a1", type: "view", user: "live-1", item: "p7", ts: now() },
        { id: "a2", type: "purchase", user: "live-1", item: "p7", ts: now(), properties: { price: 12.5, quantity: 2 } },
      ],
    });
    expect(res.status).toBe(202);
    let profile: Profile | null = null;
    while (Date.now() - started < 10_000) {
      profile = await profileOf("live-1");
      if (profile) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(profile?.recentItems.map((r) => r.type).sort()).toEqual(["purchase", "view"]);
    expect(profile?.purchases).toEqual([{ item: "p7", invoices: 1, lastTs: expect.any(Number) }]);
    expect(profile?.rfm.monetary).toBe(25);
    // how soon is the load test's figure (POST-to-visible lag, `npm run loadtest`), not a timed assertion here
  });
});

describe("queue consumer", () => {
  it("counts duplicate and replayed deliveries once", async () => {
    const events = [ev("d1", "dup", "purchase", "p1", 10), ev("d2", "dup", "email_click", "p1")];
    await consume(events);
    const result = await consume([...events, events[0] as QueuedEvent]);
    expect(result.explicitAcks.length).toBe(3);
    const p = await profileOf("dup");
    expect(p?.purchases).toEqual([{ item: "p1", invoices: 1, lastTs: expect.any(Number) }]);
    expect(p?.rfm.orders).toBe(1);
    expect(p?.engagement.score).toBeCloseTo(3, 3);
  });

  it("repairs a profile it cannot read (keeps what validates, resets the rest) instead of retrying forever", async () => {
    await env.OPENTIME_KV.put(kvKeys.profile("broken"), JSON.stringify({ v: 3, userId: "broken" }));
    const result = await consume([ev("b1", "broken", "view", "p1")]);
    expect(result.explicitAcks.length).toBe(1);
    const repaired = await profileOf("broken");
    // nothing readable, consent included: taken as an opt-out, so the view is not recorded
    expect(repaired?.consent.tracking).toBe(false);
    expect(repaired?.recentItems).toEqual([]);
  });
});

describe("fold-in at the edge", () => {
  it("a new reader who views one category gets that category and its neighbours, without retraining", async () => {
    await seedModel();
    const items = JSON.parse(fixture().catalogJson).items as { id: string; category: string; department: string }[];
    const department = new Map(items.map((i) => [i.id, i.department]));
    const category = new Map(items.map((i) => [i.id, i.category]));
    const lamps = items.filter((i) => i.category === "Lamps").slice(0, 5);
    expect(lamps).toHaveLength(5);
    const user = "brand-new-reader";
    const before = await recommendFor(user);
    expect(before.headers.get("X-Opentime-Reason")).toBe("profile-missing");
    await consume(lamps.map((l, i) => ({ ...ev(`fold-${i}`, user, "view", l.id), ts: now() - 30 + i })));
    const after = await recommendFor(user, 10);
    expect(after.headers.get("X-Opentime-Reason")).toBe("personalized");
    expect(after.headers.get("X-Opentime-Scorer")).toBe("als-foldin");
    const ids = ((await after.json()) as { items: { id: string }[] }).items.map((i) => i.id);
    const inCategory = ids.filter((id) => category.get(id) === "Lamps").length;
    const inDepartment = ids.filter((id) => department.get(id) === lamps[0]?.department).length;
    expect(inCategory).toBeGreaterThanOrEqual(5);
    expect(inDepartment).toBeGreaterThanOrEqual(8);
  });
});

async function recommendFor(user: string, n = 6) {
  return worker.fetch(
    new Request(`https://opentime.test/v1/amp/recs?t=${await token(user)}&n=${n}`, {
      headers: { "AMP-Email-Sender": SENDER },
    }),
    env,
    createExecutionContext(),
  );
}

describe("consent", () => {
  it("opt-out stops both personalization and recording", async () => {
    await seedModel();
    const user = fixture().profiles.find((p) => p.factors)?.userId as string;
    const before = await worker.fetch(
      new Request(`https://opentime.test/v1/amp/recs?t=${await token(user)}`, {
        headers: { "AMP-Email-Sender": SENDER },
      }),
      env,
      createExecutionContext(),
    );
    expect(before.headers.get("X-Opentime-Reason")).toBe("personalized");
    const res = await admin("PUT", `/v1/users/${user}/consent`, { personalization: false, tracking: false });
    expect(res.status).toBe(202);
    // applied by the consumer through the real queue, in order with the user's events
    const optedOut = await waitForProfile(user, (x) => !x.consent.personalization);
    expect(optedOut.consent).toMatchObject({ personalization: false, tracking: false });
    const after = await worker.fetch(
      new Request(`https://opentime.test/v1/amp/recs?t=${await token(user)}`, {
        headers: { "AMP-Email-Sender": SENDER },
      }),
      env,
      createExecutionContext(),
    );
    expect(after.headers.get("X-Opentime-Reason")).toBe("opted-out");
    const stored = await env.OPENTIME_KV.get(kvKeys.profile(user));
    await consume([ev("o1", user, "view", "p1")]);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBe(stored);
  });

  it("the email's amp-form sets preferences (email CORS enforced)", async () => {
    const form = new URLSearchParams({ personalization: "on", frequency: "weekly", pause_days: "14" });
    form.append("topics", "lamps");
    form.append("topics", "rugs");
    const t = await token("reader-9");
    const ok = await submitPreferences(t, form);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("AMP-Email-Allow-Sender")).toBe(SENDER);
    expect(((await ok.json()) as { ok: boolean }).ok).toBe(true);
    const p = await waitForProfile("reader-9", () => true);
    // a checkbox form (`on` for a ticked box), with more fields or not: an unticked box is not sent, so off
    expect(p?.consent).toMatchObject({
      personalization: true,
      tracking: false,
      topics: ["lamps", "rugs"],
      frequency: "weekly",
      unsubscribed: false,
    });
    expect(p?.consent.pausedUntil).toBeGreaterThan(now() + 13 * 86400);
    const noCors = await submitPreferences(t, form, {});
    expect(noCors.status).toBe(403);
  });

  it("every preferences answer is the reader's own: Cache-Control private, no-store, as amp-recs answers", async () => {
    const t = await token("reader-12");
    const answers = [
      await submitPreferences(t, new URLSearchParams({ form: "2", tracking: "off" })),
      await submitPreferences(t, new URLSearchParams({ form: "2" })), // nothing chosen
      await submitPreferences(await token("reader-12", -10), new URLSearchParams({ form: "2", tracking: "off" })),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 401]);
    for (const res of answers) expect(res.headers.get("Cache-Control")).toBe("private, no-store");
    const recs = await worker.fetch(
      new Request(`https://opentime.test/v1/amp/recs?t=${t}`, { headers: { "AMP-Email-Sender": SENDER } }),
      env,
      createExecutionContext(),
    );
    expect(recs.headers.get("Cache-Control")).toBe("private, no-store");
  });

  it("a refused token's message says why: expired, or not verifying (another environment's secret)", async () => {
    const form = () => new URLSearchParams({ form: "2", tracking: "off" });
    const messageOf = async (res: Response) => {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("TOKEN_INVALID");
      return body.error.message;
    };
    const expired = await messageOf(await submitPreferences(await token("reader-13", -10), form()));
    expect(expired).toMatch(/expired/);
    const foreign = await token("reader-13", 3600, "another-environment-secret-0123456789");
    const forged = await messageOf(await submitPreferences(foreign, form()));
    expect(forged).not.toMatch(/expired/);
    expect(forged).toMatch(/does not verify/);
    expect(await messageOf(await submitPreferences("not-a-token", form()))).toMatch(/does not verify/);
  });

  it("a form sets only what it holds: the shipped checkboxes keep topics, frequency and pause", async () => {
    const t = await token("reader-10");
    const submit = async (form: URLSearchParams) => {
      expect(((await (await submitPreferences(t, form)).json()) as { ok: boolean }).ok).toBe(true);
    };
    const full = new URLSearchParams({ personalization: "on", tracking: "on", frequency: "monthly", pause_days: "30" });
    full.append("topics", "lamps");
    await submit(full);
    await waitForProfile("reader-10", (p) => p.consent.frequency === "monthly");
    // the form of emails sent before `form=2`: three checkboxes, tracking unticked
    await submit(new URLSearchParams({ personalization: "on" }));
    const kept = await waitForProfile("reader-10", (p) => !p.consent.tracking);
    expect(kept.consent).toMatchObject({
      personalization: true,
      tracking: false,
      topics: ["lamps"],
      frequency: "monthly",
    });
    expect(kept.consent.pausedUntil).toBeGreaterThan(now() + 29 * 86400);
    // a shop's own form with a frequency picker alone (no `form=2`): the frequency changes, nothing else
    await submit(new URLSearchParams({ frequency: "weekly" }));
    const picked = await waitForProfile("reader-10", (p) => p.consent.frequency === "weekly");
    expect(picked.consent).toMatchObject({ personalization: true, tracking: false, topics: ["lamps"] });
    await submit(new URLSearchParams({ frequency: "monthly", tracking: "true" }));
    expect((await waitForProfile("reader-10", (p) => p.consent.tracking)).consent.frequency).toBe("monthly");
    // a yes/no answer alone (`off`, no `form=2`): that field alone
    await submit(new URLSearchParams({ tracking: "off" }));
    expect((await waitForProfile("reader-10", (p) => !p.consent.tracking)).consent.personalization).toBe(true);
    await submit(new URLSearchParams({ tracking: "1" }));
    expect((await waitForProfile("reader-10", (p) => p.consent.tracking)).consent.personalization).toBe(true);
    // a form offering topics, every one unticked: its empty hidden field clears them
    await submit(new URLSearchParams({ personalization: "on", tracking: "on", topics: "" }));
    const cleared = await waitForProfile("reader-10", (p) => p.consent.topics.length === 0);
    expect(cleared.consent).toMatchObject({ topics: [], frequency: "monthly", tracking: true });
    // a value no form means (a custom form's typo) changes nothing: it never clears a frequency or a pause
    await submit(new URLSearchParams({ form: "2", tracking: "off", frequency: "Weekly", pause_days: "soon" }));
    const odd = await waitForProfile("reader-10", (p) => !p.consent.tracking);
    expect(odd.consent.frequency).toBe("monthly");
    expect(odd.consent.pausedUntil).toBe(kept.consent.pausedUntil);
    // nor does an empty pause_days (a custom form's "no change" option): it is no number of days, not 0
    await submit(new URLSearchParams({ form: "2", tracking: "on", pause_days: " " }));
    const blank = await waitForProfile("reader-10", (p) => p.consent.tracking);
    expect(blank.consent.pausedUntil).toBe(kept.consent.pausedUntil);
    // an empty frequency clears it, pause_days 0 ends the pause
    await submit(new URLSearchParams({ form: "2", tracking: "on", frequency: "", pause_days: "0" }));
    const ended = await waitForProfile("reader-10", (p) => p.consent.pausedUntil === null);
    expect(ended.consent).toMatchObject({ frequency: null, pausedUntil: null });
  });

  it("pause_days: a part of a day still pauses, a negative number changes nothing (neither ends a pause)", async () => {
    const t = await token("reader-14");
    const submit = async (form: Record<string, string>) => {
      expect(((await (await submitPreferences(t, new URLSearchParams(form))).json()) as { ok: boolean }).ok).toBe(true);
    };
    await submit({ form: "2", pause_days: "30" });
    const paused = await waitForProfile("reader-14", (p) => (p.consent.pausedUntil ?? 0) > now() + 29 * 86400);
    // a negative number is no number of days: the pause stands (tracking off marks the change as applied)
    await submit({ form: "2", tracking: "off", pause_days: "-3" });
    const negative = await waitForProfile("reader-14", (p) => !p.consent.tracking);
    expect(negative.consent.pausedUntil).toBe(paused.consent.pausedUntil);
    // half a day asks for a pause: one day, not the end of the pause
    await submit({ form: "2", tracking: "on", pause_days: "0.5" });
    const half = await waitForProfile("reader-14", (p) => p.consent.tracking);
    expect(half.consent.pausedUntil).toBeGreaterThan(now());
    expect(half.consent.pausedUntil).toBeLessThanOrEqual(now() + 86400);
  });

  it("the shipped form changes only what the reader chose: unsubscribing keeps tracking off", async () => {
    const t = await token("reader-11");
    const submit = async (form: Record<string, string>) => {
      const body = (await (await submitPreferences(t, new URLSearchParams(form))).json()) as {
        ok: boolean;
        message: string;
      };
      expect(body.ok).toBe(true);
      return body.message;
    };
    // the reader turned tracking and personalization off (elsewhere, or with this form)
    await submit({ form: "2", tracking: "off", personalization: "off" });
    await waitForProfile("reader-11", (p) => !p.consent.tracking && !p.consent.personalization);
    // the email's own form (amp-templates/recs-email.amp.html), only the unsubscribe box ticked
    expect(await submit({ form: "2", unsubscribe: "on" })).toBe("You are unsubscribed.");
    const after = await waitForProfile("reader-11", (p) => p.consent.unsubscribed);
    expect(after.consent).toMatchObject({ tracking: false, personalization: false, unsubscribed: true });
    // nothing chosen: nothing queued
    expect(await submit({ form: "2" })).toMatch(/^Nothing to change/);
    // a yes changes that one field
    await submit({ form: "2", personalization: "on" });
    const on = await waitForProfile("reader-11", (p) => p.consent.personalization);
    expect(on.consent).toMatchObject({ tracking: false, personalization: true, unsubscribed: true });
  });

  it("no form resubscribes", async () => {
    const t = await token("reader-15");
    const submit = async (form: URLSearchParams) => {
      const body = (await (await submitPreferences(t, form)).json()) as { ok: boolean; message: string };
      expect(body.ok).toBe(true);
      return body.message;
    };
    await submit(new URLSearchParams({ form: "2", personalization: "off", unsubscribe: "on" }));
    await waitForProfile("reader-15", (p) => p.consent.unsubscribed && !p.consent.personalization);
    // consent times are whole seconds, and at equal times the more private value wins: step past this one
    await new Promise((r) => setTimeout(r, 1100));
    await submit(new URLSearchParams({ form: "2", frequency: "weekly" }));
    const marked = await waitForProfile("reader-15", (p) => p.consent.frequency === "weekly");
    expect(marked.consent).toMatchObject({ unsubscribed: true, personalization: false, tracking: true });
    // the form of emails sent before `form=2` as it comes (both boxes ticked, unsubscribe not): no resubscribe
    expect(await submit(new URLSearchParams({ personalization: "on", tracking: "on" }))).toBe(
      "Your preferences are saved.",
    );
    const legacy = await waitForProfile("reader-15", (p) => p.consent.personalization);
    expect(legacy.consent).toMatchObject({ unsubscribed: true, tracking: true, frequency: "weekly" });
  });

  it("the form of emails sent before form=2: unticked boxes turn personalization and tracking off, never resubscribe", async () => {
    // its three checkboxes (personalization and tracking ticked at first): a reader who unticks both sends nothing
    // at all, or `unsubscribe=on` alone; either asks for both off, and neither resubscribes
    const t = await token("reader-17");
    const submit = async (form: URLSearchParams) => {
      const body = (await (await submitPreferences(t, form)).json()) as { ok: boolean; message: string };
      expect(body.ok).toBe(true);
      return body.message;
    };
    // consent times are whole seconds, and at equal times the more private value wins: each step a second apart
    const step = () => new Promise((r) => setTimeout(r, 1100));
    // (a change beside the unsubscribe: an unsubscribe alone keeps no profile of a reader the shard never held)
    await submit(new URLSearchParams({ form: "2", unsubscribe: "on", frequency: "weekly" }));
    await waitForProfile("reader-17", (p) => p.consent.unsubscribed);
    await step();
    // every box unticked: an empty form
    expect(await submit(new URLSearchParams())).toBe("Your preferences are saved.");
    const off = await waitForProfile("reader-17", (p) => !p.consent.tracking && !p.consent.personalization);
    expect(off.consent.unsubscribed).toBe(true);
    await step();
    await submit(new URLSearchParams({ personalization: "on", tracking: "on" }));
    const on = await waitForProfile("reader-17", (p) => p.consent.tracking && p.consent.personalization);
    expect(on.consent.unsubscribed).toBe(true);
    await step();
    // both unticked and the unsubscribe box ticked
    expect(await submit(new URLSearchParams({ unsubscribe: "on" }))).toBe("You are unsubscribed.");
    const gone = await waitForProfile("reader-17", (p) => !p.consent.tracking && !p.consent.personalization);
    expect(gone.consent.unsubscribed).toBe(true);
  });

  it("two changes made with one email's form within a second both land, in one queue batch too", async () => {
    // a form that submits on each change (amp-form's `on="change:..."`), or a reader who saves twice at once: the
    // second change must not be taken for a redelivery of the first, whose id the batch has already seen
    for (let attempt = 0; ; attempt++) {
      const user = `reader-16-${attempt}`;
      const t = await token(user);
      const { queue, sent } = recordingQueue();
      for (const body of ["form=2&tracking=off", "form=2&unsubscribe=on"]) {
        const res = await worker.fetch(
          new Request(`https://opentime.test/v1/amp/preferences?t=${t}`, {
            method: "POST",
            headers: { "AMP-Email-Sender": SENDER, "Content-Type": "application/x-www-form-urlencoded" },
            body,
          }),
          { ...env, EVENTS: queue },
          createExecutionContext(),
        );
        expect(res.status).toBe(200);
      }
      expect(sent).toHaveLength(2);
      // both within one second (consent times are whole seconds); else again, a second boundary fell between them
      if (sent[0]?.ts !== sent[1]?.ts && attempt < 5) continue;
      expect((await consume(sent)).retryMessages).toEqual([]);
      expect((await readerStub(env, user).read(user))?.consent).toMatchObject({ tracking: false, unsubscribed: true });
      return;
    }
  });

  it("a form change's id, of the longest campaign id and send, is an id the dead-letter API can name", async () => {
    const user = "reader-18";
    const campaign = `c${"x".repeat(63)}`;
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign, ttlSeconds: 9_000_000_000 - now() });
    const { queue, sent } = recordingQueue();
    const res = await worker.fetch(
      new Request(`https://opentime.test/v1/amp/preferences?t=${t}`, {
        method: "POST",
        headers: { "AMP-Email-Sender": SENDER, "Content-Type": "application/x-www-form-urlencoded" },
        body: "form=2&tracking=off",
      }),
      { ...env, EVENTS: queue },
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    const id = sent[0]?.id as string;
    expect(id.length).toBeLessThanOrEqual(MAX_ID_LENGTH);
    expect(IdSchema.safeParse(id).success).toBe(true);
    // parked after its retries, it is replayed or deleted by its id
    expect(DeadLetterSelectionSchema.safeParse({ user, ids: [id] }).success).toBe(true);
  });

  it("send times use nothing of a reader who turned personalization off, or was erased: the shop's hours", async () => {
    await seedModel({ fixture: retailFixture() });
    const version = retailFixture().version;
    const [a, b] = retailFixture().profiles.filter((x) => x.sendTime && x.segment) as [Profile, Profile];
    const sendTime = async (user: string) => {
      const res = await admin("GET", `/v1/send-time?t=${await token(user)}`);
      expect(res.status).toBe(200);
      return (await res.json()) as SendTimeResponse;
    };
    // before: their own hours, segment and propensity (so the checks below can fail)
    expect(await sendTime(a.userId)).toMatchObject({ source: "profile", segment: a.segment });
    // personalization off (the snapshot the shard publishes): their hours, segment and propensity stay unused
    const off = { ...a, consent: { ...a.consent, personalization: false } };
    await env.OPENTIME_KV.put(kvKeys.profile(a.userId), JSON.stringify(off));
    expect(await sendTime(a.userId)).toMatchObject({ source: "shop", segment: null, propensity_30d: null });
    // erased, with features a seed wrote just after the erasure's deletion (its sweeps delete them minutes later)
    expect((await admin("DELETE", `/v1/users/${b.userId}`)).status).toBe(200);
    await env.OPENTIME_KV.put(kvKeys.features(b.userId, version), JSON.stringify(featuresOf(b, version)));
    expect(await sendTime(b.userId)).toMatchObject({ source: "shop", segment: null, propensity_30d: null });
  });
});

describe("erasure", () => {
  it("leaves no KV key for the user, and drops their queued events", async () => {
    await seedModel();
    const user = fixture().profiles.find((p) => p.factors)?.userId as string;
    await env.OPENTIME_KV.put(`${kvKeys.decisionsPrefix(user)}campaign-1:0`, JSON.stringify({ item: "p1" }));
    await env.OPENTIME_KV.put(kvKeys.features(user, fixture().version), JSON.stringify({ v: 1, userId: user }));
    await consume([ev("z1", user, "view", "p2")]);
    const res = await admin("DELETE", `/v1/users/${user}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { keys_deleted: number }).keys_deleted).toBe(4); // profile, seen ids, decision, features
    await consume([ev("z2", user, "purchase", "p3")]); // still in the queue at erasure time
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await env.OPENTIME_KV.list(cursor ? { cursor } : {});
      keys.push(...page.keys.map((k) => k.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((k) => k.includes(user))).toEqual([]);
  });

  it("erasing user 'a' leaves user 'a:b' alone (ids may contain ':', so key prefixes overlap)", async () => {
    const keysOf = (u: string) => [
      kvKeys.decision(u, "spring", 1767225600, "row-0"),
      kvKeys.decision(u, "spring", 1767225600, "row-1"),
      kvKeys.legacyDecision(u, "spring", "row-2"),
      kvKeys.features(u, "als-1"),
    ];
    for (const k of [...keysOf("a"), ...keysOf("a:b"), ...keysOf("a:b:c")]) await env.OPENTIME_KV.put(k, "{}");
    const res = await admin("DELETE", "/v1/users/a");
    expect(((await res.json()) as { keys_deleted: number }).keys_deleted).toBe(2 + 4); // profile, seen ids + own keys
    for (const k of keysOf("a")) expect(await env.OPENTIME_KV.get(k)).toBeNull();
    for (const k of [...keysOf("a:b"), ...keysOf("a:b:c")]) expect(await env.OPENTIME_KV.get(k)).toBe("{}");
  });

  it("an erasure racing a batch leaves nothing, whichever lands first (the snapshot publish included)", async () => {
    for (let i = 0; i < 6; i++) {
      const user = `racing-reader-${i}`;
      const events = [ev(`r${i}a`, user, "view", "p1"), ev(`r${i}b`, user, "purchase", "p2", 5)];
      // the erasure starts 0-5 ms after the batch: before, during and after the shard's commit and publish
      await Promise.all([
        consume(events),
        new Promise((r) => setTimeout(r, i)).then(() => admin("DELETE", `/v1/users/${user}`)),
      ]);
      expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
      const access = await admin("GET", `/v1/users/${user}`);
      expect(access.status).toBe(404);
      // and a redelivery after the erasure records nothing
      await consume(events);
      expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
    }
  });

  it("answers the profile alone with fields=profile, as the writer holds it", async () => {
    const user = "fields-reader";
    await consume([ev("f1", user, "view", "p1"), ev("f2", user, "purchase", "p2", 5)]);
    const res = await admin("GET", `/v1/users/${user}?fields=profile`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: string; profile: { seenEvents: string[]; rfm: { orders: number } } };
    expect(Object.keys(body).sort()).toEqual(["profile", "user"]);
    expect(body.profile.seenEvents.sort()).toEqual(["f1", "f2"]);
    expect(body.profile.rfm.orders).toBe(1);
    expect((await admin("GET", "/v1/users/nobody-here?fields=profile")).status).toBe(404);
  });

  it("refuses email-shaped ids with a clear error", async () => {
    const res = await admin("DELETE", "/v1/users/jane@example.com");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("USER_ID_NOT_PSEUDONYMOUS");
  });
});

describe("pixel", () => {
  it("always answers a GIF; records only with a valid token", async () => {
    const get = (path: string) =>
      worker.fetch(new Request(`https://opentime.test${path}`), env, createExecutionContext());
    const bad = await get("/v1/e/not-a-token.gif?type=view&item=p1");
    expect(bad.status).toBe(200);
    expect(bad.headers.get("Content-Type")).toBe("image/gif");
    expect(bad.headers.get("X-Opentime-Recorded")).toBe("no");
    expect(bad.headers.get("X-Opentime-Reason")).toBe("token-malformed");
    expect(new Uint8Array(await bad.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode("GIF89a"));
    // a token of another deployment (another TOKEN_SECRET) says so, as the images do
    const foreign = await get(
      `/v1/e/${await token("px-1", 3600, "another-environment-secret-0123456789")}?type=view&item=p1`,
    );
    expect([foreign.headers.get("X-Opentime-Recorded"), foreign.headers.get("X-Opentime-Reason")]).toEqual([
      "no",
      "token-bad-signature",
    ]);
    const good = await get(`/v1/e/${await token("px-1")}?type=view&item=p1&eid=px-e1`);
    expect(good.headers.get("X-Opentime-Recorded")).toBe("yes");
    expect(good.headers.get("X-Opentime-Reason")).toBeNull();
  });

  it("records nothing for an eid shaped like an email address, as the events API refuses such ids", async () => {
    const { queue, sent } = recordingQueue();
    const pixel = async (eid: string) =>
      worker.fetch(
        new Request(
          `https://opentime.test/v1/e/${await token("px-eid")}?type=view&item=p1&eid=${encodeURIComponent(eid)}`,
        ),
        { ...env, EVENTS: queue },
        createExecutionContext(),
      );
    const email = await pixel("jane@example.com:1700000000");
    expect(email.headers.get("Content-Type")).toBe("image/gif");
    expect(email.headers.get("X-Opentime-Recorded")).toBe("no");
    expect(sent).toEqual([]);
    expect((await pixel("view-17@2x")).headers.get("X-Opentime-Recorded")).toBe("yes");
    expect(sent).toEqual([expect.objectContaining({ id: "pixel:view-17@2x", user: "px-eid" })]);
  });

  it("records nothing for a token an earlier version signed for an id shaped like an address only through a look-alike", async () => {
    const { queue, sent } = recordingQueue();
    const t = await mintToken(TEST_TOKEN_SECRET, {
      user: "px-jane\uFF20example.com",
      campaign: "c",
      ttlSeconds: 60,
      held: true,
    });
    const res = await worker.fetch(
      new Request(`https://opentime.test/v1/e/${t}?type=view&item=p1&eid=px-held`),
      { ...env, EVENTS: queue },
      createExecutionContext(),
    );
    expect(res.headers.get("Content-Type")).toBe("image/gif");
    expect(res.headers.get("X-Opentime-Recorded")).toBe("no");
    expect(sent).toEqual([]);
  });

  it("Apple Mail Privacy Protection's prefetch at delivery records no open (nor view, nor click), as the images count none", async () => {
    const { queue, sent } = recordingQueue();
    const pixel = async (type: string, init: RequestInit & { cf?: unknown } = {}) =>
      worker.fetch(
        new Request(`https://opentime.test/v1/e/${await token("px-mpp")}?type=${type}&item=p1`, init),
        { ...env, EVENTS: queue },
        createExecutionContext(),
      );
    const mpp = { headers: { "User-Agent": "Mozilla/5.0" }, cf: { asn: 714, asOrganization: "Apple Inc." } };
    for (const type of ["email_open", "view", "email_click"]) {
      const res = await pixel(type, mpp);
      expect(res.headers.get("Content-Type")).toBe("image/gif");
      expect([res.headers.get("X-Opentime-Recorded"), res.headers.get("X-Opentime-Fetch")]).toEqual([
        "no",
        "apple-mpp",
      ]);
    }
    expect(sent).toEqual([]);
    // the reader's own Apple Mail, opening it later, is an open
    const own = await pixel("email_open", {
      headers: { "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15" },
    });
    expect([own.headers.get("X-Opentime-Recorded"), own.headers.get("X-Opentime-Fetch")]).toEqual(["yes", "direct"]);
    expect(sent).toEqual([expect.objectContaining({ type: "email_open", user: "px-mpp" })]);
  });

  it("a HEAD (link scanners) answers the GIF's headers and records nothing, nor spends the token's budget", async () => {
    const { queue, sent } = recordingQueue();
    const pixel = (t: string, method: string) =>
      worker.fetch(
        new Request(`https://opentime.test/v1/e/${t}?type=email_click&item=p1`, { method }),
        { ...env, EVENTS: queue },
        createExecutionContext(),
      );
    const t = await token("px-head");
    for (let i = 0; i < 25; i++) {
      const head = await pixel(t, "HEAD");
      expect(head.status).toBe(200);
      expect(head.headers.get("Content-Type")).toBe("image/gif");
      expect(head.headers.get("X-Opentime-Recorded")).toBe("no");
    }
    expect(sent).toEqual([]);
    // the limit is 20 a minute: the reader's own GET is still recorded
    expect((await pixel(t, "GET")).headers.get("X-Opentime-Recorded")).toBe("yes");
    expect(sent).toEqual([expect.objectContaining({ type: "email_click", user: "px-head", item: "p1" })]);
  });
});
