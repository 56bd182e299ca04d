/** The Hono app: every route registered here, one error handler, one not-found handler. */
import { Hono } from "hono";
import type { AppEnv } from "./env";
import { handleError, notFound } from "./errors";
import { registerSelfFetch } from "./lib/self-fetch";
import { previewAccess } from "./preview/access";
import { registerAdminCampaignCreate } from "./routes/admin-campaign-create";
import { registerAdminCampaignGet } from "./routes/admin-campaign-get";
import { registerAdminCampaignList } from "./routes/admin-campaign-list";
import { registerAdminCampaignPut } from "./routes/admin-campaign-put";
import { registerAdminCatalogItem } from "./routes/admin-catalog-item";
import { registerAdminCatalogPatch } from "./routes/admin-catalog-patch";
import { registerAdminTriggersGet } from "./routes/admin-triggers-get";
import { registerAdminTriggersPut } from "./routes/admin-triggers-put";
import { registerAmpPreferences } from "./routes/amp-preferences";
import { registerAmpRecs } from "./routes/amp-recs";
import { registerClick } from "./routes/click";
import { registerDemoAssets } from "./routes/demo-assets";
import { registerEvents } from "./routes/events";
import { registerHealth } from "./routes/health";
import { registerImage } from "./routes/image";
import { registerOpenApi } from "./routes/openapi";
import { registerPixel } from "./routes/pixel";
import { registerPreviewDecisions } from "./routes/preview-decisions";
import { registerPreviewEmail } from "./routes/preview-email";
import { registerPreviewPage } from "./routes/preview-page";
import { registerPreviewReset } from "./routes/preview-reset";
import { registerPreviewUsers } from "./routes/preview-users";
import { registerSendTime } from "./routes/send-time";
import { registerUsers } from "./routes/users";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  registerHealth(app);
  registerOpenApi(app);
  registerAmpRecs(app);
  registerAmpPreferences(app);
  registerEvents(app);
  registerPixel(app);
  registerUsers(app);
  registerSendTime(app);
  registerImage(app);
  registerClick(app);
  registerAdminCampaignList(app);
  registerAdminCampaignCreate(app);
  registerAdminCampaignGet(app);
  registerAdminCampaignPut(app);
  registerAdminCatalogPatch(app);
  registerAdminTriggersPut(app);
  registerAdminTriggersGet(app);
  registerAdminCatalogItem(app);
  registerDemoAssets(app);
  // the preview: one gate in front of its five endpoints (404 unless DEMO_ROUTES or PREVIEW_PAGE; open on a
  // loopback host in local development; otherwise the admin key or a verified Cloudflare Access identity)
  app.use("/", previewAccess);
  app.use("/v1/preview/*", previewAccess);
  registerPreviewPage(app);
  registerPreviewUsers(app);
  registerPreviewEmail(app);
  registerPreviewDecisions(app);
  registerPreviewReset(app);
  app.onError(handleError);
  app.notFound(notFound);
  registerSelfFetch((req, env) => app.fetch(req, env));
  return app;
}
