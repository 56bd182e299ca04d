/**
 * The email's one-click unsubscribe link (RFC 8058) in workerd: a POST of `List-Unsubscribe=One-Click` sets the
 * reader's `unsubscribed` through their shard (the queue, else the shard itself); a GET only shows a page whose
 * button POSTs; a link forged for another reader, signed with another key or expired (two years on) unsubscribes
 * nobody; a repeat is harmless; never a 5xx. Refusals are the API's errors, and pages with the same status to a
 * browser. A reader their shard holds no profile of (erased, their tombstone standing or ended, or never known) is
 * kept as a suppression alone: listed for the shop, held back by the builder's check, shown by the right of access.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { base64UrlToBytes, bytesToBase64Url } from "../../core/base64";
import { erasureHash, erasureKey } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { mintToken } from "../../core/token";
import { mintUnsubscribeToken, unsubscribeSecret } from "../../core/unsubscribe-link";
import { createListChanges } from "../../worker/state/list-changes-table";
import { readerStub } from "../../worker/state/shard-routing";
import { signClaims } from "../shared/sign-claims";
import { TEST_TOKEN_SECRET } from "./fixture";
import { ADMIN_HEADERS as ADMIN, consume, recordingQueue, SENDER, send, token } from "./support/harness";

type Bindings = typeof env;

const ONE_CLICK = "List-Unsubscribe=One-Click";
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
/** What a browser sends (the page's button); a mail provider's one-click POST names no HTML. */
const BROWSER = { ...FORM, Accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
const codeOf = (text: string) => (JSON.parse(text) as { error: { code: string } }).error.code;

function unsubscribeToken(user: string, opts: { ttlSeconds?: number; now?: number } = {}) {
  return mintUnsubscribeToken(TEST_TOKEN_SECRET, { user, campaign: "spring", ttlSeconds: 0, ...opts });
}

function request(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string; bindings?: Partial<Bindings> } = {},
): Promise<Response> {
  return send(path, { method, headers: init.headers, body: init.body }, { ...env, ...init.bindings } as Bindings);
}

/** A one-click POST with a queue that keeps what it is sent. */
async function oneClick(t: string, body = ONE_CLICK, headers: Record<string, string> = FORM) {
  const { queue, sent } = recordingQueue();
  const res = await request("POST", `/v1/unsubscribe?t=${t}`, { headers, body, bindings: { EVENTS: queue } });
  return { res, sent, text: await res.text() };
}

const unsubscribedBy = (sent: QueuedEvent[]) =>
  sent.filter((e) => e.type === "consent" && e.consent?.unsubscribed === true).map((e) => e.user);

/** The reader's consent as their shard holds it in their profile (null: no profile). */
async function held(user: string) {
  return (await readerStub(env, user).read(user))?.consent ?? null;
}

/** Whether the reader's list row says unsubscribed (null: none). */
async function listed(user: string) {
  return (await readerStub(env, user).access(user, 10)).listChange?.unsubscribed ?? null;
}

/** A reader their shard holds a profile of (a view applied). */
async function known(user: string) {
  await consume([{ id: `view:${user}`, type: "view", user, item: "p1", ts: Math.floor(Date.now() / 1000) - 60 }]);
  expect(await held(user)).toMatchObject({ unsubscribed: false });
}

