/**
 * Each route of the HTTP API as the OpenAPI description (worker/openapi/document.ts) lists it: path,
 * parameters, body, and every answer it gives, with the closed error codes (worker/errors.ts) of each error
 * status. test/workerd/openapi.test.ts holds this list and the app's routes equal; openapi-answers.test.ts sends
 * real requests (test/workerd/support/api-cases.ts) and checks their answers are listed here.
 */
import { MAX_AT_AHEAD_MS } from "../../core/catalog-order";
import { REPORT_INTERVALS } from "../../core/experiments/report";
import { CORRECTION_METHODS } from "../../core/stats/multiple-testing";
import { EXPERIMENT_OUTCOMES } from "../dashboard/experiment-message";
import { MODEL_OUTCOMES } from "../dashboard/model-outcomes";
import type { ErrorCode } from "../errors";
import { ReportPhaseSchema } from "../experiments/report-phase";
import type { ComponentName } from "./components";

export type Auth = "admin" | "events" | "token" | "none" | "preview";
export interface Param {
  name: string;
  in: "path" | "query" | "header";
  description: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}
/** One answer: JSON of a component, an error with its codes, or other media (one or several types). */
export interface Answer {
  description: string;
  schema?: ComponentName;
  /** an error answer (`Error`) with exactly these codes */
  codes?: readonly ErrorCode[];
  media?: string | readonly string[];
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
  /** a JSON body */
  body?: ComponentName;
  /** a form body: its fields (url-encoded; `multipart` too when the route takes it) */
  form?: { fields: Record<string, string>; multipart?: boolean };
  /** status -> the answer */
  responses: Record<number, Answer>;
}

const STRING = { type: "string" };
/** A list's page: `limit` (its range and default, as `limits` says) and the previous page's `cursor`. */
const pageParams = (limits: string): Param[] => [
  { name: "limit", in: "query", description: limits, schema: { type: "integer" } },
  { name: "cursor", in: "query", description: "from the previous page", schema: STRING },
];
const TOKEN: Param = { name: "token", in: "path", required: true, description: "the open-time token", schema: STRING };
const SLOT: Param = {
  name: "slot",
  in: "path",
  required: true,
  description: "layout, position and scale: row-0..2, card-0, grid-0..3, with @2x for retina",
  schema: STRING,
};
/** A preview route's 401 for an email token: off a loopback host without the key, or a token that does not verify. */
const previewTokenRefused = () =>
  error(
    "off a loopback host: neither the admin key nor a Cloudflare Access identity (UNAUTHORIZED); a token that does not verify (TOKEN_INVALID)",
    "UNAUTHORIZED",
    "TOKEN_INVALID",
  );
const T_QUERY: Param = { name: "t", in: "query", required: true, description: "the open-time token", schema: STRING };
const UNSUBSCRIBE_T: Param = {
  name: "t",
  in: "query",
  required: true,
  description: "the unsubscribe link's token (npm run email; lives two years; an email's open-time token is refused)",
  schema: STRING,
};
const USER: Param = { name: "id", in: "path", required: true, description: "pseudonymous user id", schema: STRING };
const CAMPAIGN: Param = { name: "id", in: "path", required: true, description: "campaign id", schema: STRING };
const EXPERIMENT: Param = { name: "id", in: "path", required: true, description: "experiment id", schema: STRING };
const AMP_SENDER: Param = {
  name: "AMP-Email-Sender",
  in: "header",
  description: "AMP for Email CORS v2 (or Origin and __amp_source_origin for v1)",
  schema: STRING,
};
const AMP_SOURCE_ORIGIN: Param = {
  name: "__amp_source_origin",
  in: "query",
  description: "AMP for Email CORS v1 (deprecated, still sent): the sender's address, with an Origin header",
  schema: STRING,
};
const PREVIEW_USER: Param = { name: "user", in: "query", required: true, description: "user id", schema: STRING };
const PREVIEW_CAMPAIGN: Param = { name: "campaign", in: "query", description: "campaign id (demo)", schema: STRING };
const LAYOUT: Param = { name: "layout", in: "query", description: "row, card or grid (row)", schema: STRING };

