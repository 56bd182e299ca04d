/** The Hono app: every route registered here, one error handler, one not-found handler. */
import { Hono } from "hono";
import type { AppEnv } from "./env";
import { handleError, notFound } from "./errors";
import { registerAmpPreferences } from "./routes/amp-preferences";
import { registerAmpRecs } from "./routes/amp-recs";
import { registerDemoAssets } from "./routes/demo-assets";
import { registerEvents } from "./routes/events";
import { registerHealth } from "./routes/health";
import { registerPixel } from "./routes/pixel";
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
  registerDemoAssets(app);
  app.onError(handleError);
  app.notFound(notFound);
  return app;
}