describe("one-click unsubscribe: POST", () => {
  it("sets the reader's unsubscribed through their shard, answers 200 with a page and no redirect", async () => {
    await known("unsub-1");
    const { res, sent, text } = await oneClick(await unsubscribeToken("unsub-1"));
    expect(res.status).toBe(200);
    expect(res.headers.get("Location")).toBeNull();
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Cache-Control")).toBe("private, no-store");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(text).toContain("You are unsubscribed");
    expect(unsubscribedBy(sent)).toEqual(["unsub-1"]);
    await consume(sent);
    expect(await held("unsub-1")).toMatchObject({ unsubscribed: true, tracking: true, personalization: true });
    expect(await listed("unsub-1")).toBe(true);
  });

  it("takes the one-click form as multipart too (RFC 8058 allows either)", async () => {
    const form = new FormData();
    form.set("List-Unsubscribe", "One-Click");
    const req = new Request("https://x.invalid/", { method: "POST", body: form });
    const { res, sent } = await oneClick(
      await unsubscribeToken("unsub-multipart"),
      new TextDecoder().decode(await req.arrayBuffer()),
      Object.fromEntries(req.headers),
    );
    expect(res.status).toBe(200);
    expect(unsubscribedBy(sent)).toEqual(["unsub-multipart"]);
  });

  it("a repeat answers 200 again and leaves the reader unsubscribed (it sets, never toggles)", async () => {
    await known("unsub-twice");
    const t = await unsubscribeToken("unsub-twice");
    const first = await oneClick(t);
    const second = await oneClick(t);
    expect([first.res.status, second.res.status]).toEqual([200, 200]);
    // both setting the same value (within one second, one change: the link's send and the second are its id)
    await consume([...first.sent, ...second.sent]);
    await consume(second.sent);
    expect(await held("unsub-twice")).toMatchObject({ unsubscribed: true });
    const third = await oneClick(t);
    await consume(third.sent);
    expect(await held("unsub-twice")).toMatchObject({ unsubscribed: true });
  });

  it("a link POSTed over and over keeps no applied id (the shard keeps every other applied id for good)", async () => {
    // whoever holds the link (a forward, a scanner's log) could otherwise grow the reader's shard a row a second for
    // the link's two years: a consent change needs no id, its clock makes applying it again change nothing
    await known("unsub-flood");
    const t = await unsubscribeToken("unsub-flood");
    const sent: QueuedEvent[] = [];
    for (let i = 0; i < 6; i++) {
      const click = await oneClick(t);
      expect(click.res.status).toBe(200);
      sent.push(...click.sent);
    }
    await consume(sent);
    const access = await readerStub(env, "unsub-flood").access("unsub-flood", 100);
    // the view's id alone
    expect(access.applied.count).toBe(1);
    expect(access.profile?.consent).toMatchObject({ unsubscribed: true });
  });

  it("an unsubscribe delivered again after a newer resubscribe leaves the reader subscribed (its clock, not a kept id)", async () => {
    await known("unsub-redelivered");
    const click = await oneClick(await unsubscribeToken("unsub-redelivered"));
    const [unsubscribe] = click.sent;
    if (!unsubscribe) throw new Error("the link queued nothing");
    await consume([unsubscribe]);
    expect(await held("unsub-redelivered")).toMatchObject({ unsubscribed: true });
    const resubscribe: QueuedEvent = {
      ...unsubscribe,
      id: `${unsubscribe.id}:again`,
      ts: unsubscribe.ts + 5,
      consent: { unsubscribed: false },
    };
    await consume([resubscribe]);
    // the queue delivers the unsubscribe's message again (at least once): applied again, it changes nothing
    await consume([unsubscribe]);
    expect(await held("unsub-redelivered")).toMatchObject({ unsubscribed: false });
    expect(await listed("unsub-redelivered")).toBe(false);
    expect((await readerStub(env, "unsub-redelivered").access("unsub-redelivered", 100)).applied.count).toBe(1);
  });

  it("a POST without the one-click field changes nothing: 400 BAD_REQUEST, to a browser the page with its button", async () => {
    const t = await unsubscribeToken("unsub-not-one-click");
    for (const [body, headers] of [
      ["", FORM],
      ["List-Unsubscribe=Yes", FORM],
      ['{"List-Unsubscribe":"One-Click"}', { "Content-Type": "application/json" }],
      ["x".repeat(5000), FORM],
    ] as const) {
      const { res, sent, text } = await oneClick(t, body, headers);
      expect(res.status, body.slice(0, 40)).toBe(400);
      expect(codeOf(text)).toBe("BAD_REQUEST");
      expect(sent).toEqual([]);
      const page = await oneClick(t, body, { ...headers, Accept: BROWSER.Accept });
      expect(page.res.status).toBe(400);
      expect(page.text).toContain('name="List-Unsubscribe" value="One-Click"');
      expect(page.sent).toEqual([]);
    }
    expect(await held("unsub-not-one-click")).toBeNull();
    expect(await listed("unsub-not-one-click")).toBeNull();
  });

  it("when the queue refuses, the reader's shard applies it itself", async () => {
    await known("unsub-no-queue");
    const t = await unsubscribeToken("unsub-no-queue");
    const res = await request("POST", `/v1/unsubscribe?t=${t}`, {
      headers: FORM,
      body: ONE_CLICK,
      bindings: { EVENTS: undefined },
    });
    expect(res.status).toBe(200);
    expect(await held("unsub-no-queue")).toMatchObject({ unsubscribed: true });
  });

  it("when neither the queue nor the shard takes it: 429 UNSUBSCRIBE_NOT_SAVED with Retry-After, never a 5xx", async () => {
    const t = await unsubscribeToken("unsub-nothing-up");
    for (const headers of [FORM, BROWSER]) {
      const res = await request("POST", `/v1/unsubscribe?t=${t}`, {
        headers,
        body: ONE_CLICK,
        bindings: { EVENTS: undefined, READERS: undefined },
      });
      expect(res.status).toBe(429);
      expect(res.headers.get("Retry-After")).toBe("60");
      const text = await res.text();
      if (headers === FORM) expect(codeOf(text)).toBe("UNSUBSCRIBE_NOT_SAVED");
      else {
        // to a browser: a page asking to press again, with the button
        expect(text).toContain("press the button again");
        expect(text).toContain('method="post"');
      }
    }
  });
});

