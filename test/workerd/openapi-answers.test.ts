/**
 * The OpenAPI description against real answers, in workerd: real requests to every documented route (good,
 * bad, unauthorized, too large, with a binding missing or failing), each answered as the case expects, and
 * each answer listed in /openapi.json: its status, its error code (each error status lists its codes), its
 * body against the documented schema, its media type; and a body a route accepted is one its documented
 * request body allows.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { mintUnsubscribeToken } from "../../core/unsubscribe-link";
import type { Bindings } from "../../worker/env";
import worker from "../../worker/index";
import { ROUTES } from "../../worker/openapi/document";
import { TEST_TOKEN_SECRET } from "./fixture";
import { CASES, type Case } from "./support/api-cases";
import { clearExperimentRegistry, clearKv, token } from "./support/harness";

interface Operation {
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
/** a valid token for reader-1, for the cases' `@t` */
let t = "";
/** an unsubscribe link's token for reader-unsub, valid (`@u`) and expired (`@x`) */
let u = "";
let x = "";
let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

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
  const req = new Request(`https://opentime.test${c.path.replace("@t", t).replace("@u", u).replace("@x", x)}`, {
    method,
    headers: c.headers ?? {},
    ...(body !== undefined && { body }),
  });
  const res = await worker.fetch(req, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

beforeAll(async () => {
  await clearKv();
  await clearExperimentRegistry();
  t = await token("reader-1");
  const link = { user: "reader-unsub", campaign: "test", ttlSeconds: 0 };
  u = await mintUnsubscribeToken(TEST_TOKEN_SECRET, link);
  x = await mintUnsubscribeToken(TEST_TOKEN_SECRET, { ...link, now: Math.floor(Date.now() / 1000) - 731 * 86_400 });
  const res = await send({ route: "GET /openapi.json", path: "/openapi.json", status: 200 });
  doc = (await res.json()) as typeof doc;
});

describe("OpenAPI description against real answers", () => {
  it("has a case for every documented route", () => {
    const covered = new Set(CASES.map((c) => c.route));
    expect(ROUTES.map((r) => `${r.method.toUpperCase()} ${r.route}`).filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.route}: ${c.path.slice(0, 60)} -> ${c.status}${c.code ? ` ${c.code}` : ""}`, async () => {
      if (c.before) await c.before();
      const res = await send(c);
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
      // a body the route took is one its description allows
      const bodySchema = op.requestBody?.content["application/json"]?.schema;
      if (res.status < 300 && bodySchema !== undefined && typeof c.body !== "string" && c.body !== undefined) {
        const checked = validator(bodySchema).safeParse(c.body);
        expect(checked.error?.issues ?? [], `${c.route}: the accepted body is documented`).toEqual([]);
      }
    });
  }
});
