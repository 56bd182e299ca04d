/**
 * Experiment writes, as the admin API (PUT /v1/admin/experiments/<id>) and the dashboard's buttons (start, stop,
 * ship an arm) make them: decided by the experiments' one writer (worker/state/experiment-registry.ts), which
 * publishes to KV; this isolate then forgets its cached copy of the campaign's experiment, so its next open reads
 * the change (other isolates follow within a minute, worker/experiments/experiment-store.ts). Refusals are
 * answered, not thrown: the admin API turns them into its errors, the dashboard into a message.
 */
import type { Experiment } from "../../core/experiments/experiment";
import type { Bindings } from "../env";
import type { IfMatch } from "../lib/entity-tag";
import type { ExperimentEdit, RegistryAnswer } from "../state/experiment-registry";
import { forgetRunningExperiment } from "./experiment-store";
import { experimentRegistry } from "./registry-stub";

/**
 * A PUT of the whole experiment (validated by the caller: worker/experiments/experiment-input.ts), checked against
 * `ifMatch` (the PUT's If-Match, or If-None-Match: *) by the registry.
 */
export async function putExperiment(env: Bindings, experiment: Experiment, ifMatch: IfMatch): Promise<RegistryAnswer> {
  return forgotten(await experimentRegistry(env).put(experiment, ifMatch));
}

/** A change of a stored experiment's status alone, made on the registry's own row (never a stale copy of it). */
export async function editExperiment(env: Bindings, id: string, edit: ExperimentEdit): Promise<RegistryAnswer> {
  return forgotten(await experimentRegistry(env).edit(id, edit));
}

function forgotten(answer: RegistryAnswer): RegistryAnswer {
  if (answer.ok) forgetRunningExperiment(answer.experiment.campaign);
  return answer;
}