describe("one-click unsubscribe: links that unsubscribe nobody", () => {
  it("an email's own token (the open-time key) is no unsubscribe link, nor does an unsubscribe token open anything else", async () => {
    const t = await token("unsub-email-token");
    const { res, sent, text } = await oneClick(t);
    expect(res.status).toBe(401);
    expect(codeOf(text)).toBe("TOKEN_INVALID");
    expect(sent).toEqual([]);
    const page = await oneClick(t, ONE_CLICK, BROWSER);
    expect(page.res.status).toBe(401);
    expect(page.res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.text).toContain("This link does not work");
    expect(page.sent).toEqual([]);
    // the other way: an unsubscribe token (longer-lived) opens no preferences form, no personal recommendations
    const u = await unsubscribeToken("unsub-scope", { ttlSeconds: 86_400 });
    const prefs = await request("POST", `/v1/amp/preferences?t=${u}`, {
      headers: { ...FORM, "AMP-Email-Sender": SENDER },
      body: "form=2&unsubscribe=on",
    });
    expect(prefs.status).toBe(401);
    const recs = await request("GET", `/v1/amp/recs?t=${u}`, { headers: { "AMP-Email-Sender": SENDER } });
    expect(recs.headers.get("X-Opentime-Reason")).toMatch(/^token-bad-signature/);
  });

  it("a link forged for another reader (claims swapped, signature kept) or signed with another secret", async () => {
    const mine = await unsubscribeToken("unsub-attacker");
    const [body, sig] = mine.split(".") as [string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64UrlToBytes(body))) as { u: string };
    claims.u = "unsub-victim";
    const swapped = `${bytesToBase64Url(new TextEncoder().encode(JSON.stringify(claims)))}.${sig}`;
    const otherSecret = await mintToken(await unsubscribeSecret("another-secret-0123456789abcdef"), {
      user: "unsub-victim",
      campaign: "spring",
      ttlSeconds: 86_400,
    });
    for (const t of [swapped, otherSecret, "", "nope", `${mine}x`]) {
      const { res, sent } = await oneClick(t);
      expect(res.status, t).toBe(401);
      expect(sent, t).toEqual([]);
      const page = await request("GET", `/v1/unsubscribe?t=${t}`, { headers: BROWSER });
      expect(page.status, t).toBe(401);
      const text = await page.text();
      expect(text).toContain("This link does not work");
      // a link whose key was retired since is one of these: the page says how to opt out anyway
      expect(text).toContain("use the unsubscribe link in a newer email, or reply to one and ask to be removed");
    }
    expect(await held("unsub-victim")).toBeNull();
    expect(await listed("unsub-victim")).toBeNull();
  });

  it("an expired link (two years on): 401 TOKEN_INVALID, to a browser a page saying how to opt out anyway", async () => {
    const now = Math.floor(Date.now() / 1000);
    // its life (730 days), minted 731 days ago
    const t = await unsubscribeToken("unsub-expired", { now: now - 731 * 86_400 });
    const { res, sent, text } = await oneClick(t);
    expect(res.status).toBe(401);
    expect(codeOf(text)).toBe("TOKEN_INVALID");
    expect(sent).toEqual([]);
    const page = await oneClick(t, ONE_CLICK, BROWSER);
    expect(page.res.status).toBe(401);
    expect(page.text).toContain("This link has expired");
    expect(page.text).toContain("use the unsubscribe link in a newer email, or reply to one and ask to be removed");
    expect(page.sent).toEqual([]);
    const get = await request("GET", `/v1/unsubscribe?t=${t}`, { headers: BROWSER });
    expect(get.status).toBe(401);
    expect(await get.text()).toContain("This link has expired");
    // 729 days ago: still good
    const fresh = await unsubscribeToken("unsub-expired", { now: now - 729 * 86_400 });
    expect((await oneClick(fresh)).res.status).toBe(200);
  });
});

