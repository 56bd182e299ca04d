/**
 * The README's table of endpoints names every route the Worker registers, and no route it does not: the
 * documented routes (worker/openapi/routes.ts, which test/workerd/openapi.test.ts holds to the app's routes) and
 * the demo shop's (worker/routes/demo-*.ts). A path ending in `/*` (`/v1/preview/*`) stands for every route
 * under it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROUTES } from "../../worker/openapi/document";

const METHOD = /^(GET|POST|PUT|PATCH|DELETE)$/;

/** A path with its parameters written alike: `<id>`, `{id}` and `:id` all become `{}`; the query dropped. */
function shape(path: string): string {
  return path.replace(/\?.*$/, "").replace(/<[^>]+>|\{[^}]+\}|:[a-z]+/g, "{}");
}

/** `METHOD path` of every route the first column of the README's endpoints table names. */
function readmeRoutes(readme: string): string[] {
  const lines = readme.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| method and path |"));
  expect(start).toBeGreaterThan(0);
  const routes: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const cell = line.split(/(?<!\\)\|/)[1] ?? "";
    // `PUT`/`GET /path`: methods alone, then a method and a path; `GET /` and `/v1/preview/*`: the path takes
    // the method before it
    let pending: string[] = [];
    let last: string[] = [];
    for (const [, span = ""] of cell.matchAll(/`([^`]+)`/g)) {
      if (METHOD.test(span)) {
        pending.push(span);
        continue;
      }
      const m = /^(?:([A-Z]+) )?(\/\S*)$/.exec(span);
      if (!m) continue; // `.svg`, `?shard=<0-15>`, `limit`: not a route
      const methods = [...pending, ...(m[1] ? [m[1]] : [])];
      const use = methods.length > 0 ? methods : last;
      for (const method of use) routes.push(`${method} ${shape(m[2] as string)}`);
      last = use;
      pending = [];
    }
  }
  return routes;
}

/** The demo shop's routes, as worker/routes/demo-*.ts register them (the picture's `:file` is `<id>.png` or `.svg`). */
function demoRoutes(): string[] {
  const src = readdirSync("worker/routes")
    .filter((f) => f.startsWith("demo-"))
    .sort()
    .map((f) => readFileSync(`worker/routes/${f}`, "utf8"))
    .join("\n");
  return [...src.matchAll(/app\.(get|post|put|patch|delete)\("(\/demo\/[^"]+)"/g)].map(
    (m) => `${(m[1] as string).toUpperCase()} ${shape((m[2] as string).replace(":file", ":id.png"))}`,
  );
}

function covered(route: string, listed: string[]): boolean {
  const [, path = ""] = route.split(" ");
  return listed.some((l) => {
    if (l === route) return true;
    const [, lp = ""] = l.split(" ");
    return lp.endsWith("/*") && path.startsWith(lp.slice(0, -1));
  });
}

describe("the README's endpoints table", () => {
  const listed = readmeRoutes(readFileSync("README.md", "utf8"));
  const registered = [...ROUTES.map((r) => `${r.method.toUpperCase()} ${shape(r.path)}`), ...demoRoutes()];

  it("is read: a route of each kind is found", () => {
    expect(listed).toContain("GET /v1/amp/recs");
    expect(listed).toContain("PUT /v1/admin/campaigns/{}");
    expect(listed).toContain("GET /v1/img/{}/{}.png");
    expect(demoRoutes()).toEqual(["GET /demo/img/{}.png", "GET /demo/p/{}"]);
  });

  it("names every registered route", () => {
    expect(registered.filter((r) => !covered(r, listed))).toEqual([]);
  });

  it("names no route the Worker does not register", () => {
    const missing = listed.filter((l) => !l.endsWith("/*") && !registered.includes(l));
    expect(missing).toEqual([]);
    const wildcards = listed.filter((l) => l.endsWith("/*"));
    for (const w of wildcards)
      expect(
        registered.some((r) => covered(r, [w])),
        w,
      ).toBe(true);
  });
});
