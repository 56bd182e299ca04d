/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json. Request bodies and the stored
 * documents are the very zod schemas the routes validate with (`z.toJSONSchema`, as their input), so the
 * description cannot drift from what is accepted; each route's path, parameters and answers are listed here
 * (ROUTES), and a test checks that list against the routes the app registers, both ways.
 */
import { z } from "zod";
import { CampaignSchema } from "../../core/campaign";
import { ConditionSchema } from "../../core/conditions";
import { IncomingEventSchema } from "../../core/events";
import { ExperimentSchema, GlobalHoldoutSchema } from "../../core/experiments/experiment";
import { ItemRulesSchema } from "../../core/item-rules";
import { CatalogPatchSchema } from "../../core/live-catalog";
import { ModelActivationSchema } from "../../core/model-versions";
import { ConsentChangeSchema } from "../../core/profile";
import { SubjectsRequestSchema } from "../../core/subject-request";
import { TriggersConfigSchema } from "../../core/triggers";
import { ERROR_STATUS } from "../errors";

/** Components built from the schemas the routes validate with. */
const COMPONENTS = {
  Campaign: CampaignSchema,
  Condition: ConditionSchema,
  ItemRules: ItemRulesSchema,
  Event: IncomingEventSchema,
  CatalogPatch: CatalogPatchSchema,
  ConsentChange: ConsentChangeSchema,
  TriggersConfig: TriggersConfigSchema,
  SubjectsRequest: SubjectsRequestSchema,
  Experiment: ExperimentSchema,
  GlobalHoldout: GlobalHoldoutSchema,
  ModelActivation: ModelActivationSchema,
  Error: z.object({
    error: z.object({ code: z.enum(Object.keys(ERROR_STATUS) as [string, ...string[]]), message: z.string() }),
  }),
  CampaignCreate: z.object({ id: z.string(), campaign: z.unknown() }),
  EventsBatch: z.union([
    z.object({ events: z.array(z.unknown()).min(1).max(500).describe("events: see Event") }),
    z.array(z.unknown()).min(1).max(500),
  ]),
} as const;
type ComponentName = keyof typeof COMPONENTS;

type Auth = "admin" | "events" | "token" | "none" | "preview";
interface Param {
  name: string;
  in: "path" | "query" | "header";
  description: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}
export interface RouteDoc {
  method: "get" | "put" | "post" | "patch" | "delete";
  /** the path as Hono registers it (`/v1/users/:id`, `/v1/img/*`): the test compares these */
  route: string;
  /** the OpenAPI path */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  params?: Param[];
  body?: ComponentName;
  /** status -> description, and the component it answers with (JSON) or a media type */
  responses: Record<number, { description: string; schema?: ComponentName; media?: string }>;
}

const STRING = { type: "string" };
const TOKEN: Param = { name: "token", in: "path", required: true, description: "the open-time token", schema: STRING };
const SLOT: Param = {
  name: "slot",
  in: "path",
  required: true,
  description: "layout, position and scale: row-0..2, card-0, grid-0..3, with @2x for retina",
  schema: STRING,
};
const T_QUERY: Param = { name: "t", in: "query", required: true, description: "the open-time token", schema: STRING };
const USER: Param = { name: "id", in: "path", required: true, description: "pseudonymous user id", schema: STRING };
const CAMPAIGN: Param = { name: "id", in: "path", required: true, description: "campaign id", schema: STRING };
const EXPERIMENT: Param = { name: "id", in: "path", required: true, description: "experiment id", schema: STRING };
const AMP_SENDER: Param = {
  name: "AMP-Email-Sender",
  in: "header",
  description: "AMP for Email CORS v2 (or Origin and __amp_source_origin for v1)",
  schema: STRING,
};
const bad = { description: "invalid input, named by its path", schema: "Error" as const };
const unauthorized = { description: "missing or wrong key", schema: "Error" as const };
const noRegistry = {
  description: "the experiment registry (Durable Object EXPERIMENT_REGISTRY) is not bound: EXPERIMENTS_UNAVAILABLE",
  schema: "Error" as const,
};

