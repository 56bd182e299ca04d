/**
 * The dashboard's "Roll back to <version>" button moves to the version it names, or to none: pressed twice (a
 * double click, two staff members on the same page), or after another move since the page was drawn, it must not
 * roll back past the version the page named.
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { ADMIN_HEADERS, clearKv, clearModelMover, fixture, seedModel, send, storeVersionCopy } from "./support/harness";

const ORIGIN = "https://opentime.test";

const activate = async (version: string) => {
  const res = await send("/v1/admin/models/activate", {
    method: "POST",
    headers: ADMIN_HEADERS,
    body: JSON.stringify({ version }),
  });
  expect(res.status).toBe(200);
};

/** The rollback form as the page draws it, posted as a browser posts it. */
async function pressRollback(page: string): Promise<Response> {
  const form = page.match(/<form method="post" action="\/dashboard\/models\/rollback">(.*?)<\/form>/)?.[1] ?? "";
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields.set(m[1] as string, (m[2] as string).replace(/&#x3D;/g, "=").replace(/&#x2F;/g, "/"));
  return send("/dashboard/models/rollback", {
    method: "POST",
    headers: {
      Authorization: ADMIN_HEADERS.Authorization,
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: ORIGIN,
    },
    body: fields.toString(),
  });
}

const active = async () => ((await env.OPENTIME_KV.get(kvKeys.activeModel, "json")) as { version: string }).version;

beforeEach(async () => {
  await clearKv();
  await clearModelMover();
  await seedModel();
});

describe("the dashboard's Roll back button", () => {
  it("pressed twice from one page, rolls back once: to the version it names, never past it", async () => {
    const base = fixture().version;
    const [a, b] = [await storeVersionCopy("a"), await storeVersionCopy("b")];
    await activate(a);
    await activate(b);
    const page = await (await send("/dashboard", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`Roll back to <code>${a}</code>`);
    const first = await pressRollback(page);
    expect(first.status).toBe(303);
    expect(await active()).toBe(a);
    // the same page's button again (a double click): the page named a, which is active now
    await pressRollback(page);
    expect(await active()).toBe(a);
    expect(await active()).not.toBe(base);
  });

  it("after another move since the page was drawn, moves nothing", async () => {
    const [a, b, c] = [await storeVersionCopy("a"), await storeVersionCopy("b"), await storeVersionCopy("c")];
    await activate(a);
    await activate(b);
    const page = await (await send("/dashboard", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`Roll back to <code>${a}</code>`);
    // a colleague activates c meanwhile: the page's button still says "Roll back to a"
    await activate(c);
    const res = await pressRollback(page);
    expect(res.status).toBe(303);
    // it would land on b, a version the page never offered
    expect(await active()).toBe(c);
  });
});
