/**
 * A model move made by the Worker rather than by the CLI: `POST /v1/admin/models/activate` or `/rollback`, which
 * the Worker runs in its one writer of moves (the ModelMover Durable Object), so a CLI's move is serialized with
 * the admin API's and the dashboard's. Used by `npm run models -- activate|rollback --url` and `npm run seed --
 * --url`. Only `fetch`: it runs in Node and, in the tests, against the Worker in workerd.
 */
import { ModelsError, type Move, MoveSchema } from "../../core/model-versions";

export type MoveRequest = { kind: "activate"; version: string } | { kind: "rollback" };

/** How long one move may take (the Worker checks the version's ONNX bytes, several MB, before it moves). */
const TIMEOUT_MS = 60_000;

/** The API's refusal (409 MODEL_REFUSED) as a ModelsError, like a local move's; any other failure as an Error. */
export async function moveViaWorker(
  baseUrl: string,
  adminKey: string,
  request: MoveRequest,
  send: typeof fetch = fetch,
): Promise<Move> {
  const url = `${baseUrl.replace(/\/+$/, "")}/v1/admin/models/${request.kind}`;
  let res: Response;
  try {
    res = await send(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
      body: request.kind === "activate" ? JSON.stringify({ version: request.version }) : undefined,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`could not reach ${url} (${(e as Error).message}): is the Worker running there?`);
  }
  const text = await res.text();
  const body = parsed(text);
  if (res.ok) {
    const move = MoveSchema.safeParse(body);
    if (move.success) return move.data;
    throw new Error(`${url} answered 200 with no model move: ${text.slice(0, 200)} (is --url this Worker?)`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const message = typeof error?.message === "string" ? error.message : text.slice(0, 300);
  if (res.status === 409 && error?.code === "MODEL_REFUSED") throw new ModelsError(message);
  if (res.status === 401 || res.status === 403)
    throw new Error(
      `${url} refused the admin key (${res.status}: ${message}); set ADMIN_API_KEY to one of the Worker's ADMIN_API_KEYS`,
    );
  throw new Error(`${url} answered ${res.status}: ${message}`);
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