export const ROUTES: RouteDoc[] = [
  {
    method: "get",
    route: "/v1/amp/recs",
    path: "/v1/amp/recs",
    tag: "email",
    summary: "amp-list: the items for this reader at this open (always 200 for an allowed sender)",
    auth: "token",
    params: [
      T_QUERY,
      { name: "n", in: "query", description: "items, 1..24 (default 6)", schema: { type: "integer" } },
      AMP_SENDER,
    ],
    responses: {
      200: {
        description:
          '{"items":[{id,title,price,currency,image,url,badge?,cta?}],"block":{"id","type"},"copy":{"headline?","subline?"}}; X-Opentime-Block says why',
      },
      403: { description: "not an AMP request, or a sender off the allow-list", schema: "Error" },
    },
  },
  {
    method: "post",
    route: "/v1/amp/preferences",
    path: "/v1/amp/preferences",
    tag: "email",
    summary: "amp-form: the reader's preferences (personalization, tracking, topics, frequency, pause, unsubscribe)",
    auth: "token",
    params: [T_QUERY, AMP_SENDER],
    responses: { 200: { description: "JSON for submit-success / submit-error" } },
  },
  {
    method: "get",
    route: "/v1/img/*",
    path: "/v1/img/{token}/{slot}.png",
    tag: "email",
    summary:
      "open-time image of one slot: always 200, a PNG of the slot's size (an animated GIF for a countdown block)",
    auth: "token",
    params: [TOKEN, SLOT],
    responses: { 200: { description: "the slot's picture", media: "image/png" } },
  },
  {
    method: "get",
    route: "/v1/c/*",
    path: "/v1/c/{token}/{slot}",
    tag: "email",
    summary: "click: 302 to what the slot's image showed, with UTM parameters",
    auth: "token",
    params: [TOKEN, SLOT],
    responses: { 302: { description: "to the product (or the campaign's fallback)" } },
  },
  {
    method: "get",
    route: "/v1/e/*",
    path: "/v1/e/{token}",
    tag: "email",
    summary: "pixel: a 1x1 GIF that records a view, email_open or email_click",
    auth: "token",
    params: [
      TOKEN,
      { name: "type", in: "query", description: "view, email_open or email_click", schema: STRING },
      { name: "item", in: "query", description: "item id", schema: STRING },
      { name: "eid", in: "query", description: "event id (idempotency)", schema: STRING },
    ],
    responses: { 200: { description: "always the GIF", media: "image/gif" } },
  },
  {
    method: "get",
    route: "/v1/send-time",
    path: "/v1/send-time",
    tag: "email",
    summary: "the reader's best send hours (UTC) and hour-of-week distribution",
    auth: "admin",
    params: [T_QUERY],
    responses: {
      200: { description: '{"user","best_hours_utc","hour_of_week","source","segment","propensity_30d","model"}' },
      401: { description: "no admin key, or the token does not verify", schema: "Error" },
      503: { description: "no model", schema: "Error" },
    },
  },
  {
    method: "post",
    route: "/v1/events",
    path: "/v1/events",
    tag: "events",
    summary: "real-time events (each validated as Event); bad ones reported by index, the rest queued",
    auth: "events",
    body: "EventsBatch",
    responses: {
      202: { description: '{"accepted":n,"rejected":[{"index","code","message"}]}' },
      400: { description: "no valid event", schema: "Error" },
      401: unauthorized,
      413: { description: "over 1 MiB or 500 events", schema: "Error" },
      503: { description: "the queue refused the batch: retry", schema: "Error" },
    },
  },
  {
    method: "post",
    route: "/v1/admin/events",
    path: "/v1/admin/events",
    tag: "events",
    summary: "history import: events of any past time (same validation, queue and idempotency)",
    auth: "admin",
    body: "EventsBatch",
    responses: { 202: { description: "as POST /v1/events" }, 400: bad, 401: unauthorized },
  },
  {
    method: "get",
    route: "/v1/users/:id",
    path: "/v1/users/{id}",
    tag: "users",
    summary: "right of access: what is held about the reader",
    auth: "admin",
    params: [
      USER,
      { name: "view", in: "query", description: "edge: the snapshot opens read (KV)", schema: STRING },
      { name: "fields", in: "query", description: "profile: the profile alone (one read)", schema: STRING },
    ],
    responses: {
      200: {
        description:
          '{"user","profile","features","triggers","views","outcomes"} ({"user","profile"} with fields=profile)',
      },
      400: bad,
      401: unauthorized,
      404: { description: "nothing is stored for this reader", schema: "Error" },
    },
  },
  {
    method: "delete",
    route: "/v1/users/:id",
    path: "/v1/users/{id}",
    tag: "users",
    summary: "erasure: the reader's state deleted, a tombstone kept",
    auth: "admin",
    params: [USER],
    responses: { 200: { description: "what was deleted" }, 400: bad, 401: unauthorized },
  },
  {
    method: "put",
    route: "/v1/users/:id/consent",
    path: "/v1/users/{id}/consent",
    tag: "users",
    summary: "opt-out / opt-in and preferences, decided by time",
    auth: "admin",
    params: [USER],
    body: "ConsentChange",
    responses: { 202: { description: "queued" }, 400: bad, 401: unauthorized },
  },
  {
    method: "get",
    route: "/v1/admin/campaigns",
    path: "/v1/admin/campaigns",
    tag: "campaigns",
    summary: "stored campaign ids, a page at a time",
    auth: "admin",
    params: [
      { name: "limit", in: "query", description: "1..1000 (default 100)", schema: { type: "integer" } },
      { name: "cursor", in: "query", description: "from the previous page", schema: STRING },
    ],
    responses: { 200: { description: '{"ids":[...],"cursor":string|null}' }, 400: bad, 401: unauthorized },
  },
  {
    method: "post",
    route: "/v1/admin/campaigns",
    path: "/v1/admin/campaigns",
    tag: "campaigns",
    summary: "create a campaign (`campaign`: a Campaign, or version 1 without `v`)",
    auth: "admin",
    body: "CampaignCreate",
    responses: {
      201: { description: "{id, campaign}", schema: "Campaign" },
      400: bad,
      401: unauthorized,
      409: { description: "the id is taken (CAMPAIGN_EXISTS)", schema: "Error" },
    },
  },
  {
    method: "get",
    route: "/v1/admin/campaigns/:id",
    path: "/v1/admin/campaigns/{id}",
    tag: "campaigns",
    summary: "the campaign in force (the defaults when none is stored)",
    auth: "admin",
    params: [CAMPAIGN],
    responses: { 200: { description: "{id, stored, campaign}" }, 400: bad, 401: unauthorized },
  },
  {
    method: "put",
    route: "/v1/admin/campaigns/:id",
    path: "/v1/admin/campaigns/{id}",
    tag: "campaigns",
    summary: "create or replace a campaign",
    auth: "admin",
    params: [CAMPAIGN],
    body: "Campaign",
    responses: { 200: { description: "{id, created, campaign}" }, 400: bad, 401: unauthorized },
  },
  {
    method: "patch",
    route: "/v1/admin/catalog",
    path: "/v1/admin/catalog",
    tag: "catalog",
    summary: "live catalog: stock, price, active, texts, pictures, links, tags; seen within seconds",
    auth: "admin",
    body: "CatalogPatch",
    responses: { 200: { description: '{"version","changed","published"}' }, 400: bad, 401: unauthorized },
  },
  {
    method: "get",
    route: "/v1/admin/catalog/items/:id",
    path: "/v1/admin/catalog/items/{id}",
    tag: "catalog",
    summary: "one item's live fields",
    auth: "admin",
    params: [{ name: "id", in: "path", required: true, description: "item id", schema: STRING }],
    responses: { 200: { description: '{"id","overlay","available","version"}' }, 401: unauthorized },
  },
  {
    method: "get",
    route: "/v1/admin/experiments",
    path: "/v1/admin/experiments",
    tag: "experiments",
    summary: "the stored experiments' ids",
    auth: "admin",
    responses: { 200: { description: '{"ids":[...]}' }, 401: unauthorized, 503: noRegistry },
  },
  {
    method: "get",
    route: "/v1/admin/experiments/:id",
    path: "/v1/admin/experiments/{id}",
    tag: "experiments",
    summary: "an experiment as stored (the registry's: what the last PUT stored)",
    auth: "admin",
    params: [EXPERIMENT],
    responses: {
      200: { description: "{id, experiment}" },
      401: unauthorized,
      404: { description: "no such experiment", schema: "Error" },
      503: noRegistry,
    },
  },
  {
    method: "put",
    route: "/v1/admin/experiments/:id",
    path: "/v1/admin/experiments/{id}",
    tag: "experiments",
    summary: "create or change an experiment on a campaign (variants: campaign configurations or `popular`)",
    auth: "admin",
    params: [EXPERIMENT],
    body: "Experiment",
    responses: {
      200: {
        description:
          "{id, created, published, experiment}: published, KV holds it already (else the registry writes it within seconds)",
      },
      400: bad,
      401: unauthorized,
      409: {
        description:
          "another experiment runs on the campaign, or its campaign or seed would change (EXPERIMENT_CONFLICT)",
        schema: "Error",
      },
      503: {
        description:
          "the experiment registry is not bound (EXPERIMENTS_UNAVAILABLE), or KV could not be read to adopt what an earlier version stored (KV_UNAVAILABLE)",
        schema: "Error",
      },
    },
  },
  {
    method: "get",
    route: "/v1/admin/experiments/:id/report",
    path: "/v1/admin/experiments/{id}/report",
    tag: "experiments",
    summary:
      "results per arm against the control (CTR, conversion, revenue per exposed reader, with intervals and uplift), SRM, per-slot and per-item counts, daily aggregates",
    auth: "admin",
    params: [
      EXPERIMENT,
      {
        name: "intervals",
        in: "query",
        description: "sequential (always valid, the default) or fixed (one look)",
        schema: { type: "string", enum: ["sequential", "fixed"] },
      },
    ],
    responses: {
      200: {
        description: '{"experiment","control","arms":[...],"srm","blocks","slots","items","daily","intervals","at"}',
      },
      400: bad,
      401: unauthorized,
      404: { description: "no such experiment", schema: "Error" },
      503: { description: "no experiment store (D1 binding DB): EXPERIMENTS_UNAVAILABLE", schema: "Error" },
    },
  },
  {
    method: "get",
    route: "/v1/admin/triggers",
    path: "/v1/admin/triggers",
    tag: "triggers",
    summary: "the triggers configuration",
    auth: "admin",
    responses: { 200: { description: "the configuration", schema: "TriggersConfig" }, 401: unauthorized },
  },
  {
    method: "put",
    route: "/v1/admin/triggers",
    path: "/v1/admin/triggers",
    tag: "triggers",
    summary: "replace the triggers configuration",
    auth: "admin",
    body: "TriggersConfig",
    responses: { 200: { description: '{"triggers","warnings"}' }, 400: bad, 401: unauthorized },
  },
  {
    method: "post",
    route: "/v1/admin/subjects",
    path: "/v1/admin/subjects",
    tag: "campaigns",
    summary:
      "each reader's subject line and preheader by the campaign's subject rules, and the text part's block copy (npm run email)",
    auth: "admin",
    body: "SubjectsRequest",
    responses: {
      200: {
        description:
          '{"campaign","subjects":[{"user","subject","preheader","rule","why","copy":{"block","headline","subline","cta"}|null}]}',
      },
      400: bad,
      401: unauthorized,
    },
  },
  {
    method: "get",
    route: "/v1/health",
    path: "/v1/health",
    tag: "operations",
    summary: "the model in service",
    auth: "none",
    responses: { 200: { description: '{"ok","model","reason"}' } },
  },
  {
    method: "get",
    route: "/openapi.json",
    path: "/openapi.json",
    tag: "operations",
    summary: "this description",
    auth: "none",
    responses: { 200: { description: "OpenAPI 3.1" } },
  },
  {
    method: "get",
    route: "/v1/admin/holdout",
    path: "/v1/admin/holdout",
    tag: "experiments",
    summary: "the global holdout in force",
    auth: "admin",
    responses: { 200: { description: '{"share","seed"} ({"share":0}: none)' }, 401: unauthorized },
  },
  {
    method: "put",
    route: "/v1/admin/holdout",
    path: "/v1/admin/holdout",
    tag: "experiments",
    summary: "set the global holdout: a share of every campaign's readers kept from personalization (0: off)",
    auth: "admin",
    body: "GlobalHoldout",
    responses: { 200: { description: "the holdout as stored" }, 400: bad, 401: unauthorized },
  },
  {
    method: "post",
    route: "/v1/admin/models/activate",
    path: "/v1/admin/models/activate",
    tag: "models",
    summary: "serve another model version, after the Worker's own check of it (npm run models -- activate)",
    auth: "admin",
    body: "ModelActivation",
    responses: {
      200: { description: '{"previous","pointer","warning","unchanged"}' },
      400: bad,
      401: unauthorized,
      409: { description: "the version fails its check, or is not stored (MODEL_REFUSED)", schema: "Error" },
    },
  },
  {
    method: "post",
    route: "/v1/admin/models/rollback",
    path: "/v1/admin/models/rollback",
    tag: "models",
    summary: "serve the version active before (npm run models -- rollback)",
    auth: "admin",
    responses: {
      200: { description: '{"previous","pointer","warning","unchanged"}' },
      401: unauthorized,
      409: { description: "no earlier version, or it fails its check (MODEL_REFUSED)", schema: "Error" },
    },
  },
  {
    method: "post",
    route: "/dashboard/models/:action",
    path: "/dashboard/models/{action}",
    tag: "models",
    summary: "the dashboard's activate and roll back buttons (a form from the dashboard's own origin)",
    auth: "preview",
    params: [{ name: "action", in: "path", required: true, description: "activate or rollback", schema: STRING }],
    responses: {
      303: { description: "back to the dashboard, with what was done" },
      401: unauthorized,
      403: { description: "not from the dashboard's own origin (ORIGIN_NOT_ALLOWED)", schema: "Error" },
    },
  },
  {
    method: "get",
    route: "/dashboard",
    path: "/dashboard",
    tag: "experiments",
    summary:
      "the staff dashboard (HTML): experiments with their results and charts, model health and drift (admin key or Cloudflare Access)",
    auth: "preview",
    params: [
      { name: "experiment", in: "query", description: "the experiment shown (default: the first)", schema: STRING },
    ],
    responses: { 200: { description: "HTML", media: "text/html" }, 401: unauthorized },
  },
  ...(
    [
      ["get", "/", "the preview page (HTML)"],
      ["get", "/v1/preview/users", "demo readers"],
      ["get", "/v1/preview/email", "one email as a reader gets it, the block and why"],
      ["get", "/v1/preview/decisions", "an email's stored decisions"],
      ["post", "/v1/preview/reset", "forget an email's decisions"],
      ["get", "/v1/preview/blocks", "the block each demo reader gets, and why"],
      ["get", "/v1/preview/campaigns/:id", "a campaign, for the editor"],
      ["put", "/v1/preview/campaigns/:id", "save a campaign from the editor (validated as the admin API does)"],
    ] as const
  ).map(
    ([method, route, summary]): RouteDoc => ({
      method,
      route,
      path: route.replace(/:([a-z]+)/g, "{$1}"),
      ...(route.includes(":id") && { params: [CAMPAIGN] }),
      ...(method === "put" && { body: "Campaign" as const }),
      tag: "preview",
      summary: `${summary} (local development, or PREVIEW_PAGE with the admin key or Cloudflare Access)`,
      auth: "preview",
      responses: {
        200: { description: "see the README" },
        404: { description: "the preview is off", schema: "Error" },
      },
    }),
  ),
];

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

let built: Record<string, unknown> | null = null;

/** The document (built once per isolate). */
export function openApiDocument(): Record<string, unknown> {
  if (built) return built;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const content = res.schema
        ? { "application/json": { schema: ref(res.schema) } }
        : res.media
          ? { [res.media]: {} }
          : undefined;
      responses[status] = { description: res.description, ...(content && { content }) };
    }
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
        ...(r.body && { requestBody: { required: true, content: { "application/json": { schema: ref(r.body) } } } }),
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
