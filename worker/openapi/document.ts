/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json. Request bodies and the stored
 * documents are the very zod schemas the routes validate with (`z.toJSONSchema`, as their input:
 * worker/openapi/components.ts); each route's path, parameters and answers, with the error codes of each
 * error status, are listed in worker/openapi/routes.ts. Tests check that list against the routes the app
 * registers, both ways (test/workerd/openapi.test.ts), and real answers against it (openapi-answers.test.ts).
 * `webhooks` describes what the shop's receiver gets from a trigger (core/triggers.ts TriggerDeliverySchema).
 */

import { z } from "zod";
import { RETRIED_4XX, RETRY_AFTER_STATUSES, WEBHOOK_TIMEOUT_MS } from "../../core/triggers";
import { DELIVERY_HEADER, SIGNATURE_HEADER } from "../../core/webhook-signature";
import { wordList } from "../../core/word-list";
import type { ErrorCode } from "../errors";
import { COMPONENTS, type ComponentName } from "./components";
import { type Answer, type Auth, ROUTES, type RouteDoc } from "./routes";

export { ROUTES, type RouteDoc };

const SECURITY: Record<Auth, Record<string, string[]>[] | undefined> = {
  admin: [{ adminKey: [] }],
  events: [{ eventsKey: [] }],
  preview: [{ adminKey: [] }, {}],
  token: [],
  none: [],
};

const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });

function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema as z.ZodType, { id });
  const out = z.toJSONSchema(registry, {
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  // each component stands in the document: no dialect or id of its own
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as Record<string, unknown>;
    schemas[id] = rest;
  }
  return schemas;
}

/** An error answer's schema: `Error`, with its code narrowed to those the answer lists. */
function errorSchema(codes: readonly ErrorCode[]): Record<string, unknown> {
  return {
    allOf: [
      ref("Error"),
      { type: "object", properties: { error: { type: "object", properties: { code: { enum: [...codes] } } } } },
    ],
  };
}

function answerContent(res: Answer): Record<string, unknown> | undefined {
  if (res.codes) return { "application/json": { schema: errorSchema(res.codes) } };
  if (res.schema) return { "application/json": { schema: ref(res.schema) } };
  if (res.media) return Object.fromEntries([res.media].flat().map((m) => [m, {}]));
  return undefined;
}

function requestBody(r: RouteDoc): Record<string, unknown> | undefined {
  if (r.body) return { required: true, content: { "application/json": { schema: ref(r.body) } } };
  if (!r.form) return undefined;
  const properties = Object.fromEntries(
    Object.entries(r.form.fields).map(([name, description]) => [name, { type: "string", description }]),
  );
  const schema = { type: "object", properties };
  const media = ["application/x-www-form-urlencoded", ...(r.form.multipart ? ["multipart/form-data"] : [])];
  return { required: false, content: Object.fromEntries(media.map((m) => [m, { schema }])) };
}

/** Statuses in order, as a sentence says them: `401, 403 and 404`. */
const listed = (statuses: Iterable<number>) => wordList([...statuses].sort((a, b) => a - b));
const ALL_5XX = Array.from({ length: 100 }, (_, i) => 500 + i);
/** ` (429 after its Retry-After)`: those of `statuses` retried no sooner than their Retry-After asks; "" for none. */
function afterRetryAfter(statuses: Iterable<number>): string {
  const waited = [...statuses].filter((s) => RETRY_AFTER_STATUSES.has(s));
  return waited.length === 0 ? "" : ` (${listed(waited)} after its Retry-After)`;
}

/**
 * The call a trigger makes to the shop's webhook (worker/triggers/deliver.ts), as its receiver sees it; its answers
 * said from what core/triggers.ts (webhookVerdict) retries.
 */
const TRIGGER_WEBHOOK = {
  post: {
    tags: ["triggers"],
    summary: "a trigger's delivery, POSTed to the trigger's webhook (at least once: the same id on every retry)",
    operationId: "triggerDelivery",
    parameters: [
      {
        name: SIGNATURE_HEADER,
        in: "header",
        required: true,
        description:
          't=<unix s>,v1=<hex HMAC-SHA256(TRIGGER_WEBHOOK_SECRET, "<t>.<raw body>")> (core/webhook-signature.ts verifyWebhook)',
        schema: { type: "string" },
      },
      {
        name: DELIVERY_HEADER,
        in: "header",
        required: true,
        description: "the delivery's id, the body's `id`",
        schema: { type: "string" },
      },
    ],
    requestBody: { required: true, content: { "application/json": { schema: ref("TriggerDelivery") } } },
    responses: {
      "2XX": { description: "delivered" },
      "4XX": {
        description: `refused, given up at once; but ${listed(RETRIED_4XX)} are retried${afterRetryAfter(RETRIED_4XX)}`,
      },
      "5XX": {
        description: `retried${afterRetryAfter(ALL_5XX)}; so are a redirect and no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`,
      },
    },
  },
};

let built: Record<string, unknown> | null = null;

/** The document (built once per isolate). */
export function openApiDocument(): Record<string, unknown> {
  if (built) return built;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const content = answerContent(res);
      responses[status] = { description: res.description, ...(content && { content }) };
    }
    const body = requestBody(r);
    paths[r.path] = {
      ...paths[r.path],
      [r.method]: {
        tags: [r.tag],
        summary: r.summary,
        operationId: `${r.method}${r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
        security: SECURITY[r.auth],
        ...(r.params && {
          parameters: r.params.map((p) => ({ ...p, required: p.in === "path" ? true : (p.required ?? false) })),
        }),
        ...(body && { requestBody: body }),
        responses,
      },
    };
  }
  built = {
    openapi: "3.1.0",
    info: {
      title: "opentime",
      version: "1",
      description:
        'Open-time personalization for email: AMP lists, open-time images and clicks, real-time events, campaigns, the live catalog and triggers. Errors are {"error":{"code","message"}} with a closed set of codes.',
    },
    paths,
    webhooks: { triggerDelivery: TRIGGER_WEBHOOK },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        adminKey: { type: "http", scheme: "bearer", description: "ADMIN_API_KEYS" },
        eventsKey: { type: "http", scheme: "bearer", description: "EVENTS_API_KEYS" },
      },
    },
  };
  return built;
}
