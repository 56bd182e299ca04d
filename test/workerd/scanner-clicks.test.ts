/**
 * Link scanners' clicks end to end in workerd (real KV, queue consumer, reader shards, D1): a click whose user agent
 * names a scanner gets the reader's very 302 and is counted apart, never on the profile nor in the report's clicks;
 * a burst of clicks on different slots of one email is a scanner's, its first clicks (applied before the burst
 * showed) undone with the exposure they made, while the reader's own click of a slot later counts; one click from
 * Microsoft's network with a browser's user agent is the reader's, two slots within a second from there are not,
 * two from a home network are; the right of access shows both kinds, and erasure deletes them. Which user agents
 * name a scanner (and which never do: the browsers and mail apps readers click in), and that a scanner's network, or
 * no user agent, is only suspect (worker/decisions/classify-click.ts). When each click reached the edge is set on
 * the events the route queued (`atMs`), as the test's requests come closer together than any reader's.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { decayedEngagement } from "../../core/apply-events";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { mintToken, sendKey, verifyToken } from "../../core/token";
import { classifyClick } from "../../worker/decisions/classify-click";
import type { ExperimentReport } from "../../worker/experiments/experiment-report";
import worker from "../../worker/index";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_TOKEN_SECRET } from "./fixture";
import {
  ADMIN_HEADERS,
  consume,
  decisionKeyOf,
  fixture,
  flushExperimentStore,
  freshExperimentState,
  putCampaign,
  recordingQueue,
  send,
} from "./support/harness";

const CAMPAIGN = "scan-camp";
const EXPERIMENT = "e-scan";
const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))";
const MICROSOFT = { asn: 8075, asOrganization: "Microsoft Corporation" };

interface Who {
  ua?: string;
  cf?: Record<string, unknown>;
}

const db = () => env.DB as D1Database;
const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];

/** A GET to the Worker as `who` sends it, its events kept (not delivered), its background awaited. */
async function get(path: string, who: Who): Promise<{ res: Response; sent: QueuedEvent[] }> {
  const rec = recordingQueue();
  const ctx = createExecutionContext();
  const req = new Request(`https://opentime.test${path}`, {
    headers: who.ua ? { "User-Agent": who.ua } : {},
    ...(who.cf && { cf: who.cf }),
  } as RequestInit);
  const res = await worker.fetch(req, { ...env, EVENTS: rec.queue }, ctx);
  await waitOnExecutionContext(ctx);
  return { res, sent: rec.sent };
}

const click = (t: string, slot: string, who: Who) => get(`/v1/c/${t}/${slot}`, who);

/** The events as if their requests had reached the edge at `ms`. */
const arrivedAt = (events: readonly QueuedEvent[], ms: number) => events.map((e) => ({ ...e, atMs: ms }));

/** Events through the real consumer and shards, then into the experiment store. */
async function apply(events: QueuedEvent[]): Promise<void> {
  const result = await consume(events);
  expect(result.retryMessages).toEqual([]);
  await flushExperimentStore();
}

/** The reader opens the email (its first image, in a browser), and the open is applied. */
async function opened(t: string): Promise<void> {
  const { res, sent } = await get(`/v1/img/${t}/row-0.png`, { ua: CHROME });
  expect(res.status).toBe(200);
  await apply(sent);
}

async function report(): Promise<ExperimentReport> {
  const res = await send(`/v1/admin/experiments/${EXPERIMENT}/report?intervals=fixed`, { headers: ADMIN_HEADERS });
  expect(res.status).toBe(200);
  return (await res.json()) as ExperimentReport;
}

const totalClicks = (r: ExperimentReport) => r.arms.reduce((s, a) => s + a.clicks, 0);
const profileOf = async (user: string) => (await readerStub(env, user).read(user)) as Profile;
const clicksOn = (p: Profile) => p.recentItems.filter((r) => r.type === "email_click");
const rowsOf = async (table: "exposures" | "outcomes" | "scanner_clicks", user: string) =>
  (await db().prepare(`SELECT * FROM ${table} WHERE user = ? AND experiment = ?`).bind(user, EXPERIMENT).all()).results;

