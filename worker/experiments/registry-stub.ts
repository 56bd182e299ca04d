/** Experiments' one writer (worker/state/experiment-registry.ts): a single object, named `experiments`. */
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { ExperimentRegistry } from "../state/experiment-registry";

export function experimentRegistry(env: Pick<Bindings, "EXPERIMENT_REGISTRY">): DurableObjectStub<ExperimentRegistry> {
  if (!env.EXPERIMENT_REGISTRY)
    throw new ApiError("EXPERIMENTS_UNAVAILABLE", "the EXPERIMENT_REGISTRY Durable Object binding is not configured");
  return env.EXPERIMENT_REGISTRY.get(env.EXPERIMENT_REGISTRY.idFromName("experiments"));
}
