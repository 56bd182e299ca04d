/**
 * GET /v1/send-time: the reader's own hours from their profile, the shop's without one, clear errors otherwise;
 * the admin key first (an email's token alone never reads the profile).
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import type { ModelManifest } from "../../core/manifest";
import type { SendTimeResponse } from "../../worker/routes/send-time";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "./fixture";
import { call, clearKv, retailFixture, seedModel, token } from "./support/harness";

const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };

describe("GET /v1/send-time", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel({ fixture: retailFixture() });
  });

  it("answers the reader's own best hours from their profile", async () => {
    const p = retailFixture().profiles.find((x) => x.sendTime);
    const res = await call(`/v1/send-time?t=${await token(p?.userId as string)}`, ADMIN);
    expect(res.status).toBe(200);
    const body = (await res.json()) as SendTimeResponse;
    expect(body.source).toBe("profile");
    expect(body.best_hours_utc).toEqual(p?.sendTime?.bestHours);
    expect(body.hour_of_week).toHaveLength(168);
    expect(body.hour_of_week.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(body.segment).toEqual(p?.segment);
  });

  it("falls back to the shop's hours for a reader without a profile", async () => {
    const res = await call(`/v1/send-time?t=${await token("stranger")}`, ADMIN);
    const body = (await res.json()) as SendTimeResponse;
    expect(body.source).toBe("shop");
    expect(body.best_hours_utc).toHaveLength(3);
  });

  it("a reader's token is not enough: without the admin key (or with the events key) it is 401 UNAUTHORIZED", async () => {
    const p = retailFixture().profiles.find((x) => x.sendTime);
    const t = await token(p?.userId as string);
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: `Bearer ${TEST_EVENTS_KEY}` },
      { Authorization: `Bearer ${t}` },
    ];
    for (const headers of attempts) {
      const res = await call(`/v1/send-time?t=${t}`, headers);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string }; hour_of_week?: unknown };
      expect(body.error.code).toBe("UNAUTHORIZED");
      expect(body.hour_of_week).toBeUndefined();
    }
  });

  it("refuses a bad token with 401 and a clear code", async () => {
    const res = await call("/v1/send-time?t=nope", ADMIN);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TOKEN_INVALID");
  });

  it("says 503 MODEL_UNAVAILABLE when no model serves", async () => {
    await clearKv();
    const res = await call(`/v1/send-time?t=${await token("x")}`, ADMIN);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("MODEL_UNAVAILABLE");
  });

  it("a segment from another model version (its profile's, no features of this one) is not read as this one's", async () => {
    const f = retailFixture();
    const manifest = JSON.parse(f.manifestJson) as ModelManifest;
    const names = manifest.segments?.names ?? [];
    expect(names.length).toBeGreaterThan(1);
    const p = f.profiles.find((x) => x.segment) as NonNullable<(typeof f.profiles)[number]>;
    // the profile as a first load wrote it, of an earlier model: its segment 0 was another cluster, another name
    const stale = { ...p, sendTime: null, segment: { id: 0, name: "Segment of an earlier model" } };
    await env.OPENTIME_KV.put(kvKeys.profile(p.userId), JSON.stringify(stale));
    await env.OPENTIME_KV.delete(kvKeys.features(p.userId, f.version));
    const res = await call(`/v1/send-time?t=${await token(p.userId)}`, ADMIN);
    expect(res.status).toBe(200);
    const body = (await res.json()) as SendTimeResponse;
    // segment 0 of this model is names[0]: its hours are not this reader's segment's, nor is it their segment
    expect(body.source).toBe("shop");
    expect(body.segment).toBeNull();
    // the same reader with this model's own segment 0 gets that segment's hours
    await env.OPENTIME_KV.put(
      kvKeys.profile(p.userId),
      JSON.stringify({ ...stale, segment: { id: 0, name: names[0] as string } }),
    );
    const own = (await (await call(`/v1/send-time?t=${await token(p.userId)}`, ADMIN)).json()) as SendTimeResponse;
    expect(own.source).toBe("segment");
    expect(own.segment).toEqual({ id: 0, name: names[0] });
  });
});
