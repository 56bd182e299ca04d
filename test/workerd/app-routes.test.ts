/** Routes outside the email's: health names the serving model, unknown paths get a JSON 404, demo pictures. */
import { decode } from "fast-png";
import { beforeEach, describe, expect, it } from "vitest";
import type { Catalog } from "../../core/catalog";
import { ADMIN_HEADERS, call, clearKv, fixture, seedModel } from "./support/harness";

const catalog = () => JSON.parse(fixture().catalogJson) as Catalog;

describe("other routes", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel();
  });

  it("health names the serving model", async () => {
    const res = await call("/v1/health", {});
    expect(await res.json()).toEqual({
      ok: true,
      model: { version: fixture().version, items: catalog().items.length, dims: 64 },
      reason: null,
      // what the configuration lacks is the admin key's to read
      config: null,
    });
    // the test configuration is local development's (DEMO_ROUTES, secrets set): nothing lacking
    const admin = await call("/v1/health", { Authorization: ADMIN_HEADERS.Authorization });
    expect(((await admin.json()) as { config: unknown }).config).toEqual([]);
  });

  it("unknown routes get a JSON 404", async () => {
    const res = await call("/v1/nope", {});
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("demo product pictures are SVG, and PNG for mail clients", async () => {
    const id = catalog().items[0]?.id;
    const res = await call(`/demo/img/${id}.svg`, {});
    expect(res.headers.get("Content-Type")).toBe("image/svg+xml");
    expect(await res.text()).toMatch(/^<svg /);
    const png = await call(`/demo/img/${id}.png`, {});
    expect(png.headers.get("Content-Type")).toBe("image/png");
    expect([...new Uint8Array(await png.arrayBuffer()).slice(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    // sized as an image CDN would: cropped to cover exactly the size asked for
    const sized = decode(new Uint8Array(await (await call(`/demo/img/${id}.png?w=552&h=432`, {})).arrayBuffer()));
    expect([sized.width, sized.height]).toEqual([552, 432]);
  });
});
