/** The Hono app: every route registered here, one error handler, one not-found handler. */
import { Hono } from "hono";
import type { AppEnv } from "./env";
import { handleError, notFound } from "./errors";
import { registerAmpRecs } from "./routes/amp-recs";
import { registerDemoAssets } from "./routes/demo-assets";
import { registerHealth } from "./routes/health";
import { registerSendTime } from "./routes/send-time";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  registerHealth(app);
  registerAmpRecs(app);
  registerSendTime(app);
  registerDemoAssets(app);
  app.onError(handleError);
  app.notFound(notFound);
  return app;
}
