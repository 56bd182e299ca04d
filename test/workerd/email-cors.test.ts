/**
 * The AMP for Email CORS protocol on GET /v1/amp/recs: v2 (AMP-Email-Sender) and v1 (Origin and
 * __amp_source_origin), the sender allow-list, and requests that are not from an AMP email client.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { call, clearKv, SENDER, seedModel, token } from "./support/harness";

describe("email CORS", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel();
  });

  it("refuses a sender that is not on the allow-list (v2) with a clear error", async () => {
    const res = await call(`/v1/amp/recs?t=${await token("x")}`, { "AMP-Email-Sender": "someone@elsewhere.example" });
    expect(res.status).toBe(403);
    expect(res.headers.get("AMP-Email-Allow-Sender")).toBeNull();
    expect(await res.json()).toEqual({
      error: { code: "SENDER_NOT_ALLOWED", message: "sender someone@elsewhere.example is not on the allow-list" },
    });
  });

  it("accepts a wildcard domain entry, case-insensitively", async () => {
    const res = await call(`/v1/amp/recs?t=${await token("x")}`, { "AMP-Email-Sender": "Promo@OpenTime.Example" });
    expect(res.status).toBe(200);
    expect(res.headers.get("AMP-Email-Allow-Sender")).toBe("Promo@OpenTime.Example");
  });

  it("speaks v1: echoes Origin, names the source origin, exposes the header", async () => {
    const res = await call(`/v1/amp/recs?t=${await token("x")}&__amp_source_origin=${encodeURIComponent(SENDER)}`, {
      Origin: "https://mail.google.com",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://mail.google.com");
    expect(res.headers.get("AMP-Access-Control-Allow-Source-Origin")).toBe(SENDER);
    expect(res.headers.get("Access-Control-Expose-Headers")).toBe("AMP-Access-Control-Allow-Source-Origin");
  });

  it("answers Yahoo's Origin: null with credentials allowed", async () => {
    const res = await call(`/v1/amp/recs?__amp_source_origin=${encodeURIComponent(SENDER)}`, { Origin: "null" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("null");
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
  });

  it("refuses a v1 request from a sender not on the allow-list", async () => {
    const res = await call(`/v1/amp/recs?__amp_source_origin=${encodeURIComponent("x@evil.example")}`, {
      Origin: "https://mail.google.com",
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("AMP-Access-Control-Allow-Source-Origin")).toBeNull();
  });

  it("refuses a v1 request without an Origin (a mail client's AMP runtime always sends one)", async () => {
    const res = await call(`/v1/amp/recs?t=${await token("x")}&__amp_source_origin=${encodeURIComponent(SENDER)}`, {});
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ORIGIN_NOT_ALLOWED");
    expect(res.headers.get("AMP-Access-Control-Allow-Source-Origin")).toBeNull();
  });

  it("prefers v2 when both are sent", async () => {
    const res = await call(`/v1/amp/recs?__amp_source_origin=${encodeURIComponent("x@evil.example")}`, {
      "AMP-Email-Sender": SENDER,
      Origin: "https://mail.google.com",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("AMP-Email-Allow-Sender")).toBe(SENDER);
  });

  it("refuses a request that is not from an AMP email client", async () => {
    const res = await call("/v1/amp/recs", {});
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_AMP_REQUEST");
  });

  it("its every refusal is kept by no cache, as the routes' own answers and errors are", async () => {
    const t = await token("x");
    const refusals: [string, Record<string, string>][] = [
      [`/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": "someone@elsewhere.example" }],
      [`/v1/amp/recs?t=${t}&__amp_source_origin=${encodeURIComponent(SENDER)}`, {}],
      [
        `/v1/amp/recs?__amp_source_origin=${encodeURIComponent("x@evil.example")}`,
        { Origin: "https://mail.google.com" },
      ],
      ["/v1/amp/recs", {}],
    ];
    for (const [path, headers] of refusals) {
      const res = await call(path, headers);
      expect(res.status, path).toBe(403);
      expect(res.headers.get("Cache-Control"), path).toBe("private, no-store");
    }
  });
});
