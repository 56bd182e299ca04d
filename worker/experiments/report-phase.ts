/**
 * Which readers a report counts: all the experiment's, or those whose arm was drawn in its current phase. The
 * reporting API's `phase` and the dashboard's take it alike (anything else is a 400 naming both), and the OpenAPI
 * description lists its values from here. No Workers types: the Node tests read the description too.
 */
import { z } from "zod";

export const ReportPhaseSchema = z.enum(["all", "current"], {
  error: 'must be "all" (every reader, the default) or "current" (the readers drawn in the current phase alone)',
});
export type ReportPhase = z.infer<typeof ReportPhaseSchema>;
