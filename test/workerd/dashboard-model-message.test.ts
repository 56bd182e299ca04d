/**
 * The dashboard's model health as a staff member meets it: after a model button the page says what happened from
 * a code the redirect carries (worker/dashboard/model-message.ts), so a link cannot make the page say anything
 * of its own; and each of its buttons has a name of its own for a screen reader (the Activate buttons name their
 * version).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ADMIN_HEADERS, clearKv, clearModelMover, fixture, seedModel, send, storeVersionCopy } from "./support/harness";

const page = async (query: string) => {
  const res = await send(`/dashboard${query}`, { headers: ADMIN_HEADERS });
  expect(res.status).toBe(200);
  return res.text();
};
const messageOf = (html: string) => /<p data-testid="model-message"><b>([^<]*)<\/b>/.exec(html)?.[1] ?? null;

/** Each button's accessible name: its aria-label, else its text (tags dropped, spaces collapsed). */
function buttonNames(html: string): string[] {
  return [...html.matchAll(/<button([^>]*)>(.*?)<\/button>/gs)].map(([, attrs, inner]) => {
    const label = /aria-label="([^"]*)"/.exec(attrs ?? "")?.[1];
    return (label ?? (inner ?? "").replace(/<[^>]*>/g, "")).replace(/\s+/g, " ").trim();
  });
}

beforeEach(async () => {
  await clearKv();
  await clearModelMover();
  await seedModel();
});

describe("the dashboard's model message", () => {
  it("is never text from the URL: a link with words of its own shows nothing", async () => {
    const html = await page(`?model=${encodeURIComponent("Model compromised: call 555-0100 now")}`);
    expect(html).not.toContain("555-0100");
    expect(messageOf(html)).toBeNull();
  });

  it("says what a button did, from the redirect's code, naming the version only as the page's reads bear it out", async () => {
    const copy = await storeVersionCopy("copy");
    const moved = await send("/dashboard/models/activate", {
      method: "POST",
      headers: {
        Authorization: ADMIN_HEADERS.Authorization,
        Origin: "https://opentime.test",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ version: copy }).toString(),
    });
    expect(moved.status).toBe(303);
    const location = moved.headers.get("Location") as string;
    expect(location).toBe(`/dashboard?model=activated&version=${copy}`);
    expect(messageOf(await page(location.slice("/dashboard".length)))).toBe(`Activated ${copy}.`);
    // a version that is not the active one: a link from before another move, or made up, says nothing
    expect(messageOf(await page(`?model=activated&version=${fixture().version}`))).toBeNull();
    // a refusal names a stored version only
    expect(messageOf(await page(`?model=refused&version=${fixture().version}`))).toMatch(
      new RegExp(`^${fixture().version} was refused: it fails its check, or is not stored`),
    );
    expect(messageOf(await page("?model=refused&version=made-up-v1"))).toMatch(/^The version asked for was refused/);
  });
});

describe("the dashboard's buttons", () => {
  it("each have a name of their own, the Activate buttons naming their version", async () => {
    const [a, b] = [await storeVersionCopy("a"), await storeVersionCopy("b")];
    const names = buttonNames(await page(""));
    expect(names).toContain(`Activate model version ${a}`);
    expect(names).toContain(`Activate model version ${b}`);
    expect(names.length).toBeGreaterThanOrEqual(2);
    expect(new Set(names).size).toBe(names.length);
  });
});
