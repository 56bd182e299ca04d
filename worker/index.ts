/** Worker entry point: HTTP (the Hono app) and the events queue consumer. */
import type { QueuedEvent } from "../core/events";
import { createApp } from "./app";
import type { Bindings } from "./env";
import { consumeEvents } from "./events/consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    await consumeEvents(batch, env);
  },
} satisfies ExportedHandler<Bindings, QueuedEvent>;
