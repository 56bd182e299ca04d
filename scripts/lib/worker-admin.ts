/**
 * Model versions read, moved and deleted by the Worker rather than by the CLI: `GET /v1/admin/models`, `POST
 * /v1/admin/models/activate` or `/rollback` and `DELETE /v1/admin/models/<version>`, which the Worker runs in its
 * one writer of moves (the ModelMover Durable Object), so a CLI's move or deletion is serialized with the admin
 * API's and the dashboard's, and its listing shows the moves' own state. Used by `npm run models --
 * list|activate|rollback|delete --url` and `npm run seed -- --url`,
 * which first check the address (scripts/lib/worker-url.ts) and, the seed before it writes anything, that the
 * Worker takes the key (`checkAdminAccess`). Only `fetch`: it runs in Node and, in the tests, against the Worker
 * in workerd.
 */
import { type Deletion, DeletionSchema } from "../../core/model-deletion";
import {
  type Listing,
  type ListingPage,
  ListingSchema,
  ModelsError,
  type Move,
  MoveSchema,
} from "../../core/model-versions";

export type MoveRequest = { kind: "activate"; version: string } | { kind: "rollback" };

/**
 * How long one move or listing may take (the Worker checks a version's ONNX bytes, several MB, and its catalog
 * before it moves; a listing checks every version, one at a time).
 */
const TIMEOUT_MS = 60_000;

/** That the Worker at `baseUrl` answers its admin API and takes `adminKey` (a cheap read, before any write). */
export async function checkAdminAccess(baseUrl: string, adminKey: string, send: typeof fetch = fetch): Promise<void> {
  const url = `${baseUrl}/v1/admin/campaigns?limit=1`;
  const res = await reach(url, { headers: { Authorization: `Bearer ${adminKey}` } }, send);
  const body = parsed(await res.text());
  if (res.status === 401 || res.status === 403) throw keyRefused(url, res.status, body);
  if (!res.ok || !Array.isArray((body as { ids?: unknown } | null)?.ids))
    throw new Error(
      `${url} answered ${res.status}, not as an opentime Worker's admin API does (is --url this Worker?)`,
    );
}

/** The API's refusal (409 MODEL_REFUSED) as a ModelsError, like a local move's; any other failure as an Error. */
export async function moveViaWorker(
  baseUrl: string,
  adminKey: string,
  request: MoveRequest,
  send: typeof fetch = fetch,
): Promise<Move> {
  const url = `${baseUrl.replace(/\/+$/, "")}/v1/admin/models/${request.kind}`;
  const res = await reach(
    url,
    {
      method: "POST",
      headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
      body: request.kind === "activate" ? JSON.stringify({ version: request.version }) : undefined,
    },
    send,
  );
  const text = await res.text();
  const body = parsed(text);
  if (res.ok) {
    const move = MoveSchema.safeParse(body);
    if (move.success) return move.data;
    throw new Error(`${url} answered 200 with no model move: ${text.slice(0, 200)} (is --url this Worker?)`);
  }
  if (res.status === 401 || res.status === 403) throw keyRefused(url, res.status, body);
  const error = errorOf(body);
  const message = error?.message ?? text.slice(0, 300);
  if (res.status === 409 && error?.code === "MODEL_REFUSED") throw new ModelsError(message);
  throw new Error(`${url} answered ${res.status}: ${message}`);
}

/** A version's keys deleted by the Worker (in its ModelMover); its refusal (409 MODEL_REFUSED) as a ModelsError. */
export async function deleteViaWorker(
  baseUrl: string,
  adminKey: string,
  version: string,
  send: typeof fetch = fetch,
): Promise<Deletion> {
  const url = `${baseUrl.replace(/\/+$/, "")}/v1/admin/models/${encodeURIComponent(version)}`;
  const res = await reach(url, { method: "DELETE", headers: { Authorization: `Bearer ${adminKey}` } }, send);
  const text = await res.text();
  const body = parsed(text);
  if (res.ok) {
    const deletion = DeletionSchema.safeParse(body);
    if (deletion.success) return deletion.data;
    throw new Error(`${url} answered 200 with no deletion: ${text.slice(0, 200)} (is --url this Worker?)`);
  }
  if (res.status === 401 || res.status === 403) throw keyRefused(url, res.status, body);
  const error = errorOf(body);
  const message = error?.message ?? text.slice(0, 300);
  if (res.status === 409 && error?.code === "MODEL_REFUSED") throw new ModelsError(message);
  if (res.status === 404 || res.status === 405)
    throw new Error(`${url} answered ${res.status}: a Worker older than \`models -- delete\` (deploy this version)`);
  throw new Error(`${url} answered ${res.status}: ${message}`);
}

/** A page of the versions the Worker has stored, each checked, with its pointer and history. */
export async function listViaWorker(
  baseUrl: string,
  adminKey: string,
  send: typeof fetch = fetch,
  page: ListingPage = {},
): Promise<Listing> {
  const query = new URLSearchParams({
    ...(page.limit !== undefined && { limit: String(page.limit) }),
    ...(page.cursor !== undefined && { cursor: page.cursor }),
  }).toString();
  const url = `${baseUrl.replace(/\/+$/, "")}/v1/admin/models${query ? `?${query}` : ""}`;
  const res = await reach(url, { headers: { Authorization: `Bearer ${adminKey}` } }, send);
  const text = await res.text();
  const body = parsed(text);
  if (res.status === 401 || res.status === 403) throw keyRefused(url, res.status, body);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${errorOf(body)?.message ?? text.slice(0, 300)}`);
  const listing = ListingSchema.safeParse(body);
  if (listing.success) return listing.data;
  throw new Error(`${url} answered 200 with no model listing: ${text.slice(0, 200)} (is --url this Worker?)`);
}

/** The request, with a failure to get any answer said plainly (a move's timeout: its outcome is unknown). */
async function reach(url: string, init: RequestInit, send: typeof fetch): Promise<Response> {
  try {
    return await send(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    if ((e as Error).name === "TimeoutError")
      throw new Error(
        `${url} gave no answer within ${TIMEOUT_MS / 1000} s${init.method === "POST" || init.method === "DELETE" ? ": it may still have been made (npm run models -- list)" : ""}`,
      );
    throw new Error(`could not reach ${url} (${(e as Error).message}): is the Worker running there?`);
  }
}

function keyRefused(url: string, status: number, body: unknown): Error {
  const message = errorOf(body)?.message ?? "";
  return new Error(
    `${url} refused the admin key (${status}: ${message}); set ADMIN_API_KEY to one of the Worker's ADMIN_API_KEYS`,
  );
}

function errorOf(body: unknown): { code?: string; message?: string } | undefined {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error) return undefined;
  return {
    ...(typeof error.code === "string" && { code: error.code }),
    ...(typeof error.message === "string" && { message: error.message }),
  };
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
