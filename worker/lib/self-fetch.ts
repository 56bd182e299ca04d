/**
 * In-process requests to this Worker's own routes (the demo shop's pictures), without a subrequest.
 * createApp (app.ts) registers the app's fetch once per isolate.
 */
import type { Bindings } from "../env";

type SelfFetch = (req: Request, env: Bindings) => Response | Promise<Response>;
let self: SelfFetch | null = null;

export function registerSelfFetch(fetcher: SelfFetch): void {
  self = fetcher;
}

export function selfFetch(req: Request, env: Bindings): Promise<Response> | null {
  return self ? Promise.resolve(self(req, env)) : null;
}
