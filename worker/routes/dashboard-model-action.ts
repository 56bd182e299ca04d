/**
 * POST /dashboard/models/<activate|rollback> — the dashboard's model buttons (a form: `version` for activate),
 * behind the dashboard's gate and only from the dashboard's own pages (the Origin must be this Worker's:
 * another site cannot submit it with a staff member's Access session). The same moves as the admin API
 * (worker/model/model-move.ts); answers with a redirect back to the dashboard saying what happened, campaign
 * conditions naming a segment the version lacks included.
 */
import type { Hono } from "hono";
import { cutWhole } from "../../core/cut-text";
import { ModelActivationSchema, type Move } from "../../core/model-versions";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { readBodyBytes } from "../lib/read-json-body";
import { modelMove } from "../model/model-move";
import { dashboardAccess } from "../preview/access";

/** The activate form is one model version: anything larger is not it. */
const MAX_FORM_BYTES = 4096;

/** The campaigns whose conditions name a segment the version lacks, in the redirect's message (cut at 300). */
/** The longest message the redirect carries (segment names come from campaigns: free text). */
const MAX_MESSAGE = 300;

function segmentsNote(move: Move): string {
  const missing = move.campaignSegmentsMissing;
  if (missing.length === 0) return "";
  const names = [...new Set(missing.map((m) => `${m.campaign}: "${m.segment}"`))];
  return `. WARNING: ${missing.length} campaign condition(s) name a segment this model lacks (${names.join(", ")})`;
}

export function registerDashboardModelAction(app: Hono<AppEnv>): void {
  app.post("/dashboard/models/:action", dashboardAccess, async (c) => {
    const own = new URL(c.req.url).origin;
    if (c.req.header("Origin") !== own) throw new ApiError("ORIGIN_NOT_ALLOWED", "only the dashboard's own form");
    const action = c.req.param("action");
    let message: string;
    try {
      if (action === "activate") {
        // the form is one field: read with a cap, as every body is (lib/read-json-body.ts)
        const form = new URLSearchParams(new TextDecoder().decode(await readBodyBytes(c, MAX_FORM_BYTES)));
        const parsed = ModelActivationSchema.safeParse({ version: form.get("version") ?? undefined });
        if (!parsed.success) throw new ApiError("BAD_REQUEST", "version: not a model version");
        const move = await modelMove(c.env, { kind: "activate", version: parsed.data.version });
        message = move.unchanged ? `${move.pointer.version} was already active` : `activated ${move.pointer.version}`;
        message += segmentsNote(move);
      } else if (action === "rollback") {
        const move = await modelMove(c.env, { kind: "rollback" });
        message = `rolled back to ${move.pointer.version}${segmentsNote(move)}`;
      } else throw new ApiError("NOT_FOUND", "no such model action");
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "MODEL_REFUSED") throw e;
      message = e.message;
    }
    return c.redirect(`/dashboard?model=${encodeURIComponent(cutWhole(message, MAX_MESSAGE))}`, 303);
  });
}
