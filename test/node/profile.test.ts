/** Profile schema: v2 validates, v1 migrates, broken data is refused with a reason. */
import { describe, expect, it } from "vitest";
import { parseProfile } from "../../core/profile";

describe("profiles", () => {
  it("migrates v1: purchases grouped by item, newest first, new fields empty", () => {
    const res = parseProfile({
      v: 1,
      userId: "u1",
      updatedAt: "2026-01-01T00:00:00Z",
      factors: null,
      recentPurchases: [
        { item: "a", ts: 300 },
        { item: "b", ts: 200 },
        { item: "a", ts: 100 },
      ],
    });
    expect(res.ok && res.migratedFrom).toBe(1);
    expect(res.ok && res.profile).toEqual({
      v: 2,
      userId: "u1",
      updatedAt: "2026-01-01T00:00:00Z",
      factors: null,
      contentVector: null,
      purchases: [
        { item: "a", invoices: 2, lastTs: 300 },
        { item: "b", invoices: 1, lastTs: 200 },
      ],
      segment: null,
      sendTime: null,
      propensity: null,
    });
  });

  it("refuses a broken profile and says where", () => {
    const res = parseProfile({ v: 2, userId: "", updatedAt: "x", factors: null });
    expect(res.ok).toBe(false);
    expect(!res.ok && res.error).toMatch(/userId/);
  });
});
