/** `env` from cloudflare:test has the Worker's bindings. */
import type { Bindings } from "../../worker/env";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {}
  }
}
