/** The Hono app: every route registered here, one error handler, one not-found handler. */
import { Hono } from "hono";
import type { AppEnv } from "./env";
import { handleError, notFound } from "./errors";
import { registerSelfFetch } from "./lib/self-fetch";
import { registerAmpPreferences } from "./routes/amp-preferences";
import { registerAmpRecs } from "./routes/amp-recs";
import { registerCampaigns } from "./routes/campaigns";
import { registerClick } from "./routes/click";
import { registerDemoAssets } from "./routes/demo-assets";
import { registerEvents } from "./routes/events";
import { registerHealth } from "./routes/health";
import { registerImage } from "./routes/image";
import { registerPixel } from "./routes/pixel";
import { registerPreview } from "./routes/preview";
import { registerSendTime } from "./routes/send-time";
import { registerUsers } from "./routes/users";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  registerHealth(app);
  registerAmpRecs(app);
  registerAmpPreferences(app);
  registerEvents(app);
  registerPixel(app);
  registerUsers(app);
  registerSendTime(app);
  registerImage(app);
  registerClick(app);
  registerCampaigns(app);
  registerDemoAssets(app);
  registerPreview(app);
  app.onError(handleError);
  app.notFound(notFound);
  registerSelfFetch((req, env) => app.fetch(req, env));
  return app;
}
