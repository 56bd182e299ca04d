/**
 * The closed list of what a dashboard model button did (worker/dashboard/model-message.ts writes each one's text;
 * the OpenAPI description lists them as `GET /dashboard`'s `model`). No Workers types: the Node tests read the
 * description too.
 */
export const MODEL_OUTCOMES = ["activated", "already-active", "rolled-back", "refused", "rollback-refused"] as const;
export type ModelOutcome = (typeof MODEL_OUTCOMES)[number];
