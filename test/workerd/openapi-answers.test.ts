/**
 * The OpenAPI description against real answers, in workerd: real requests to every documented route (good,
 * bad, unauthorized, too large, with a binding missing or failing), each answered as the case expects, and
 * each answer listed in /openapi.json: its status, its error code (each error status lists its codes), its
 * body against the documented schema, its media type; and a body a route accepted is one its documented
 * request body allows; and every query parameter the route read while answering (c.req.query, c.req.queries) is
 * one its description lists.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { HonoRequest } from "hono/request";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { mintToken } from "../../core/token";
import { mintUnsubscribeToken } from "../../core/unsubscribe-link";
import type { Bindings } from "../../worker/env";
import worker from "../../worker/index";
import { ROUTES } from "../../worker/openapi/document";
import { TEST_TOKEN_SECRET } from "./fixture";
import { CASES, type Case } from "./support/api-cases";
import { clearExperimentRegistry, clearKv, token } from "./support/harness";

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
/** a valid token for reader-1, for the cases' `@t` */
let t = "";
/** the preview's own email's token for reader-1 (`"p": 1`), for `@p` */
let p = "";
/** an unsubscribe link's token for reader-unsub, valid (`@u`) and expired (`@x`) */
let u = "";
let x = "";
/** a token for an id an earlier version stored shaped like an address through a look-alike `@` (`@h`) */
let h = "";
let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

/** The names of the query parameters the app read since last cleared: by name, or from the whole query's object. */
const queried = new Set<string>();
const realQuery = HonoRequest.prototype.query;
const realQueries = HonoRequest.prototype.queries;
/** Either one, called as the app called it (by name, or for every parameter). */
type Reader = (this: HonoRequest, key?: string) => unknown;

/** The object `c.req.query()` gives, recording each parameter a route (or a schema parsing it) reads from it. */
function recorded(query: Record<string, string>): Record<string, string> {
  return new Proxy(query, {
    get(target, key, receiver) {
      if (typeof key === "string") queried.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

/** A schema of the served document as zod (its `#/components/schemas/` references resolved). */
function validator(schema: unknown): z.ZodType {
  const local = (s: unknown) => JSON.parse(JSON.stringify(s).replaceAll("#/components/schemas/", "#/$defs/"));
  return z.fromJSONSchema({ ...local(schema), $defs: local(doc.components.schemas) });
}

function operation(route: string): Operation {
  const [method, path] = route.split(" ") as [string, string];
  const documented = ROUTES.find((r) => r.method === method.toLowerCase() && r.route === path);
  expect(documented, `${route} is documented`).toBeDefined();
  const op = doc.paths[documented?.path ?? ""]?.[method.toLowerCase()];
  expect(op, `${route} is in /openapi.json`).toBeDefined();
  return op as Operation;
}

async function send(c: Case): Promise<Response> {
  const [method] = c.route.split(" ") as [string];
  const body = c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body);
  const bindings = { ...env, ...c.bindings?.() } as Bindings;
  const ctx = createExecutionContext();
  const req = new Request(
    `https://opentime.test${c.path.replace("@t", t).replace("@p", p).replace("@u", u).replace("@x", x).replace("@h", h)}`,
    {
      method,
      headers: c.headers ?? {},
      ...(body !== undefined && { body }),
    },
  );
  const res = await worker.fetch(req, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

beforeAll(async () => {
  HonoRequest.prototype.query = function (this: HonoRequest, key?: string) {
    if (key !== undefined) queried.add(key);
    const value = (realQuery as Reader).call(this, key);
    return key === undefined ? recorded(value as Record<string, string>) : value;
  } as HonoRequest["query"];
  HonoRequest.prototype.queries = function (this: HonoRequest, key?: string) {
    if (key !== undefined) queried.add(key);
    const value = (realQueries as Reader).call(this, key);
    return key === undefined ? recorded(value as Record<string, string>) : value;
  } as HonoRequest["queries"];
  await clearKv();
  await clearExperimentRegistry();
  t = await token("reader-1");
  p = await mintToken(TEST_TOKEN_SECRET, { user: "reader-1", campaign: "test", ttlSeconds: 3600, preview: true });
  h = await mintToken(TEST_TOKEN_SECRET, {
    user: "ann\uFF20example.com",
    campaign: "test",
    ttlSeconds: 3600,
    held: true,
  });
  const link = { user: "reader-unsub", campaign: "test", ttlSeconds: 0 };
  u = await mintUnsubscribeToken(TEST_TOKEN_SECRET, link);
  x = await mintUnsubscribeToken(TEST_TOKEN_SECRET, { ...link, now: Math.floor(Date.now() / 1000) - 731 * 86_400 });
  const res = await send({ route: "GET /openapi.json", path: "/openapi.json", status: 200 });
  doc = (await res.json()) as typeof doc;
});

afterAll(() => {
  HonoRequest.prototype.query = realQuery;
  HonoRequest.prototype.queries = realQueries;
});

describe("OpenAPI description against real answers", () => {
  it("has a case for every documented route", () => {
    const covered = new Set(CASES.map((c) => c.route));
    expect(ROUTES.map((r) => `${r.method.toUpperCase()} ${r.route}`).filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.route}: ${c.path.slice(0, 60)} -> ${c.status}${c.code ? ` ${c.code}` : ""}`, async () => {
      if (c.before) await c.before();
      queried.clear();
      const res = await send(c);
      const read = [...queried];
      const type = res.headers.get("Content-Type") ?? "";
      const text = await res.text();
      const json = type.startsWith("application/json") ? (JSON.parse(text) as unknown) : undefined;
      // the route answers as the case says (else the case, not the description, is out of date)
      expect(res.status, text.slice(0, 300)).toBe(c.status);
      if (c.code) expect((json as { error?: { code?: string } }).error?.code).toBe(c.code);
      // and the description lists that answer
      const op = operation(c.route);
      const answer = op.responses[String(res.status)];
      expect(answer, `${c.route} documents ${res.status}`).toBeDefined();
      const content = answer?.content ?? {};
      const media = Object.keys(content);
      if (media.length > 0) expect(media, `${c.route} ${res.status} is ${type}`).toContain(type.split(";")[0]);
      const schema = content["application/json"]?.schema;
      if (schema !== undefined) {
        const checked = validator(schema).safeParse(json);
        expect(checked.error?.issues ?? [], `${c.route} ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
      }
      // each query parameter the route read is documented (one it reads but the description lacks fails here)
      const listed = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      expect(
        read.filter((name) => !listed.includes(name)),
        `${c.route}: query parameters read but not documented`,
      ).toEqual([]);
      // a body the route took is one its description allows
      const bodySchema = op.requestBody?.content["application/json"]?.schema;
      if (res.status < 300 && bodySchema !== undefined && typeof c.body !== "string" && c.body !== undefined) {
        const checked = validator(bodySchema).safeParse(c.body);
        expect(checked.error?.issues ?? [], `${c.route}: the accepted body is documented`).toEqual([]);
      }
    });
  }
});
