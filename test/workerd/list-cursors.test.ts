/**
 * The admin list routes take an empty `cursor` as the first page: `?limit=1000&cursor=` (the README's
 * experiments list, a client's template) answers the list, not `400 BAD_REQUEST` for a cursor too short.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, send } from "./support/harness";

describe("an empty cursor", () => {
  for (const path of [
    "/v1/admin/experiments?limit=1000&cursor=",
    "/v1/admin/campaigns?limit=10&cursor=",
    "/v1/admin/dead-letters?shard=3&cursor=",
  ])
    it(`asks for the first page: ${path}`, async () => {
      const res = await send(path, { headers: ADMIN_HEADERS });
      expect(res.status).toBe(200);
      expect((await res.json()) as { cursor: unknown }).toHaveProperty("cursor", null);
    });

  it("is the only cursor let through unchecked", async () => {
    const res = await send(`/v1/admin/experiments?cursor=${"x".repeat(65)}`, { headers: ADMIN_HEADERS });
    expect(res.status).toBe(400);
  });
});