const error = (description: string, ...codes: ErrorCode[]): Answer => ({ description, codes });
/** A write's preconditions on the `what` stored under the path (`code`: its 412). */
const ifNoneMatch = (what: string, code: ErrorCode): Param => ({
  name: "If-None-Match",
  in: "header",
  required: false,
  description: `\`*\`: write only if no ${what} is stored (412 ${code} when one was stored meanwhile)`,
  schema: STRING,
});
const ifMatch = (what: string, code: ErrorCode): Param => ({
  name: "If-Match",
  in: "header",
  required: false,
  description: `the ETag the ${what} was read with (or \`*\`: any stored one; its weak form \`W/"..."\`, as Cloudflare weakens it when compressing, counts as the tag): the write is refused with 412 ${code} when another landed since`,
  schema: STRING,
});
const IF_NONE_MATCH = ifNoneMatch("campaign", "CAMPAIGN_CHANGED");
const IF_MATCH = ifMatch("campaign", "CAMPAIGN_CHANGED");
const bad = error("invalid input, named by its path", "BAD_REQUEST");
const badBody = error(
  "invalid input, named by its path (BAD_REQUEST), or a body that is not UTF-8 JSON (INVALID_JSON)",
  "BAD_REQUEST",
  "INVALID_JSON",
);
const badUser = error(
  "a user id that is not 1-128 characters without control characters (BAD_REQUEST), or looks like an email address (USER_ID_NOT_PSEUDONYMOUS)",
  "BAD_REQUEST",
  "USER_ID_NOT_PSEUDONYMOUS",
);
const unauthorized = error("missing or wrong key", "UNAUTHORIZED");
const tooLarge = error("the body is over the route's size limit", "PAYLOAD_TOO_LARGE");
const internal = error(
  "an unexpected failure (opentime's code, or what it asked of KV or a Durable Object was refused), logged",
  "INTERNAL",
);
const noAmp = error(
  "not an AMP request (NOT_AMP_REQUEST), a sender off the allow-list (SENDER_NOT_ALLOWED), or an Origin that is not a mail provider's (ORIGIN_NOT_ALLOWED)",
  "NOT_AMP_REQUEST",
  "SENDER_NOT_ALLOWED",
  "ORIGIN_NOT_ALLOWED",
);
const noRegistry = error(
  "the experiment registry (Durable Object EXPERIMENT_REGISTRY) is not bound",
  "EXPERIMENTS_UNAVAILABLE",
);
const campaignChanged = error(
  "If-Match names another version of the campaign than the one stored: another edit landed since it was read",
  "CAMPAIGN_CHANGED",
);
const experimentChanged = error(
  "If-Match (or If-None-Match: *) names another version of the experiment than the one stored: another write landed since it was read",
  "EXPERIMENT_CHANGED",
);
const campaignKv = error(
  "KV could not be read (nothing was written) or did not confirm the write (it may have landed): the same create or PUT sent again is answered as made",
  "KV_UNAVAILABLE",
);
const noCatalog = error("the catalog's writer (Durable Object CATALOG) is not bound", "CATALOG_UNAVAILABLE");
const noQueue = error(
  "the events queue refused (retry after Retry-After), or no EVENTS queue is bound (no Retry-After)",
  "EVENTS_UNAVAILABLE",
);
/** worker/errors.ts `unavailableObject`: a Durable Object's infrastructure failure, answered by the one handler. */
const stateDown = error(
  "a Durable Object the request needs is restarting, moving or overloaded: retry (Retry-After); or its binding (READERS) is not configured",
  "STATE_UNAVAILABLE",
);
/** A route's own 503 answer, and the Durable Object failure every route that calls one can also answer. */
const orStateDown = (own: Answer): Answer => ({
  description: `${own.description}; or ${stateDown.description} (STATE_UNAVAILABLE)`,
  codes: [...(own.codes ?? []), "STATE_UNAVAILABLE"],
});
const staffOnly = error("neither the admin key nor a Cloudflare Access identity", "UNAUTHORIZED");
/** worker/errors.ts `unavailableKv`: a KV operation's passing failure, answered by the one handler. */
const kvDown = error(
  "a Workers KV operation failed for a passing reason (KV's rate limit or its own error, a timeout: Retry-After 1; the daily allowance spent: Retry-After until 00:00 UTC)",
  "KV_UNAVAILABLE",
);
/**
 * A route that can answer 500 can answer kvDown too (the one handler maps KV's passing failures to it whichever
 * route met them): added to its own 503, unless that one names KV_UNAVAILABLE already.
 */
function orKvDown(route: RouteDoc): RouteDoc {
  if (!route.responses[500]) return route;
  const own = route.responses[503];
  if (own?.codes?.includes("KV_UNAVAILABLE")) return route;
  const answer: Answer = own
    ? {
        description: `${own.description}; or ${kvDown.description} (KV_UNAVAILABLE)`,
        codes: [...(own.codes ?? []), "KV_UNAVAILABLE"],
      }
    : kvDown;
  return { ...route, responses: { ...route.responses, 503: answer } };
}

/** The events API's answers, public and admin alike (worker/events/event-batch.ts: one handler for both routes). */
const EVENTS_ANSWERS: Record<number, Answer> = {
  202: {
    description:
      '{"accepted":n,"rejected":[{"index","code","message"}],"warnings":[{"index","code":"PURCHASE_WITHOUT_VALUE","message"}]} (rejected codes: INVALID_EVENT, USER_ID_NOT_PSEUDONYMOUS, ID_NOT_PSEUDONYMOUS, TIMESTAMP_OUT_OF_RANGE, DUPLICATE_EVENT_ID: a later event of the batch with a reader and id an earlier one has, with other fields than its time, which would never be applied; warnings: accepted events taken with a caveat; a purchase without a value counts as worth 0)',
  },
  400: error(
    'not {"events":[...]} with one event or more (BAD_REQUEST), not UTF-8 JSON (INVALID_JSON), or no valid event (INVALID_EVENTS, with "accepted":0 and "rejected")',
    "BAD_REQUEST",
    "INVALID_JSON",
    "INVALID_EVENTS",
  ),
  401: unauthorized,
  413: error("over 1 MiB (PAYLOAD_TOO_LARGE) or 500 events (BATCH_TOO_LARGE)", "PAYLOAD_TOO_LARGE", "BATCH_TOO_LARGE"),
  503: error(
    "the queue refused the batch: retry (Retry-After; repeats count once); or no EVENTS queue is bound (no Retry-After)",
    "EVENTS_UNAVAILABLE",
  ),
};

/** A preview endpoint: behind `previewAccess` (worker/preview/access.ts), which answers 404 and 401 itself. */
/** A preview write a browser posted from another site (worker/preview/access.ts). */
const fromAnotherSite = error("posted from another site (its Origin)", "ORIGIN_NOT_ALLOWED");

