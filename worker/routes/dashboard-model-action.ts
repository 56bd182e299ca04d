/**
 * POST /dashboard/models/<activate|rollback> — the dashboard's model buttons (a form: `version` for activate),
 * behind the dashboard's gate and only from the dashboard's own pages (the Origin must be this Worker's:
 * another site cannot submit it with a staff member's Access session); rollback's form names the version its button
 * offered (`to`), and a rollback that would return elsewhere now (pressed twice, another move since) is refused. The same moves as the admin API
 * (worker/model/model-move.ts); answers with a redirect back to the dashboard carrying what happened as a code
 * (worker/dashboard/model-message.ts: the page writes the text, so no link can make it say anything else), with
 * the count of campaign conditions naming a segment the version lacks; a refusal's reason is logged.
 */
import type { Hono } from "hono";
import { cutWhole } from "../../core/cut-text";
import { ModelVersionSchema } from "../../core/manifest";
import { ModelActivationSchema } from "../../core/model-versions";
import { modelRedirect } from "../dashboard/model-message";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import { readBodyBytes } from "../lib/read-json-body";
import { modelMove } from "../model/model-move";
import { dashboardAccess, dashboardFormOnly } from "../preview/access";

/** The forms are one model version each (activate's `version`, rollback's `to`): anything larger is not it. */
const MAX_FORM_BYTES = 4096;

export function registerDashboardModelAction(app: Hono<AppEnv>): void {
  app.post("/dashboard/models/:action", dashboardAccess, dashboardFormOnly, async (c) => {
    const action = c.req.param("action");
    // the form is one field: read with a cap, as every body is (lib/read-json-body.ts)
    const readForm = async () => new URLSearchParams(new TextDecoder().decode(await readBodyBytes(c, MAX_FORM_BYTES)));
    let version: string | null = null;
    try {
      if (action === "activate") {
        const form = await readForm();
        const parsed = ModelActivationSchema.safeParse({ version: form.get("version") ?? undefined });
        if (!parsed.success) throw new ApiError("BAD_REQUEST", "version: not a model version");
        version = parsed.data.version;
        const move = await modelMove(c.env, { kind: "activate", version });
        const outcome = move.unchanged ? "already-active" : "activated";
        return c.redirect(modelRedirect(outcome, move.pointer.version, move.campaignSegmentsMissing.length), 303);
      }
      if (action === "rollback") {
        // `to`: the version the page's button named; pressed twice, or after another move, the rollback would go
        // past it (to a version the page never offered): refused instead. A page drawn before the field: none.
        const to = (await readForm()).get("to");
        const parsed = to === null ? null : ModelVersionSchema.safeParse(to);
        if (parsed && !parsed.success) throw new ApiError("BAD_REQUEST", "to: not a model version");
        const move = await modelMove(c.env, { kind: "rollback", ...(parsed && { to: parsed.data }) });
        return c.redirect(modelRedirect("rolled-back", move.pointer.version, move.campaignSegmentsMissing.length), 303);
      }
      throw new ApiError("NOT_FOUND", "no such model action");
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "MODEL_REFUSED") throw e;
      // why is in the log and in GET /v1/admin/models; the page says it from a code (model-message.ts)
      logEvent("warn", "dashboard.model_refused", { action, version, detail: cutWhole(e.message, 300) });
      return c.redirect(modelRedirect(version === null ? "rollback-refused" : "refused", version, 0), 303);
    }
  });
}
