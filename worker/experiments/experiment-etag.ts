/**
 * An experiment's entity tag, as the admin API's GET and PUT answer it and a PUT's `If-Match` names it: the tag
 * (worker/lib/entity-tag.ts) of its JSON in one canonical form (as the registry's schema reads it, so the tag of
 * what a PUT stored is the tag a later GET shows).
 */
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { entityTag } from "../lib/entity-tag";

/** The experiment's JSON as its tag is computed from (the registry compares it to see a change). */
export function experimentJson(experiment: Experiment): string {
  return JSON.stringify(ExperimentSchema.parse(experiment));
}

export function experimentEtag(experiment: Experiment): Promise<string> {
  return entityTag(experimentJson(experiment));
}
