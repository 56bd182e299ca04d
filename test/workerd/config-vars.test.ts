/**
 * wrangler.toml's [vars] as TOML writes them: wrangler hands a number, a boolean, an array or a table to the Worker
 * as it is (a JSON binding), not as a string. A list written as a TOML array is the list; `true` is "true"; a
 * value that cannot be read as text is logged by name and left unset. None takes a route down.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../../worker/env";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY } from "./fixture";
import { clearKv, SENDER, seedModel, token } from "./support/harness";

type Bindings = typeof env;

async function request(bindings: Bindings, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://opentime.shop.example${path}`, { headers }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The test bindings with `vars` as TOML would have written them (a fresh object: the config is read again). */
const withVars = (vars: Record<string, unknown>) => ({ ...env, ...vars }) as unknown as Bindings;

const admin = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };

beforeEach(async () => {
  await clearKv();
  await seedModel();
});
afterEach(() => vi.restoreAllMocks());

describe("[vars] that TOML typed", () => {
  it("a sender allow-list written as an array is the list: AMP, health and the admin API answer", async () => {
    const bindings = withVars({ AMP_ALLOWED_SENDERS: [SENDER, "*@opentime.example"] });
    const t = await token("u-config-1");
    const allowed = await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("AMP-Email-Allow-Sender")).toBe(SENDER);
    const wildcard = await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": "news@opentime.example" });
    expect(wildcard.status).toBe(200);
    const other = await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": "x@elsewhere.example" });
    expect(other.status).toBe(403);
    expect((await request(bindings, "/v1/health")).status).toBe(200);
    expect((await request(bindings, "/v1/admin/campaigns", admin)).status).toBe(200);
  });

  it("mail origins written as an array are the list", async () => {
    const bindings = withVars({ AMP_ALLOWED_ORIGINS: ["https://mail.example"] });
    const t = await token("u-config-2");
    const res = await request(bindings, `/v1/amp/recs?t=${t}&__amp_source_origin=${encodeURIComponent(SENDER)}`, {
      Origin: "https://mail.example",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://mail.example");
  });

  it("PREVIEW_PAGE = true (a TOML boolean) turns the preview on, behind the admin key", async () => {
    const bindings = withVars({ PREVIEW_PAGE: true, DEMO_ROUTES: undefined });
    expect((await request(bindings, "/v1/preview/users")).status).toBe(401);
    expect((await request(bindings, "/v1/preview/users", admin)).status).toBe(200);
  });

  it("a number where text is meant is read as written; a table is logged by name and left unset", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const bindings = withVars({ SHOP_CURRENCY: 826, PUBLIC_BASE_URL: { url: "https://shop.example" } });
    expect((await request(bindings, "/v1/health")).status).toBe(200);
    expect((await request(bindings, "/v1/admin/campaigns", admin)).status).toBe(200);
    const t = await token("u-config-3");
    expect((await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER })).status).toBe(200);
    const logged = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as { event: string; detail?: string });
    expect(logged.find((l) => l.event === "config.var_invalid")?.detail).toContain("PUBLIC_BASE_URL");
    // "826" is no ISO 4217 code: refused as any other bad currency is
    expect(logged.some((l) => l.event === "config.shop_currency_invalid")).toBe(true);
  });
});

describe("values a variable does not take", () => {
  it("a number out of range or not one, a mode or a flag misspelt: its default serves, health names them", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const bindings = withVars({
      ERASURE_TOMBSTONE_DAYS: "90d",
      EXCLUDE_PURCHASED_DAYS: "-1",
      EVENT_MAX_AGE_DAYS: "0",
      RECS_MODE: "Novel",
      PREVIEW_PAGE: "yes",
      DRIFT_PSI_ALERT: "a quarter",
    });
    const t = await token("u-config-4");
    expect((await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER })).status).toBe(200);
    const health = (await (await request(bindings, "/v1/health", admin)).json()) as { config: string[] };
    expect(health.config).toContain("var_invalid");
    const logged = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as { event: string; detail?: string });
    const detail = logged.find((l) => l.event === "config.var_invalid")?.detail ?? "";
    for (const name of [
      "ERASURE_TOMBSTONE_DAYS",
      "EXCLUDE_PURCHASED_DAYS",
      "EVENT_MAX_AGE_DAYS",
      "RECS_MODE",
      "PREVIEW_PAGE",
      "DRIFT_PSI_ALERT",
    ])
      expect(detail).toContain(name);
    // never a value
    expect(detail).not.toContain("90d");
  });

  it("values it takes, and an empty one (unset: the default), are not reported", async () => {
    const bindings = withVars({
      ERASURE_TOMBSTONE_DAYS: "90",
      EXCLUDE_PURCHASED_DAYS: "",
      RECS_MODE: "novel",
      PREVIEW_PAGE: "false",
      DRIFT_ECE_ALERT: " 0.2 ",
    });
    const health = (await (await request(bindings, "/v1/health", admin)).json()) as { config: string[] };
    expect(health.config).not.toContain("var_invalid");
    // an empty number is its default (30 days), not 0 (no exclusion)
    expect(getConfig(bindings).excludePurchasedDays).toBe(30);
    expect(getConfig(bindings).recsMode).toBe("novel");
    expect(getConfig(bindings).driftEceAlert).toBe(0.2);
  });
});

describe("list entries a list does not take", () => {
  it("a sender that is no address nor *@domain, an origin that is no origin: named by health, the rest serve", async () => {
    const bindings = withVars({
      AMP_ALLOWED_SENDERS: `@shop.com, ${SENDER}`,
      AMP_ALLOWED_ORIGINS: "https://mail.example/, https://mail2.example",
    });
    const t = await token("u-config-5");
    expect((await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER })).status).toBe(200);
    const v1 = await request(bindings, `/v1/amp/recs?t=${t}&__amp_source_origin=${encodeURIComponent(SENDER)}`, {
      Origin: "https://mail2.example",
    });
    expect(v1.status).toBe(200);
    const health = (await (await request(bindings, "/v1/health", admin)).json()) as { config: string[] };
    expect(health.config).toContain("var_invalid");
  });

  it("a sender whose domain is written in Unicode matches the header's DNS form (IDNA A-labels), and is taken", async () => {
    const bindings = withVars({ AMP_ALLOWED_SENDERS: `News@Café.example, *@bücher.example, ${SENDER}` });
    const t = await token("u-config-6");
    for (const sender of ["news@xn--caf-dma.example", "shop@xn--bcher-kva.example"])
      expect((await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": sender })).status, sender).toBe(200);
    expect((await request(bindings, `/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": "news@cafe.example" })).status).toBe(
      403,
    );
    const health = (await (await request(bindings, "/v1/health", admin)).json()) as { config: string[] };
    expect(health.config).not.toContain("var_invalid");
  });

  it("a list of entries it takes is not reported", async () => {
    const bindings = withVars({
      AMP_ALLOWED_SENDERS: `*@shop.com, ${SENDER}, *`,
      AMP_ALLOWED_ORIGINS: "https://mail.example, null, http://127.0.0.1:8080",
    });
    const health = (await (await request(bindings, "/v1/health", admin)).json()) as { config: string[] };
    expect(health.config).not.toContain("var_invalid");
  });
});