describe("one-click unsubscribe: GET never unsubscribes", () => {
  it("shows a no-script page whose button POSTs the one-click form to the same link; nothing is recorded", async () => {
    const t = await unsubscribeToken("unsub-scanned");
    const { queue, sent } = recordingQueue();
    for (const method of ["GET", "HEAD", "GET"]) {
      const res = await request(method, `/v1/unsubscribe?t=${t}`, { bindings: { EVENTS: queue } });
      expect(res.status, method).toBe(200);
      expect(res.headers.get("Content-Security-Policy")).toMatch(/default-src 'none'/);
      expect(res.headers.get("Content-Security-Policy")).toMatch(/frame-ancestors 'none'/);
      if (method === "HEAD") continue;
      const html = await res.text();
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain(`<form method="post" action="/v1/unsubscribe?t=${t}">`);
      expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
    }
    expect(sent).toEqual([]);
    expect(await held("unsub-scanned")).toBeNull();
    // what the page's button sends unsubscribes
    const { res, sent: posted } = await oneClick(t);
    expect(res.status).toBe(200);
    expect(unsubscribedBy(posted)).toEqual(["unsub-scanned"]);
  });
});

/** The right of access (GET /v1/users/<id>): its status and body. */
async function rightOfAccess(user: string) {
  const res = await request("GET", `/v1/users/${encodeURIComponent(user)}`, { headers: ADMIN });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The builder's check (POST /v1/admin/suppressions) of one reader: their reason, or null. */
async function checked(user: string): Promise<string | null> {
  const res = await request("POST", "/v1/admin/suppressions", {
    headers: ADMIN,
    body: JSON.stringify({ users: [user] }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { suppressed: { user: string; reason: string }[] };
  return body.suppressed.find((s) => s.user === user)?.reason ?? null;
}

/** The shop's list's read (GET /v1/admin/suppressions), every page: the reader's entries. */
async function exported(user: string): Promise<{ user: string; unsubscribed: boolean }[]> {
  const out: { user: string; unsubscribed: boolean }[] = [];
  let query = "?limit=1000";
  for (;;) {
    const res = await request("GET", `/v1/admin/suppressions${query}`, { headers: ADMIN });
    expect(res.status).toBe(200);
    const page = (await res.json()) as {
      changes: { user: string; unsubscribed: boolean }[];
      cursor: string;
      more: boolean;
    };
    out.push(...page.changes.filter((c) => c.user === user));
    if (!page.more) return out;
    query = `?cursor=${page.cursor}&limit=1000`;
  }
}

/** Nothing but the suppression: no profile, applied id, history, snapshot or other KV key of the reader. */
async function onlyTheSuppression(user: string) {
  const a = await readerStub(env, user).access(user, 10);
  expect(a.profile).toBeNull();
  expect(a.clock).toBeNull();
  expect(a.applied.count).toBe(0);
  expect([a.triggers, a.views, a.outcomes, a.clicks, a.campaignSends]).toEqual([[], [], [], [], []]);
  expect(a.parked.count).toBe(0);
  expect(a.listChange).toMatchObject({ user, unsubscribed: true, pausedUntil: null, frequency: null });
  const keys = (await env.OPENTIME_KV.list()).keys.map((k) => k.name);
  expect(keys.filter((k) => k.includes(user))).toEqual([]);
  // the right of access shows it (and only it)
  const access = await rightOfAccess(user);
  expect(access.status).toBe(200);
  expect(access.body.profile).toBeNull();
  expect(access.body.list_change).toMatchObject({ unsubscribed: true });
}

async function erase(user: string) {
  expect((await request("DELETE", `/v1/users/${user}`, { headers: ADMIN })).status).toBe(200);
}

/** Ends the reader's tombstones, as ERASURE_TOMBSTONE_DAYS passing would: KV's expires, the shard's alarm forgets its own. */
async function tombstoneEnds(user: string) {
  const hash = await erasureHash(user);
  await runInDurableObject(readerStub(env, user), (_: unknown, state) => {
    state.storage.sql.exec("UPDATE tombstones SET until = ? WHERE hash = ?", Date.now() - 1, hash);
  });
  await runDurableObjectAlarm(readerStub(env, user));
  await env.OPENTIME_KV.delete(await erasureKey(user));
  expect(await readerStub(env, user).erased(user)).toBe(false);
}

describe("one-click unsubscribe: links that outlive the email, and readers the shard holds no profile of", () => {
  it("a link minted 400 days ago still unsubscribes; a reader never known is kept as a suppression alone, listed and held back", async () => {
    const user = "unsub-old-link";
    const t = await unsubscribeToken(user, {
      ttlSeconds: 30 * 86_400,
      now: Math.floor(Date.now() / 1000) - 400 * 86_400,
    });
    const { res, sent, text } = await oneClick(t);
    expect(res.status).toBe(200);
    expect(text).toContain("You are unsubscribed");
    expect((await consume(sent)).retryMessages).toEqual([]);
    await onlyTheSuppression(user);
    expect(await exported(user)).toMatchObject([{ user, unsubscribed: true }]);
    expect(await checked(user)).toBe("unsubscribed");
    // pressed again: nothing more (one entry, still nothing but it)
    await consume((await oneClick(t)).sent);
    expect(await exported(user)).toHaveLength(1);
    await onlyTheSuppression(user);
  });

  it("a link an earlier version minted for an id shaped like an address only through a look-alike still unsubscribes", async () => {
    // what versions before the look-alike check minted (they took such ids), signed as they signed it
    const user = "unsub-jane\uFF20example.com";
    const claims = { u: user, c: "spring", e: Math.floor(Date.now() / 1000) + 700 * 86_400, v: 1 };
    const t = await signClaims(await unsubscribeSecret(TEST_TOKEN_SECRET), claims);
    const { res, sent, text } = await oneClick(t);
    expect(res.status).toBe(200);
    expect(text).toContain("You are unsubscribed");
    expect(unsubscribedBy(sent)).toEqual([user]);
    expect((await consume(sent)).retryMessages).toEqual([]);
    expect(await listed(user)).toBe(true);
    // and the builder's check (one such id in a batch) holds them back
    expect(await checked(user)).toBe("unsubscribed");
  });

  it("the preferences form of such an id saves its opt-outs alone: nothing it turns on or chooses is stored", async () => {
    const user = "pref-jane%40example.com";
    const claims = { u: user, c: "spring", e: Math.floor(Date.now() / 1000) + 86_400, v: 1 };
    const t = await signClaims(TEST_TOKEN_SECRET, claims);
    const submit = async (form: string) => {
      const { queue, sent } = recordingQueue();
      const res = await request("POST", `/v1/amp/preferences?t=${t}`, {
        headers: { ...FORM, "AMP-Email-Sender": SENDER },
        body: form,
        bindings: { EVENTS: queue },
      });
      return { res, sent, json: (await res.json()) as { message?: string; error?: { code: string } } };
    };
    const mixed = await submit("form=2&personalization=on&tracking=off&unsubscribe=on&frequency=weekly&topics=shoes");
    expect(mixed.res.status).toBe(200);
    expect(mixed.sent.map((e) => e.consent)).toEqual([{ tracking: false, unsubscribed: true }]);
    expect(mixed.json.message).toBe(
      "You are unsubscribed. Only opting out can be saved from this link: the rest is unchanged.",
    );
    const optIn = await submit("form=2&personalization=on&frequency=daily");
    expect(optIn.res.status).toBe(400);
    expect(optIn.json.error?.code).toBe("USER_ID_NOT_PSEUDONYMOUS");
    expect(optIn.sent).toEqual([]);
  });

  it("a reader erased long ago (tombstone ended) who unsubscribes: only the suppression exists, shown by the right of access", async () => {
    const user = "unsub-erased-long-ago";
    await known(user);
    await consume((await oneClick(await unsubscribeToken(user))).sent);
    await erase(user);
    expect(await exported(user)).toEqual([]);
    expect((await rightOfAccess(user)).status).toBe(404);
    await tombstoneEnds(user);
    expect(await checked(user)).toBeNull();
    // the shard's own apply, as when the queue refuses it
    const res = await request("POST", `/v1/unsubscribe?t=${await unsubscribeToken(user)}`, {
      headers: FORM,
      body: ONE_CLICK,
      bindings: { EVENTS: undefined },
    });
    expect(res.status).toBe(200);
    await onlyTheSuppression(user);
    expect(await exported(user)).toMatchObject([{ user, unsubscribed: true }]);
    expect(await checked(user)).toBe("unsubscribed");
  });

  it("a reader whose tombstone stands: answered unsubscribed, the suppression kept, everything else still dropped", async () => {
    const user = "unsub-erased-now";
    await known(user);
    await erase(user);
    const { res, sent, text } = await oneClick(await unsubscribeToken(user));
    expect(res.status).toBe(200);
    expect(text).toContain("You are unsubscribed");
    await consume([...sent, { id: "later-view", type: "view", user, item: "p1", ts: Math.floor(Date.now() / 1000) }]);
    expect(await readerStub(env, user).erased(user)).toBe(true);
    await onlyTheSuppression(user);
    expect(await exported(user)).toMatchObject([{ user, unsubscribed: true }]);
    // held back as erased while the tombstone stands, as unsubscribed once it has ended
    expect(await checked(user)).toBe("erased");
    await tombstoneEnds(user);
    expect(await checked(user)).toBe("unsubscribed");
  });

  it("a reader kept as a suppression whom the shard later holds stays unsubscribed, until a newer resubscribe", async () => {
    const user = "unsub-then-known";
    await consume((await oneClick(await unsubscribeToken(user))).sent);
    await consume([{ id: "v-after", type: "view", user, item: "p1", ts: Math.floor(Date.now() / 1000) }]);
    expect(await held(user)).toMatchObject({ unsubscribed: true });
    expect(await exported(user)).toHaveLength(1);
    expect(await checked(user)).toBe("unsubscribed");
    // a resubscribe timed before the unsubscribe was kept changes nothing; a newer one wins
    const ts = Math.floor(Date.now() / 1000);
    await consume([{ id: "c-old", type: "consent", user, ts: ts - 3600, consent: { unsubscribed: false } }]);
    expect(await held(user)).toMatchObject({ unsubscribed: true });
    await consume([{ id: "c-new", type: "consent", user, ts: ts + 5, consent: { unsubscribed: false } }]);
    expect(await held(user)).toMatchObject({ unsubscribed: false });
    expect(await listed(user)).toBe(false);
  });

  it("a resubscribe made after a kept unsubscribe wins, though the shard kept the unsubscribe after it was made", async () => {
    const user = "unsub-kept-late";
    const t = Math.floor(Date.now() / 1000);
    // the one-click unsubscribe two minutes ago, its message held back (retries, dead letters): kept only now
    const late: QueuedEvent = { id: `unsubscribe:s:${t - 120}`, type: "consent", user, ts: t - 120 };
    await consume([{ ...late, consent: { unsubscribed: true } }]);
    expect(await held(user)).toBeNull();
    expect(await listed(user)).toBe(true);
    // the reader resubscribed a minute ago, after unsubscribing: applied after the unsubscribe, it is the newer
    await consume([{ id: "c-resub", type: "consent", user, ts: t - 60, consent: { unsubscribed: false } }]);
    expect(await held(user)).toMatchObject({ unsubscribed: false });
    expect(await listed(user)).toBe(false);
  });

  /**
   * An unsubscribe made at `ts` by a reader the shard holds no profile of, kept as their list row alone, then the
   * row as an earlier version left it: no unsubscribe time (the column added again, empty).
   */
  async function keptBeforeTheColumn(user: string, ts: number) {
    await consume([{ id: `unsubscribe:s:${ts}`, type: "consent", user, ts, consent: { unsubscribed: true } }]);
    await runInDurableObject(readerStub(env, user), (_: unknown, state) => {
      const sql = state.storage.sql;
      sql.exec("ALTER TABLE list_changes DROP COLUMN unsubscribed_at");
      createListChanges(sql, Date.now());
    });
  }

  it("a suppression kept before its row recorded the unsubscribe's time is taken up as of when it was kept", async () => {
    const user = "unsub-kept-before";
    const t = Math.floor(Date.now() / 1000);
    // the row as the earlier version left it: no unsubscribe time (the column added again, empty)
    await keptBeforeTheColumn(user, t - 120);
    await consume([{ id: "c-resub-old", type: "consent", user, ts: t - 60, consent: { unsubscribed: false } }]);
    expect(await held(user)).toMatchObject({ unsubscribed: true });
  });

  it("an older unsubscribe repeated on a row kept before the column never dates the suppression back past its keeping", async () => {
    const user = "unsub-kept-before-repeat";
    const t = Math.floor(Date.now() / 1000);
    await keptBeforeTheColumn(user, t - 120);
    // an older email's unsubscribe, its message held back longer, arrives now: the reader unsubscribed twice
    await consume([
      { id: `unsubscribe:s2:${t - 300}`, type: "consent", user, ts: t - 300, consent: { unsubscribed: true } },
    ]);
    // a resubscribe made between the two unsubscribes is older than the newest of them (kept as of its keeping)
    await consume([{ id: "c-resub-between", type: "consent", user, ts: t - 200, consent: { unsubscribed: false } }]);
    expect(await held(user)).toMatchObject({ unsubscribed: true });
    expect(await listed(user)).toBe(true);
  });
});