function preview(
  method: RouteDoc["method"],
  route: string,
  summary: string,
  more: Partial<Pick<RouteDoc, "params" | "body">> & { responses?: Record<number, Answer> } = {},
): RouteDoc {
  return {
    method,
    route,
    path: route.replace(/:([a-z]+)/g, "{$1}"),
    tag: "preview",
    summary: `${summary} (local development, or PREVIEW_PAGE with the admin key or Cloudflare Access)`,
    auth: "preview",
    ...(route.includes(":id") && { params: [CAMPAIGN] }),
    ...(more.params && { params: more.params }),
    ...(more.body && { body: more.body }),
    responses: {
      200: { description: "see the README" },
      401: error("off a loopback host: neither the admin key nor a Cloudflare Access identity", "UNAUTHORIZED"),
      404: error("the preview is off (neither DEMO_ROUTES nor PREVIEW_PAGE)", "NOT_FOUND"),
      500: internal,
      ...more.responses,
    },
  };
}

const DOCUMENTED: RouteDoc[] = [
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
      AMP_SOURCE_ORIGIN,
    ],
    responses: {
      200: {
        description:
          '{"items":[{id,title,price,currency,image,url,badge?,cta?}],"block":{"id","type"},"copy":{"headline?","subline?"}}; X-Opentime-Block says why',
      },
      403: noAmp,
    },
  },
  {
    method: "post",
    route: "/v1/amp/preferences",
    path: "/v1/amp/preferences",
    tag: "email",
    summary: "amp-form: the reader's preferences (personalization, tracking, topics, frequency, pause, unsubscribe)",
    auth: "token",
    params: [T_QUERY, AMP_SENDER, AMP_SOURCE_ORIGIN],
    form: {
      fields: {
        form: "2: the shipped form; only what the reader chose changes (absent: a form of emails sent before it)",
        personalization:
          "on: personalized content; off: not (form 2; absent: unchanged). Without form=2, in a checkbox form (nothing at all, or a box of the three, each one held on): on, or absent (an unticked box): off",
        tracking: "on: opens and clicks recorded; off: not (as personalization)",
        unsubscribe: "on: unsubscribed; absent: unchanged (no form resubscribes: the consent API does)",
        topics: "each topic (repeated; an empty value clears them)",
        frequency: "daily, weekly or monthly; empty clears it (any other value changes nothing)",
        pause_days:
          "0-365 days without email (0 clears the pause; a part of a day counts as one; negative changes nothing)",
      },
      multipart: true,
    },
    responses: {
      200: {
        description:
          'JSON for submit-success ({"ok":true,"message","personalization","tracking"}, each of the two only when the form set it; {"ok":true,"message"} when a form chose nothing)',
      },
      400: error(
        "the body is not a form (BAD_REQUEST), or the token's id is one an earlier version stored shaped like an address, which saves opt-outs alone, and the form holds none (USER_ID_NOT_PSEUDONYMOUS; submit-error shows its message)",
        "BAD_REQUEST",
        "USER_ID_NOT_PSEUDONYMOUS",
      ),
      401: error("the token does not verify, or has expired", "TOKEN_INVALID"),
      403: noAmp,
      413: tooLarge,
      429: error(
        "neither the events queue nor the reader's shard took the change: the form's submit-error asks to submit again (Retry-After)",
        "PREFERENCES_NOT_SAVED",
      ),
    },
  },
  {
    method: "get",
    route: "/v1/unsubscribe",
    path: "/v1/unsubscribe",
    tag: "email",
    summary:
      "the email's Unsubscribe link: a page whose button POSTs the one-click form; a GET never unsubscribes (link scanners fetch every link)",
    auth: "token",
    params: [UNSUBSCRIBE_T],
    responses: {
      200: { description: "the page, with its Unsubscribe button", media: "text/html" },
      401: error(
        "the link's token does not verify or has expired (to a browser, Accept: text/html, the page saying so)",
        "TOKEN_INVALID",
      ),
    },
  },
  {
    method: "post",
    route: "/v1/unsubscribe",
    path: "/v1/unsubscribe",
    tag: "email",
    summary:
      "RFC 8058 one-click unsubscribe (List-Unsubscribe-Post), from a mail provider or the link's page: sets the reader's unsubscribed (a reader erased or never known: kept as a suppression alone)",
    auth: "token",
    params: [UNSUBSCRIBE_T],
    form: {
      fields: { "List-Unsubscribe": "One-Click (anything else, or nothing, changes nothing)" },
      multipart: true,
    },
    responses: {
      200: { description: "a page: unsubscribed (a repeat sets it again)", media: "text/html" },
      400: error(
        "the body is not the one-click form: nothing changed (to a browser, the page with its button)",
        "BAD_REQUEST",
      ),
      401: error("the link's token does not verify or has expired (to a browser, the page saying so)", "TOKEN_INVALID"),
      429: error(
        "neither the events queue nor the reader's shard took the change: POST again (Retry-After; to a browser, the page with its button)",
        "UNSUBSCRIBE_NOT_SAVED",
      ),
    },
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
    responses: { 200: { description: "the slot's picture", media: ["image/png", "image/gif"] } },
  },
  {
    method: "get",
    route: "/v1/c/*",
    path: "/v1/c/{token}/{slot}",
    tag: "email",
    summary: "click: 302 to what the slot's image showed, with UTM parameters",
    auth: "token",
    params: [TOKEN, SLOT],
    responses: { 302: { description: "to the product (or the campaign's fallback, or the shop's home)" } },
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
      401: error(
        "no admin key (UNAUTHORIZED), or the token does not verify (TOKEN_INVALID)",
        "UNAUTHORIZED",
        "TOKEN_INVALID",
      ),
      500: internal,
      503: error("no send-time model is serving", "MODEL_UNAVAILABLE"),
    },
  },
  {
    method: "post",
    route: "/v1/events",
    path: "/v1/events",
    tag: "events",
    summary:
      "real-time events (each validated as Event: a field it does not name is refused, with where it belongs); bad ones reported by index, the rest queued",
    auth: "events",
    body: "EventsBatch",
    responses: EVENTS_ANSWERS,
  },
  {
    method: "post",
    route: "/v1/admin/events",
    path: "/v1/admin/events",
    tag: "events",
    summary: "history import: events of any past time (same validation, queue and idempotency)",
    auth: "admin",
    body: "EventsBatch",
    responses: EVENTS_ANSWERS,
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
          '{"user","profile","consent_clock","seen","features","decisions":{"count","items":[{"key","decision"}]},"triggers","views","cart_items":[{"item","added","removed"}],"outcomes","clicks","parked":{"count","items":[{"id","parked_at","event"}]},"applied":{"count","items":[<event id>]},"list_change":{"unsubscribed","pausedUntil","frequency","changedAt","seq"}|null,"campaign_sends","experiments":{"exposures":{"count","items"},"assignments":{"count","items"},"outcomes":{"count","items"},"scannerClicks":{"count","items"}}|null} (lists of {count, items}: at most 100 items; experiments null without an experiment store); {"user","profile","seen","features","decisions"} with view=edge; {"user","profile"} with fields=profile',
      },
      400: {
        ...badUser,
        description: `${badUser.description}; a view other than edge or fields other than profile (BAD_REQUEST)`,
      },
      401: unauthorized,
      404: error("nothing is stored for this reader", "NOT_FOUND"),
      500: internal,
      503: orStateDown(error("the experiment store cannot be read", "EXPERIMENTS_UNAVAILABLE")),
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
    responses: {
      200: { description: '{"erased":true,"keys_deleted","keys_pending","rows_deleted"}' },
      400: badUser,
      401: unauthorized,
      500: internal,
      503: orStateDown(
        error(
          "the reader's shard state is erased, but KV failed before the edge's copies were: retry (the shard's sweeps delete them again within minutes)",
          "KV_UNAVAILABLE",
        ),
      ),
    },
  },
  {
    method: "get",
    route: "/v1/admin/dead-letters",
    path: "/v1/admin/dead-letters",
    tag: "events",
    summary: "parked dead letters of a reader or a shard, a page at a time in key order",
    auth: "admin",
    params: [
      { name: "user", in: "query", description: "one reader's (or shard)", schema: STRING },
      {
        name: "shard",
        in: "query",
        description: "0..15: every reader's of that shard (or user)",
        schema: { type: "integer" },
      },
      ...pageParams("1..500 (default 100)"),
    ],
    responses: {
      200: { description: '{"shard","count","events":[{"user","id","parked_at","event"}],"cursor":string|null}' },
      400: bad,
      401: unauthorized,
      500: internal,
      503: stateDown,
    },
  },
  {
    method: "post",
    route: "/v1/admin/dead-letters/replay",
    path: "/v1/admin/dead-letters/replay",
    tag: "events",
    summary: "apply a page of parked dead letters through the reader's shard; those still rejected stay parked",
    auth: "admin",
    body: "DeadLetterSelection",
    responses: {
      200: { description: '{"shard","replayed":[{"user","id","type","outcome"}],"count":still parked,"cursor"}' },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: stateDown,
    },
  },
  {
    method: "post",
    route: "/v1/admin/dead-letters/delete",
    path: "/v1/admin/dead-letters/delete",
    tag: "events",
    summary: "delete a page of parked dead letters without applying them",
    auth: "admin",
    body: "DeadLetterSelection",
    responses: {
      200: { description: '{"shard","deleted","count":still parked}' },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: stateDown,
    },
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
    responses: {
      202: { description: '{"user","queued"}' },
      400: { ...badUser, codes: ["BAD_REQUEST", "INVALID_JSON", "USER_ID_NOT_PSEUDONYMOUS"] },
      401: unauthorized,
      413: tooLarge,
      503: {
        ...noQueue,
        description:
          "the change could not be queued: retry (Retry-After); or no EVENTS queue is bound (no Retry-After)",
      },
    },
  },
  {
    method: "get",
    route: "/v1/admin/campaigns",
    path: "/v1/admin/campaigns",
    tag: "campaigns",
    summary: "stored campaign ids, a page at a time",
    auth: "admin",
    params: pageParams("1..1000 (default 100)"),
    responses: {
      200: { description: '{"ids":[...],"cursor":string|null}' },
      400: bad,
      401: unauthorized,
      500: internal,
    },
  },
  {
    method: "post",
    route: "/v1/admin/campaigns",
    path: "/v1/admin/campaigns",
    tag: "campaigns",
    summary: "create a campaign (`campaign`: either version; `{}` is the defaults)",
    auth: "admin",
    body: "CampaignCreate",
    responses: {
      201: {
        description:
          "{id, campaign, campaignSegmentsMissing, unchanged}: the campaign as stored (version 2), with its ETag, and its conditions naming a segment its model lacks; unchanged true: the id already held this very campaign, compared as stored (a create retried after its answer was lost, or after a 503 whose write landed), answered as its first create was and nothing written",
        schema: "CampaignCreated",
      },
      400: badBody,
      401: unauthorized,
      409: error("the id holds another campaign (the same one is a 201, unchanged)", "CAMPAIGN_EXISTS"),
      413: tooLarge,
      500: internal,
      503: campaignKv,
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
    responses: {
      200: { description: "{id, stored, campaign}, with the ETag of a stored one" },
      400: bad,
      401: unauthorized,
      500: internal,
      503: error("KV could not be read", "KV_UNAVAILABLE"),
    },
  },
  {
    method: "put",
    route: "/v1/admin/campaigns/:id",
    path: "/v1/admin/campaigns/{id}",
    tag: "campaigns",
    summary: "create or replace a campaign (either version); with If-Match, only the version read",
    auth: "admin",
    params: [CAMPAIGN, IF_MATCH, IF_NONE_MATCH],
    body: "CampaignBody",
    responses: {
      200: {
        description:
          "{id, created, campaign, campaignSegmentsMissing, unchanged}: the campaign as stored (version 2), with its ETag, and its conditions naming a segment its model lacks (saved all the same); unchanged true: the id already held this very campaign, compared as stored (an edit retried after its answer was lost or a 503 whose write landed), and nothing was written",
        schema: "CampaignSaved",
      },
      400: badBody,
      401: unauthorized,
      412: campaignChanged,
      413: tooLarge,
      500: internal,
      503: campaignKv,
    },
  },
  {
    method: "patch",
    route: "/v1/admin/catalog",
    path: "/v1/admin/catalog",
    tag: "catalog",
    summary:
      "live catalog: stock, price, active, texts, pictures, links, tags; seen within seconds; an item's `at` keeps an older change from overwriting a newer one",
    auth: "admin",
    body: "CatalogPatch",
    responses: {
      200: {
        description:
          '{"version","changed","published","stale"}: `stale` lists the fields of timed items (`at`) not set because a later change to them had been applied (a PATCH retried after a newer one landed)',
        schema: "CatalogPatched",
      },
      400: {
        ...badBody,
        description: `${badBody.description}, an \`at\` more than ${MAX_AT_AHEAD_MS / 60_000} minutes ahead of the server's clock or before 1970 included; or the live catalog would hold too many items`,
      },
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: orStateDown(noCatalog),
    },
  },
  {
    method: "get",
    route: "/v1/admin/catalog/items",
    path: "/v1/admin/catalog/items",
    tag: "catalog",
    summary: "the items that have live fields, a page at a time",
    auth: "admin",
    params: [
      ...pageParams("1..1000 (default 100)"),
      {
        name: "available",
        in: "query",
        description: "false: only the items the live fields hide; true: only the others",
        schema: { type: "string", enum: ["true", "false"] },
      },
    ],
    responses: {
      200: { description: '{"items":[{"id","overlay","available"}],"cursor":string|null,"count","version"}' },
      400: bad,
      401: unauthorized,
      500: internal,
      503: orStateDown(noCatalog),
    },
  },
  {
    method: "get",
    route: "/v1/admin/catalog/items/:id",
    path: "/v1/admin/catalog/items/{id}",
    tag: "catalog",
    summary: "one item's live fields",
    auth: "admin",
    params: [{ name: "id", in: "path", required: true, description: "item id", schema: STRING }],
    responses: {
      200: { description: '{"id","overlay","available","version"}' },
      400: bad,
      401: unauthorized,
      500: internal,
      503: orStateDown(noCatalog),
    },
  },
  {
    method: "get",
    route: "/v1/admin/experiments",
    path: "/v1/admin/experiments",
    tag: "experiments",
    summary: "the stored experiments' ids, a page at a time",
    auth: "admin",
    params: pageParams("1..1000 (default 1000)"),
    responses: {
      200: { description: '{"ids":[...],"cursor":string|null}' },
      400: bad,
      401: unauthorized,
      500: internal,
      503: orStateDown(noRegistry),
    },
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
      200: { description: "{id, experiment}, with its ETag" },
      400: bad,
      401: unauthorized,
      404: error("no such experiment", "NOT_FOUND"),
      500: internal,
      503: orStateDown(noRegistry),
    },
  },
  {
    method: "put",
    route: "/v1/admin/experiments/:id",
    path: "/v1/admin/experiments/{id}",
    tag: "experiments",
    summary:
      "create or change an experiment on a campaign (variants: campaign configurations or `popular`); with If-Match, only the version read",
    auth: "admin",
    params: [EXPERIMENT, ifMatch("experiment", "EXPERIMENT_CHANGED"), ifNoneMatch("experiment", "EXPERIMENT_CHANGED")],
    body: "ExperimentBody",
    responses: {
      200: {
        description:
          "{id, created, published, experiment, recorded, campaignSegmentsMissing}, with its ETag: published, KV holds it already (else the registry writes it within seconds); recorded, what the PUT changed that the report marks, with its time (a start or stop; a new phase when the arms' shares or what an arm shows changed); its variants' conditions naming a segment the model each variant's opens read lacks (saved all the same)",
        schema: "ExperimentSaved",
      },
      400: { ...badBody, description: `${badBody.description}; or an id other than the path's` },
      401: unauthorized,
      409: error(
        "another experiment runs on the campaign, or its campaign or seed would change, or its attribution window shorten once it has run",
        "EXPERIMENT_CONFLICT",
      ),
      412: experimentChanged,
      413: tooLarge,
      500: internal,
      503: orStateDown(
        error(
          "the experiment registry is not bound (EXPERIMENTS_UNAVAILABLE), or KV could not be read to adopt what an earlier version stored (KV_UNAVAILABLE)",
          "EXPERIMENTS_UNAVAILABLE",
          "KV_UNAVAILABLE",
        ),
      ),
    },
  },
  {
    method: "get",
    route: "/v1/admin/experiments/:id/report",
    path: "/v1/admin/experiments/{id}/report",
    tag: "experiments",
    summary:
      "results per arm against the control (CTR, conversion, revenue per exposed reader, with intervals and uplift), SRM, per-slot and per-item counts, daily aggregates, and the clicks filtered as link scanners' (scannerClicks: counted in no other figure)",
    auth: "admin",
    params: [
      EXPERIMENT,
      {
        name: "intervals",
        in: "query",
        description: "sequential (always valid, the default) or fixed (one look)",
        schema: { type: "string", enum: [...REPORT_INTERVALS] },
      },
      {
        name: "correction",
        in: "query",
        description:
          "over the arms compared with the control, per metric: holm-bonferroni (the default), benjamini-hochberg or none; each estimate then carries `adjusted` {ciLow, ciHigh, pValue}",
        schema: { type: "string", enum: [...CORRECTION_METHODS] },
      },
      {
        name: "currency",
        in: "query",
        description:
          "the currency of the revenue figures (ISO 4217, e.g. GBP; `none`: purchases that gave none); by default the one most purchases were made in. Values of different currencies are never added",
        schema: { type: "string", pattern: "^([A-Za-z]{3}|none)$" },
      },
      {
        name: "phase",
        in: "query",
        description:
          "all (the default): every reader counted; current: only the readers whose arm was drawn in the current phase (since the last change of the arms' shares or of what an arm shows), for the arms, the sample-ratio check, blocks, slots and items",
        schema: { type: "string", enum: ReportPhaseSchema.options },
      },
    ],
    responses: {
      200: {
        description:
          '{"experiment":{"id","campaign","status","attributionDays","phaseStart"?,"changes":[{at,kind,arms?}],"stoppedAt"?,"attributionEndsAt"?,"exposableUntil"?,"finalAt"?},"phase","control","arms":[...],"srm","blocks","slots","items","daily","currency","currencies":[{currency,purchases,revenue}],"intervals","correction","at"}. Stopped: stoppedAt; attributionEndsAt, the end of the last attribution window of the exposures counted so far (the latest exposure plus attributionDays, never before the stop plus attributionDays); exposableUntil, until when a click on images served while it ran (an open or a mail client\'s prefetch) can still expose a reader (the campaign\'s or an arm\'s decisionTtlDays after the stop, the longest; 365 days for the global holdout); finalAt, from when the results no longer move (the later of attributionEndsAt and exposableUntil plus attributionDays). All unix seconds',
      },
      400: bad,
      401: unauthorized,
      404: error("no such experiment", "NOT_FOUND"),
      500: internal,
      503: error(
        "no experiment store (D1 binding DB: EXPERIMENTS_UNAVAILABLE), or KV could not be read for the experiment (KV_UNAVAILABLE, with Retry-After)",
        "EXPERIMENTS_UNAVAILABLE",
        "KV_UNAVAILABLE",
      ),
    },
  },
  {
    method: "get",
    route: "/v1/admin/triggers",
    path: "/v1/admin/triggers",
    tag: "triggers",
    summary: "the triggers configuration",
    auth: "admin",
    responses: {
      200: { description: "the configuration", schema: "TriggersConfig" },
      401: unauthorized,
      503: error(
        "the configuration could not be read (KV failed, or another version wrote it: PUT it again)",
        "KV_UNAVAILABLE",
      ),
    },
  },
  {
    method: "put",
    route: "/v1/admin/triggers",
    path: "/v1/admin/triggers",
    tag: "triggers",
    summary: "replace the triggers configuration",
    auth: "admin",
    body: "TriggersConfig",
    responses: {
      200: { description: '{"triggers","warnings"}' },
      400: { ...badBody, description: `${badBody.description}; or tokens that would outlive the erasure tombstone` },
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: error("KV failed to store the configuration: PUT it again (Retry-After)", "KV_UNAVAILABLE"),
    },
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
          '{"campaign","subjects":[{"user","subject","preheader","rule","why","copy":{"block","headline","subline","cta"}|null,"experiment"?}]}: experiment, the reader\'s arm as \'<experiment>:<arm>\' when one is drawn for the campaign',
      },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: {
        description:
          "an experiment's arms for the readers could not be queued (EVENTS_UNAVAILABLE, Retry-After; without it when no EVENTS queue is bound), a reader's data could not be read from KV (KV_UNAVAILABLE: an answer from a fallback would be a stranger's), or the campaigns' writer, which holds the campaign's last edit, could not be reached (STATE_UNAVAILABLE): send the batch again",
        codes: ["EVENTS_UNAVAILABLE", "KV_UNAVAILABLE", "STATE_UNAVAILABLE"],
      },
    },
  },
  {
    method: "post",
    route: "/v1/admin/suppressions",
    path: "/v1/admin/suppressions",
    tag: "users",
    summary:
      "which of these readers must not be mailed, and why (erased, unsubscribed, paused, unreadable; with the campaign, frequency): npm run email asks before it builds",
    auth: "admin",
    body: "SuppressionsRequest",
    responses: {
      200: { description: "only the readers not to mail", schema: "Suppressions" },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      // the sends of readers with a frequency preference, and the unsubscribes kept of readers with no snapshot, are
      // read from their shards
      503: error(
        "KV (KV_UNAVAILABLE) or a reader shard (STATE_UNAVAILABLE) could not be read: retry (Retry-After); mail nobody of the batch meanwhile",
        "KV_UNAVAILABLE",
        "STATE_UNAVAILABLE",
      ),
    },
  },
  {
    method: "post",
    route: "/v1/admin/sends",
    path: "/v1/admin/sends",
    tag: "users",
    summary:
      "records a campaign's send to these readers, by each reader's shard, for their frequency preference: npm run email, before it writes the messages",
    auth: "admin",
    body: "SendsRequest",
    responses: {
      200: { description: "how many sends were recorded (an erased reader's is not)", schema: "Sends" },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: {
        ...stateDown,
        description:
          "a reader shard could not record its readers' sends: send the same request again (Retry-After); recording again within 20 hours is the same send",
      },
    },
  },
  {
    method: "get",
    route: "/v1/admin/suppressions",
    path: "/v1/admin/suppressions",
    tag: "users",
    summary:
      "for the shop's list: every reader whose unsubscribed, pausedUntil or frequency changed (any path), with their state now, a page at a time",
    auth: "admin",
    params: [
      {
        name: "since",
        in: "query",
        description:
          "ISO 8601: start at changes applied then or later (of those held when the read began; every later one comes)",
        schema: STRING,
      },
      {
        name: "cursor",
        in: "query",
        description: "from the previous answer (not with since); one ahead of a shard's changes is refused",
        schema: STRING,
      },
      { name: "limit", in: "query", description: "1..1000 (default 500)", schema: { type: "integer" } },
    ],
    responses: {
      200: { description: "the changes after the cursor", schema: "ListChanges" },
      400: bad,
      401: unauthorized,
      500: internal,
      // each shard's list of changes is read from the shard
      503: stateDown,
    },
  },
  {
    method: "get",
    route: "/v1/health",
    path: "/v1/health",
    tag: "operations",
    summary: "the model in service, and, to the admin key, what the deployment's configuration lacks",
    auth: "none",
    responses: {
      200: {
        description:
          '{"ok","model","reason","config"} (config: problem names, [] when none, with the admin key; null without it)',
      },
    },
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
    responses: {
      200: { description: '{"share","seed","phaseStart"} ({"share":0}: none)' },
      401: unauthorized,
      500: internal,
      503: orStateDown(noRegistry),
    },
  },
  {
    method: "put",
    route: "/v1/admin/holdout",
    path: "/v1/admin/holdout",
    tag: "experiments",
    summary:
      "set the global holdout: a share of every campaign's readers kept from personalization (0: off); without `seed`, the seed in force stays",
    auth: "admin",
    body: "GlobalHoldoutChange",
    responses: {
      200: {
        description:
          'the holdout as stored: {"share","seed","phaseStart"}; turned off, {"share":0,"seed","ended":{"share","phaseStart","at"}} (what it ended)',
      },
      400: badBody,
      401: unauthorized,
      413: tooLarge,
      500: internal,
      503: orStateDown(
        error(
          "the experiment registry is not bound (EXPERIMENTS_UNAVAILABLE), or KV could not be read to adopt the holdout an earlier version stored (KV_UNAVAILABLE)",
          "EXPERIMENTS_UNAVAILABLE",
          "KV_UNAVAILABLE",
        ),
      ),
    },
  },
  {
    method: "get",
    route: "/v1/admin/models",
    path: "/v1/admin/models",
    tag: "models",
    summary:
      "the stored model versions, a page at a time, newest first, each with the Worker's check of it, and the active pointer and its history (npm run models -- list --url reads every page)",
    auth: "admin",
    params: pageParams("1..50 (default 20)"),
    responses: {
      200: {
        description:
          '{"active","history","versions":[{"version","createdAt","featureSpec","items","check","detail","active"}],"cursor":string|null}',
      },
      400: bad,
      401: unauthorized,
      500: internal,
    },
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
      200: {
        description:
          '{"previous","pointer","warning","unchanged","campaignSegmentsMissing","campaignsChecked"}: the move, and the conditions of stored campaigns and running experiments naming a segment the version lacks (moved all the same)',
        schema: "ModelMove",
      },
      400: badBody,
      401: unauthorized,
      409: error("the version fails its check, or is not stored", "MODEL_REFUSED"),
      413: tooLarge,
      500: internal,
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
      200: {
        description:
          '{"previous","pointer","warning","unchanged","campaignSegmentsMissing","campaignsChecked"}: the move, and the conditions of stored campaigns and running experiments naming a segment the version lacks (moved all the same)',
        schema: "ModelMove",
      },
      401: unauthorized,
      409: error("no earlier version, or it fails its check", "MODEL_REFUSED"),
      500: internal,
    },
  },
  {
    method: "delete",
    route: "/v1/admin/models/:version",
    path: "/v1/admin/models/{version}",
    tag: "models",
    summary:
      "delete a version's keys (npm run models -- delete): only one nothing serves, not active, not in the history, named by no campaign or running experiment, 5 minutes after the pointer last moved",
    auth: "admin",
    params: [{ name: "version", in: "path", required: true, description: "model version", schema: STRING }],
    responses: {
      200: {
        description: '{"version","deleted":[key, ...]}: the keys deleted, the manifest last',
        schema: "ModelDeletion",
      },
      400: error("not a model version's name (1-64 of A-Z a-z 0-9 . _ -)", "BAD_REQUEST"),
      401: unauthorized,
      409: error(
        "kept, nothing deleted: the version is active, in the history, named by a campaign or running experiment, the pointer moved in the last 5 minutes, more campaigns are stored than it reads, or it is not stored",
        "MODEL_REFUSED",
      ),
      500: internal,
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
    form: {
      fields: {
        version: "activate: the model version",
        to: "rollback: the version its button named (refused, nothing moved, when a rollback now returns elsewhere)",
      },
    },
    responses: {
      303: { description: "back to the dashboard, with what was done (or why the version was refused)" },
      400: error("activate without a model version, or a rollback's `to` not one", "BAD_REQUEST"),
      401: staffOnly,
      403: error("not from the dashboard's own origin", "ORIGIN_NOT_ALLOWED"),
      404: error("an action other than activate or rollback", "NOT_FOUND"),
      413: tooLarge,
      500: internal,
    },
  },
  ...(["start", "stop"] as const).map((action) => ({
    method: "post" as const,
    route: `/dashboard/experiments/:id/${action}`,
    path: `/dashboard/experiments/{id}/${action}`,
    tag: "experiments",
    summary: `an experiment's ${action === "start" ? "Start" : "Stop"} button on the dashboard (a form from the dashboard's own origin; the registry changes its status alone)`,
    auth: "preview" as const,
    params: [EXPERIMENT],
    responses: {
      303: {
        description:
          "back to the experiment's page, with what was done, or why nothing was (a start refused; Workers KV failing: press again)",
      },
      400: bad,
      401: staffOnly,
      403: error("not from the dashboard's own origin", "ORIGIN_NOT_ALLOWED"),
      404: error("no such experiment", "NOT_FOUND"),
      409: error("the stored experiment cannot be read", "EXPERIMENT_CONFLICT"),
      500: internal,
      503: orStateDown(noRegistry),
    },
  })),
  {
    method: "post",
    route: "/dashboard/experiments/:id/ship",
    path: "/dashboard/experiments/{id}/ship",
    tag: "experiments",
    summary:
      "an experiment's Ship this arm button: the arm's campaign written as the experiment's campaign (If-Match: the ETag the page showed), then the experiment stopped",
    auth: "preview",
    params: [EXPERIMENT],
    form: {
      fields: {
        arm: "a variant showing a campaign (not popular, not the holdout)",
        "arm-tag": "the tag of what the arm showed on the page",
        "campaign-etag": "the campaign's ETag the page showed (empty: none was stored)",
      },
    },
    responses: {
      303: {
        description:
          "back to the experiment's page, with what was done, or why nothing was (the campaign or the arm changed since the page was shown; Workers KV failing), or that the campaign's write was not confirmed",
      },
      400: error("not the page's form, or an arm that cannot be shipped", "BAD_REQUEST"),
      401: staffOnly,
      403: error("not from the dashboard's own origin", "ORIGIN_NOT_ALLOWED"),
      404: error("no such experiment", "NOT_FOUND"),
      413: tooLarge,
      500: internal,
      503: orStateDown(noRegistry),
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
    // the redirects of the dashboard's buttons land here with a code each (worker/dashboard/*-message.ts): the page
    // writes the text from the code and its own reads, so a value outside a closed list is ignored, never shown
    params: [
      { name: "experiment", in: "query", description: "the experiment shown (default: the first)", schema: STRING },
      {
        name: "phase",
        in: "query",
        description: "all (the default): every reader counted; current: only the readers drawn in the current phase",
        schema: { type: "string", enum: ReportPhaseSchema.options },
      },
      {
        name: "change",
        in: "query",
        description:
          "what an experiment's button did (the redirect after Start, Stop or Ship this arm): the page says it only while the experiment bears it out",
        schema: { type: "string", enum: [...EXPERIMENT_OUTCOMES] },
      },
      {
        name: "arm",
        in: "query",
        description: "with `change`: the arm shipped or asked for (named only when it is one of the experiment's)",
        schema: STRING,
      },
      {
        name: "model",
        in: "query",
        description:
          "what a model button did (the redirect after Activate or Roll back): the page says it only while its reads bear it out",
        schema: { type: "string", enum: [...MODEL_OUTCOMES] },
      },
      {
        name: "version",
        in: "query",
        description: "with `model`: the model version moved to or refused",
        schema: STRING,
      },
      {
        name: "segments",
        in: "query",
        description: "with `model`: how many campaign conditions name a segment the version lacks (read again)",
        schema: { type: "integer", minimum: 1 },
      },
    ],
    responses: {
      200: { description: "HTML", media: "text/html" },
      400: error("a phase other than all or current", "BAD_REQUEST"),
      401: staffOnly,
      // a page for a browser, not a JSON error: it says no experiment has the id, above the list of those there are
      404: { description: "HTML: `experiment` names no experiment (never another's report)", media: "text/html" },
      500: internal,
    },
  },
  preview("get", "/", "the preview page (HTML)", { responses: { 200: { description: "HTML", media: "text/html" } } }),
  preview("get", "/v1/preview/users", "demo readers"),
  preview("get", "/v1/preview/email", "one email as a reader gets it, the block and why", {
    params: [
      PREVIEW_USER,
      PREVIEW_CAMPAIGN,
      LAYOUT,
      { name: "t", in: "query", description: "the email shown before, opened again", schema: STRING },
    ],
    responses: { 400: bad, 503: error("TOKEN_SECRET is not set", "MODEL_UNAVAILABLE") },
  }),
  preview("get", "/v1/preview/decisions", "an email's stored decisions", {
    params: [T_QUERY, LAYOUT],
    responses: {
      400: bad,
      401: previewTokenRefused(),
    },
  }),
  preview("post", "/v1/preview/reset", "forget the decisions of the preview's email (never a real email's)", {
    params: [T_QUERY],
    responses: {
      400: bad,
      401: previewTokenRefused(),
      403: fromAnotherSite,
    },
  }),
  preview("get", "/v1/preview/blocks", "the block each demo reader gets, and why", {
    params: [PREVIEW_CAMPAIGN],
    responses: { 400: bad, 503: error("TOKEN_SECRET is not set", "MODEL_UNAVAILABLE") },
  }),
  preview("get", "/v1/preview/campaigns/:id", "a campaign, for the editor, with its ETag when stored", {
    responses: { 400: bad, 503: error("KV could not be read", "KV_UNAVAILABLE") },
  }),
  preview("put", "/v1/preview/campaigns/:id", "save a campaign from the editor (validated as the admin API does)", {
    body: "CampaignBody",
    params: [CAMPAIGN, IF_MATCH, IF_NONE_MATCH],
    responses: {
      200: {
        description:
          "{id, campaign, campaignSegmentsMissing, unchanged}: saved, with its ETag (unchanged true: the id held this very campaign, compared as stored, and nothing was written)",
        schema: "CampaignSaved",
      },
      400: badBody,
      403: fromAnotherSite,
      412: campaignChanged,
      413: tooLarge,
      503: campaignKv,
    },
  }),
];

export const ROUTES: RouteDoc[] = DOCUMENTED.map(orKvDown);
