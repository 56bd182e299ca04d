/**
 * GET /v1/users/<id>, the right of access, inside workerd: it shows everything stored about the reader (parked
 * dead letters, experiment rows in D1, stored decisions, the consent clock, besides the profile and the rest),
 * bounds long lists with their counts, answers 404 only when none of it is held, and keeps its `?fields=profile`
 * and `?view=edge` variants. Each test takes its own reader ids: the shards' storage outlives a test.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, MAX_SEEN_EVENTS } from "../../core/profile";
import { writeRows } from "../../worker/experiments/experiment-db";
import worker from "../../worker/index";
import { ACCESS_LIST_LIMIT } from "../../worker/routes/users-get";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_ADMIN_KEY } from "./fixture";
import { clearKv } from "./support/harness";

const now = () => Math.floor(Date.now() / 1000);

beforeEach(clearKv);

async function access(user: string, query = "", key = TEST_ADMIN_KEY) {
  const res = await worker.fetch(
    new Request(`https://opentime.test/v1/users/${encodeURIComponent(user)}${query}`, {
      headers: { Authorization: `Bearer ${key}` },
    }),
    env,
    createExecutionContext(),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const purchase = (id: string, user: string): QueuedEvent => ({
  id,
  type: "purchase",
  user,
  item: "p1",
  ts: now() - 60,
  value: 5,
});

interface Listed {
  count: number;
  items: Record<string, unknown>[];
}

describe("right of access", () => {
  it("shows a new reader's parked dead letter (it answered 404 while one was held)", async () => {
    const user = "acc-parked-only";
    expect(await readerStub(env, user).park([purchase("acc-p1", user)])).toEqual(["parked"]);
    const { status, body } = await access(user);
    expect(status).toBe(200);
    const parked = body.parked as Listed;
    expect(parked.count).toBe(1);
    expect(parked.items.map((p) => p.id)).toEqual(["acc-p1"]);
    expect(parked.items[0]?.event).toMatchObject({ type: "purchase", user });
    expect(typeof parked.items[0]?.parked_at).toBe("number");
  });

  it("shows the reader's exposures and outcomes in the experiment store, and answers for a reader held only there", async () => {
    const user = "acc-d1-only";
    const at = now() - 120;
    await writeRows(env.DB as D1Database, [
      { kind: "assignment", experiment: "acc-exp", user, arm: "a", campaign: "spring", phase: null, at: at - 60 },
      {
        kind: "exposure",
        experiment: "acc-exp",
        user,
        arm: "a",
        campaign: "spring",
        block: "hero",
        via: "open",
        phase: null,
        at,
      },
      {
        kind: "click",
        experiment: "acc-exp",
        user,
        arm: "a",
        event: "acc-click-1",
        slot: "row-0",
        item: "p1",
        value: 0,
        at: at + 10,
      },
    ]);
    const { status, body } = await access(user);
    expect(status).toBe(200);
    const experiments = body.experiments as { exposures: Listed; assignments: Listed; outcomes: Listed };
    expect(experiments.exposures.count).toBe(1);
    expect(experiments.exposures.items[0]).toMatchObject({ experiment: "acc-exp", arm: "a", via: "open" });
    // the arm a send drew (subject lines) is the reader's data too
    expect(experiments.assignments.count).toBe(1);
    expect(experiments.assignments.items[0]).toMatchObject({ experiment: "acc-exp", arm: "a", at: at - 60 });
    expect(experiments.outcomes.count).toBe(1);
    expect(experiments.outcomes.items[0]).toMatchObject({ event: "acc-click-1", kind: "click", slot: "row-0" });
  });

  it("shows stored decisions (a bounded list with its count) and a reader held only there", async () => {
    const user = "acc-decisions";
    const keys = Array.from({ length: ACCESS_LIST_LIMIT + 5 }, (_, i) =>
      kvKeys.decision(user, "spring", 1767225600, `row-${i}`),
    );
    await Promise.all(keys.map((k, i) => env.OPENTIME_KV.put(k, JSON.stringify({ item: `p${i}` }))));
    // another reader's keys share the prefix (ids may contain ':'): never shown
    await env.OPENTIME_KV.put(kvKeys.decision(`${user}:other`, "spring", 1767225600, "row-0"), "{}");
    const { status, body } = await access(user);
    expect(status).toBe(200);
    const decisions = body.decisions as { count: number; items: { key: string; decision: unknown }[] };
    expect(decisions.count).toBe(ACCESS_LIST_LIMIT + 5);
    expect(decisions.items).toHaveLength(ACCESS_LIST_LIMIT);
    expect(decisions.items.every((d) => d.key.startsWith("spring:row-"))).toBe(true);
    expect(decisions.items[0]?.decision).toMatchObject({ item: expect.stringMatching(/^p\d+$/) });
    // the edge view (what KV holds) shows them too
    const edge = await access(user, "?view=edge");
    expect(edge.status).toBe(200);
    expect((edge.body.decisions as Listed).count).toBe(ACCESS_LIST_LIMIT + 5);
  });

  it("shows the KV-era ids of applied events (`seen:<user>`), which erasure deletes, in both views", async () => {
    // a reader from before the shards (upgrading): KV holds their applied ids, and nothing imported them yet
    const user = "acc-kv-seen";
    await env.OPENTIME_KV.put(kvKeys.seen(user), JSON.stringify(["acc-s1", "acc-s2"]));
    const { status, body } = await access(user);
    expect(status).toBe(200);
    expect(body.seen).toEqual(["acc-s1", "acc-s2"]);
    const edge = await access(user, "?view=edge");
    expect(edge.status).toBe(200);
    expect(edge.body.seen).toEqual(["acc-s1", "acc-s2"]);
  });

  it("bounds the parked list and counts every one", async () => {
    const user = "acc-many-parked";
    const events = Array.from({ length: ACCESS_LIST_LIMIT + 3 }, (_, i) => purchase(`acc-m${i}`, user));
    await readerStub(env, user).park(events);
    const parked = (await access(user)).body.parked as Listed;
    expect(parked.count).toBe(ACCESS_LIST_LIMIT + 3);
    expect(parked.items).toHaveLength(ACCESS_LIST_LIMIT);
  });

  it("shows the ids of the events applied (kept forever, past the profile's own window): a bounded list and its count", async () => {
    const user = "acc-applied";
    const n = MAX_SEEN_EVENTS + 3;
    const views: QueuedEvent[] = Array.from({ length: n }, (_, i) => ({
      id: `acc-a${String(i).padStart(5, "0")}`,
      type: "view",
      user,
      item: "p1",
      ts: now() - 3600 + i,
    }));
    await readerStub(env, user).apply(views);
    const { status, body } = await access(user);
    expect(status).toBe(200);
    // the profile keeps the newest MAX_SEEN_EVENTS ids; the shard keeps every one (exact idempotency)
    const seen = (body.profile as { seenEvents: string[] }).seenEvents;
    expect(seen).not.toContain("acc-a00000");
    const applied = body.applied as { count: number; items: string[] };
    expect(applied.count).toBe(n);
    expect(applied.items).toHaveLength(ACCESS_LIST_LIMIT);
    expect(applied.items.slice(0, 3)).toEqual(["acc-a00000", "acc-a00001", "acc-a00002"]);
  });

  it("shows the consent clock: when each consent field was last set", async () => {
    const user = "acc-clock";
    const ts = now() - 30;
    const change: QueuedEvent = { id: "acc-c1", type: "consent", user, ts, consent: { personalization: false } };
    expect(await readerStub(env, user).apply([change])).toEqual(["applied"]);
    const { status, body } = await access(user);
    expect(status).toBe(200);
    expect(body.consent_clock).toEqual({ personalization: ts });
    expect((body.profile as { consent: { personalization: boolean } }).consent.personalization).toBe(false);
  });

  it("keeps ?fields=profile and ?view=edge, and answers 404 when nothing at all is held", async () => {
    const user = "acc-variants";
    await readerStub(env, user).apply([purchase("acc-v1", user)]);
    const only = await access(user, "?fields=profile");
    expect(only.status).toBe(200);
    expect(Object.keys(only.body).sort()).toEqual(["profile", "user"]);
    // the edge view reads the snapshot in KV (written here as the shard publishes it)
    const snapshot = { ...emptyProfile(user, new Date().toISOString()), recentItems: [] };
    await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify(snapshot));
    const edge = await access(user, "?view=edge");
    expect(edge.status).toBe(200);
    expect(Object.keys(edge.body).sort()).toEqual(["decisions", "features", "profile", "seen", "user"]);
    expect((edge.body.profile as { userId: string }).userId).toBe(user);
    const nobody = await access("acc-nobody");
    expect(nobody.status).toBe(404);
    expect((nobody.body.error as { code: string }).code).toBe("NOT_FOUND");
    expect((await access("acc-nobody", "?view=edge")).status).toBe(404);
    expect((await access("acc-nobody", "?fields=profile")).status).toBe(404);
    expect((await access(user, "", "wrong-key")).status).toBe(401);
  });

  it("refuses a view or fields it does not have, rather than answer another variant", async () => {
    const user = "acc-typo";
    await readerStub(env, user).apply([purchase("acc-t1", user)]);
    for (const [query, field] of [
      ["?view=egde", "view"],
      ["?fields=profiles", "fields"],
      ["?view=edge&fields=everything", "fields"],
    ]) {
      const typo = await access(user, query);
      expect(typo.status, query).toBe(400);
      const error = typo.body.error as { code: string; message: string };
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message.startsWith(`${field}: `), error.message).toBe(true);
    }
  });
});