/** A reader of the fixture no other test here uses, and a token of the campaign's email for them. */
async function reader(index: number): Promise<{ user: string; t: string }> {
  const user = (readers()[index] as Profile).userId;
  return { user, t: await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 3600 }) };
}

beforeEach(async () => {
  await freshExperimentState();
  await putCampaign(CAMPAIGN, { v: 2, default: { id: "picks", type: "recommendations" } });
  await db()
    .batch(["exposures", "outcomes", "daily", "scanner_clicks"].map((t) => db().prepare(`DELETE FROM ${t}`)))
    .catch(() => undefined);
  const put = await send(`/v1/admin/experiments/${EXPERIMENT}`, {
    method: "PUT",
    headers: ADMIN_HEADERS,
    body: JSON.stringify({
      campaign: CAMPAIGN,
      variants: [
        { id: "personal", weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
        { id: "popular", weight: 1, content: "popular" },
      ],
    }),
  });
  expect(put.status).toBe(200);
});

describe("link scanners' clicks", () => {
  it("a scanner's user agent gets the reader's very 302, stores nothing, and is counted apart, never as a click", async () => {
    const { user, t } = await reader(10);
    await opened(t);
    const before = await profileOf(user);
    const sentAt = Date.now();
    const scanner = await click(t, "row-1", { ua: BARRACUDA });
    // what the scanner asked is not frozen for the reader: their open decides
    expect(await env.OPENTIME_KV.get(await decisionKeyOf(t, "row-1"))).toBeNull();
    // what the reader's browser gets for the same link, asked after (its click is not applied here)
    const browser = await click(t, "row-1", { ua: CHROME });
    expect(scanner.res.status).toBe(302);
    expect([scanner.res.status, [...scanner.res.headers]]).toEqual([browser.res.status, [...browser.res.headers]]);
    // queued as a scanner's click, with when it reached the edge and the email it belongs to
    const claims = (await verifyToken([TEST_TOKEN_SECRET], t)) as { ok: true; claims: { c: string; e: number } };
    expect(scanner.sent).toEqual([
      expect.objectContaining({ type: "scanner_click", scanner: "agent", slot: "row-1", send: sendKey(claims.claims) }),
    ]);
    expect(scanner.sent[0]?.atMs).toBeGreaterThanOrEqual(sentAt);
    expect(scanner.sent[0]?.atMs).toBeLessThanOrEqual(Date.now());
    await apply(scanner.sent);
    // the profile is as the open left it: no click, no engagement, no interest in the item
    const after = await profileOf(user);
    expect(clicksOn(after)).toEqual([]);
    expect(after.engagement.score).toBeCloseTo(before.engagement.score, 9);
    expect(after.seenEvents).not.toContain(scanner.sent[0]?.id);
    // the report counts no click, and says one was filtered
    expect(await rowsOf("outcomes", user)).toEqual([]);
    const r = await report();
    expect(totalClicks(r)).toBe(0);
    const arm = (await rowsOf("exposures", user))[0]?.arm as string;
    expect(r.scannerClicks).toEqual({
      clicks: 1,
      byReason: { agent: 1, burst: 0, "suspect-burst": 0 },
      byArm: { [arm]: 1 },
    });
  });

  it("a burst on different slots is a scanner's: the clicks applied first are undone, the reader's own click later counts", async () => {
    const { user, t } = await reader(11);
    // what the shard starts from: the seed's snapshot of the reader
    const seeded = (await env.OPENTIME_KV.get(kvKeys.profile(user), "json")) as Profile | null;
    // the scanner at delivery, before the reader opens: three slots, as a browser would ask for them
    const burst = [];
    for (const slot of ["row-0", "row-1", "row-2"]) burst.push((await click(t, slot, { ua: CHROME })).sent);
    const [first, second, third] = burst as [QueuedEvent[], QueuedEvent[], QueuedEvent[]];
    const start = Date.now();
    // the first two arrive apart, each in its batch: two slots within a second from a home network are a reader's
    await apply(arrivedAt(first, start));
    await apply(arrivedAt(second, start + 300));
    const counted = await profileOf(user);
    expect(clicksOn(counted)).toHaveLength(2);
    expect(counted.experiments[EXPERIMENT]).toMatchObject({ via: "click" });
    expect(await rowsOf("outcomes", user)).toHaveLength(2);
    // the third slot within the second: the three are a scanner's, and the first two are taken back
    await apply(arrivedAt(third, start + 600));
    const undone = await profileOf(user);
    expect(clicksOn(undone)).toEqual([]);
    const base = seeded?.engagement ?? { score: 0, at: 0 };
    expect(undone.engagement.score).toBeCloseTo(decayedEngagement(base.score, base.at, undone.engagement.at), 9);
    expect(undone.seenEvents.filter((id) => id.startsWith("click:"))).toEqual([]);
    // the exposure the first click made goes too: the reader has not opened the email
    expect(undone.experiments[EXPERIMENT]).toBeUndefined();
    expect(await rowsOf("exposures", user)).toEqual([]);
    expect(await rowsOf("outcomes", user)).toEqual([]);
    let r = await report();
    expect(totalClicks(r)).toBe(0);
    expect(r.arms.reduce((s, a) => s + a.clickOnly, 0)).toBe(0);
    expect(r.scannerClicks).toMatchObject({ clicks: 3, byReason: { agent: 0, burst: 3, "suspect-burst": 0 } });
    // redelivered, the first click is judged as it was
    await apply(arrivedAt(first, start));
    expect(clicksOn(await profileOf(user))).toEqual([]);
    // the reader opens the email and clicks the second slot a minute later: theirs, counted
    await opened(t);
    const own = await click(t, "row-1", { ua: CHROME });
    await apply(arrivedAt(own.sent, start + 60_000));
    const read = await profileOf(user);
    expect(clicksOn(read)).toHaveLength(1);
    expect(read.experiments[EXPERIMENT]).not.toHaveProperty("via");
    expect(await rowsOf("outcomes", user)).toEqual([expect.objectContaining({ kind: "click", slot: "row-1" })]);
    r = await report();
    expect(totalClicks(r)).toBe(1);
    expect(r.arms.reduce((s, a) => s + a.exposed, 0)).toBe(1);
    expect(r.scannerClicks.clicks).toBe(3);
  });

  it("Microsoft's network with a browser's user agent: one click is the reader's, two slots within a second are not; a home network's two are", async () => {
    const office = await reader(12);
    const home = await reader(13);
    const cloud = await reader(14);
    for (const { t } of [office, home, cloud]) await opened(t);
    const start = Date.now();
    // one click from Microsoft's network (a reader on a Cloud PC, or a scanner checking one link: not told apart)
    const one = await click(office.t, "row-0", { ua: CHROME, cf: MICROSOFT });
    await apply(arrivedAt(one.sent, start));
    // two slots within a second from a home network: a quick reader, counted
    for (const [slot, ms] of [
      ["row-0", start],
      ["row-1", start + 500],
    ] as const)
      await apply(arrivedAt((await click(home.t, slot, { ua: CHROME })).sent, ms));
    // two slots within a second from Microsoft's network: a scanner
    for (const [slot, ms] of [
      ["row-0", start],
      ["row-1", start + 500],
    ] as const)
      await apply(arrivedAt((await click(cloud.t, slot, { ua: CHROME, cf: MICROSOFT })).sent, ms));
    expect(await rowsOf("outcomes", office.user)).toHaveLength(1);
    expect(await rowsOf("outcomes", home.user)).toHaveLength(2);
    expect(await rowsOf("outcomes", cloud.user)).toEqual([]);
    expect(clicksOn(await profileOf(office.user))).toHaveLength(1);
    expect(clicksOn(await profileOf(home.user))).toHaveLength(2);
    expect(clicksOn(await profileOf(cloud.user))).toEqual([]);
    const r = await report();
    expect(totalClicks(r)).toBe(3);
    expect(r.scannerClicks).toMatchObject({ clicks: 2, byReason: { agent: 0, burst: 0, "suspect-burst": 2 } });
    // the one click was suspect all the same: alone, not enough
    expect(one.sent[0]).toMatchObject({ type: "email_click", suspect: true });
  });

  it("Outlook's check of each link before the reader's browser is recorded as nothing: two quick clicks of the reader's count", async () => {
    const { user, t } = await reader(16);
    await opened(t);
    const start = Date.now();
    const OFFICE = "Microsoft Office Existence Discovery";
    // the reader clicks two products 0.9 s apart in Outlook: each link checked by Office, then opened in the browser
    const steps = [
      ["row-0", OFFICE, start],
      ["row-0", CHROME, start + 50],
      ["row-1", OFFICE, start + 900],
      ["row-1", CHROME, start + 950],
    ] as const;
    for (const [slot, ua, ms] of steps) {
      const { res, sent } = await click(t, slot, { ua });
      expect(res.status).toBe(302);
      if (ua === OFFICE) expect(sent).toEqual([]);
      await apply(arrivedAt(sent, ms));
    }
    expect(clicksOn(await profileOf(user))).toHaveLength(2);
    expect(await rowsOf("outcomes", user)).toHaveLength(2);
    expect(await rowsOf("scanner_clicks", user)).toEqual([]);
  });

  it("the right of access shows the clicks kept and the scanners' counted; erasure deletes both", async () => {
    const { user, t } = await reader(15);
    await opened(t);
    const start = Date.now();
    await apply(arrivedAt((await click(t, "row-1", { ua: BARRACUDA })).sent, start));
    await apply(arrivedAt((await click(t, "row-2", { ua: CHROME })).sent, start + 120_000));
    const access = await send(`/v1/users/${user}`, { headers: ADMIN_HEADERS });
    expect(access.status).toBe(200);
    const held = (await access.json()) as {
      clicks: { slot: string; scanner: string | null; applied: boolean }[];
      experiments: { scannerClicks: { count: number; items: { reason: string; slot: string }[] } };
    };
    expect(held.clicks).toEqual([
      expect.objectContaining({ slot: "row-1", scanner: "agent", applied: false }),
      expect.objectContaining({ slot: "row-2", scanner: null, applied: true }),
    ]);
    expect(held.experiments.scannerClicks).toEqual({
      count: 1,
      items: [expect.objectContaining({ reason: "agent", slot: "row-1" })],
    });
    const erased = await send(`/v1/users/${user}`, { method: "DELETE", headers: ADMIN_HEADERS });
    expect(erased.status).toBe(200);
    await flushExperimentStore();
    expect(await rowsOf("scanner_clicks", user)).toEqual([]);
    const shard = readerStub(env, user);
    expect((await shard.access(user, 10)).clicks).toEqual([]);
  });
});

describe("the click's signals", () => {
  it("browsers and mail apps readers click in are never scanners, nor suspect from a home network", () => {
    for (const ua of [
      CHROME,
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
      // Gmail's and Outlook's apps open links in their own browsers
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/310.0.620597033 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.0.0 Mobile Safari/537.36",
      // a phone whose maker's name ends in "bot"
      "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
      // LinkedIn's and Facebook's in-app browsers
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0]",
    ])
      expect(classifyClick({ userAgent: ua, asn: 7922, asOrganization: "Comcast Cable" }), ua).toEqual({
        agent: false,
        suspect: false,
      });
  });

  it("user agents that name a scanner, previewer, crawler, headless browser or HTTP library are scanners", () => {
    for (const ua of [
      "Barracuda Sentinel (EE)",
      "Mozilla/5.0 (compatible; proofpoint)",
      "Mimecast URL Protect",
      "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
      "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
      "facebookexternalhit/1.1",
      "WhatsApp/2.23.20.0",
      "Microsoft Office Existence Discovery",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
      "python-requests/2.31.0",
      "curl/8.4.0",
      "Go-http-client/1.1",
    ])
      expect(classifyClick({ userAgent: ua, asn: 7922 }).agent, ua).toBe(true);
  });

  it("a scanner's network or no user agent is suspect only", () => {
    expect(classifyClick({ userAgent: CHROME, asn: 8075, asOrganization: "Microsoft Corporation" })).toEqual({
      agent: false,
      suspect: true,
    });
    expect(classifyClick({ userAgent: CHROME, asn: 16509 })).toEqual({ agent: false, suspect: true });
    expect(classifyClick({ userAgent: CHROME, asn: 26211, asOrganization: "Proofpoint, Inc." })).toEqual({
      agent: false,
      suspect: true,
    });
    expect(classifyClick({ userAgent: null, asn: 7922 })).toEqual({ agent: false, suspect: true });
    expect(classifyClick({ userAgent: "  " })).toEqual({ agent: false, suspect: true });
  });
});
