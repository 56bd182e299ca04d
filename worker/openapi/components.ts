/**
 * The schemas of the OpenAPI description (worker/openapi/document.ts), built from the zod schemas the routes
 * validate with. Where a route reads more loosely than its stored schema (a campaign of either version, an
 * experiment without `v` or `id`), the body is described as the route takes it, from the same pieces.
 */
import { z } from "zod";
import { CampaignIdSchema, CampaignSchema, CampaignV1Schema } from "../../core/campaign";
import { MissingSegmentSchema } from "../../core/campaign-segments";
import { MAX_STAMPS } from "../../core/catalog-order";
import { ConditionSchema } from "../../core/conditions";
import { IncomingEventSchema } from "../../core/events";
import {
  ExperimentChangeSchema,
  ExperimentIdSchema,
  ExperimentSchema,
  GlobalHoldoutChangeSchema,
  GlobalHoldoutSchema,
  MAX_VARIANTS,
  VariantSchema,
} from "../../core/experiments/experiment";
import { ItemRulesSchema } from "../../core/item-rules";
import { CatalogPatchSchema, ItemOverlaySchema } from "../../core/live-catalog";
import { DeletionSchema } from "../../core/model-deletion";
import { ModelActivationSchema, MoveSchema } from "../../core/model-versions";
import { ConsentChangeSchema } from "../../core/profile";
import { SubjectsRequestSchema } from "../../core/subject-request";
import {
  SendsAnswerSchema,
  SendsRequestSchema,
  SuppressionsAnswerSchema,
  SuppressionsRequestSchema,
} from "../../core/suppressions";
import { TriggerDeliverySchema, TriggersConfigSchema } from "../../core/triggers";
import { ERROR_STATUS } from "../errors";
import { DeadLetterSelectionSchema } from "../events/dead-letter-selection";
import { ListChangesAnswerSchema } from "../suppressions/list-changes-query";

/** Version 1 of a campaign (no `v`): accepted by every campaign body, and migrated (core/campaign.ts). */
const CampaignV1 = CampaignV1Schema.strict();
/** A campaign body as the admin API and the preview's editor read it (worker/campaigns/campaign-input.ts). */
const CampaignBody = z
  .union([CampaignSchema, CampaignV1])
  .describe("a campaign: version 2 (`v: 2`), or version 1 (no `v`), migrated to version 2");

/** PUT /v1/admin/experiments/<id>: `v` is filled in (1) and `id` is the path's (worker/experiments/experiment-input.ts). */
const ExperimentBody = z
  .strictObject({
    ...ExperimentSchema.shape,
    v: ExperimentSchema.shape.v.optional(),
    id: ExperimentSchema.shape.id.optional().describe("the path's id (another is refused)"),
    phaseStart: ExperimentSchema.shape.phaseStart.describe("set by the registry; a value sent is not kept"),
    changes: ExperimentSchema.shape.changes.describe("recorded by the registry; a value sent is not kept"),
    variants: z
      .array(z.strictObject({ ...VariantSchema.shape, content: z.union([z.literal("popular"), CampaignBody]) }))
      .min(1)
      .max(MAX_VARIANTS),
  })
  .describe("an experiment; `v` (1) and `id` (the path's) may be left out");

/** Components, by name. */
export const COMPONENTS = {
  Campaign: CampaignSchema,
  CampaignV1,
  CampaignBody,
  Condition: ConditionSchema,
  ItemRules: ItemRulesSchema,
  Event: IncomingEventSchema,
  CatalogPatch: CatalogPatchSchema,
  ConsentChange: ConsentChangeSchema,
  TriggersConfig: TriggersConfigSchema,
  TriggerDelivery: TriggerDeliverySchema,
  SubjectsRequest: SubjectsRequestSchema,
  SuppressionsRequest: SuppressionsRequestSchema,
  Suppressions: SuppressionsAnswerSchema,
  SendsRequest: SendsRequestSchema,
  Sends: SendsAnswerSchema,
  ListChanges: ListChangesAnswerSchema,
  Experiment: ExperimentSchema,
  ExperimentBody,
  GlobalHoldout: GlobalHoldoutSchema,
  GlobalHoldoutChange: GlobalHoldoutChangeSchema,
  ModelActivation: ModelActivationSchema,
  DeadLetterSelection: DeadLetterSelectionSchema,
  Error: z.object({
    error: z.object({ code: z.enum(Object.keys(ERROR_STATUS) as [string, ...string[]]), message: z.string() }),
  }),
  // POST /v1/admin/campaigns (worker/routes/admin-campaign-create.ts)
  CampaignCreate: z.strictObject({ id: CampaignIdSchema, campaign: CampaignBody }),
  CampaignCreated: z.object({
    id: CampaignIdSchema,
    campaign: CampaignSchema,
    campaignSegmentsMissing: z.array(MissingSegmentSchema),
    /** true: the id held this very campaign (a create retried): answered as its create was, nothing written */
    unchanged: z.boolean(),
  }),
  // PUT /v1/admin/campaigns/<id> (with `created`) and /v1/preview/campaigns/<id>
  CampaignSaved: z.object({
    id: CampaignIdSchema,
    created: z.boolean().optional(),
    campaign: CampaignSchema,
    /** conditions naming a segment the campaign's model lacks (core/campaign-segments.ts): saved all the same */
    campaignSegmentsMissing: z.array(MissingSegmentSchema),
    /** true: the id held this very campaign, compared as stored (an edit retried): nothing written */
    unchanged: z.boolean(),
  }),
  // PUT /v1/admin/experiments/<id> (worker/routes/admin-experiment-put.ts)
  ExperimentSaved: z.object({
    id: ExperimentIdSchema,
    created: z.boolean(),
    /** KV holds it already (else the registry writes it within seconds) */
    published: z.boolean(),
    experiment: ExperimentSchema,
    /**
     * what this PUT changed that the report marks, each with its time: a start or a stop; a new phase when the
     * arms' shares (`shares`) or what arms show (`content`, naming them) changed
     */
    recorded: z.array(ExperimentChangeSchema),
    /** its variants' conditions naming a segment the model each variant's opens read lacks: saved all the same */
    campaignSegmentsMissing: z.array(MissingSegmentSchema),
  }),
  // POST /v1/admin/models/activate and /rollback (core/model-versions.ts)
  ModelMove: MoveSchema,
  ModelDeletion: DeletionSchema,
  // PATCH /v1/admin/catalog (worker/routes/admin-catalog-patch.ts)
  CatalogPatched: z.object({
    version: z.number().int().describe("the live catalog's version after this PATCH"),
    changed: z.number().int().describe("items whose live fields this PATCH changed"),
    published: z
      .boolean()
      .describe("KV already holds this version (else the writer publishes it within about a second)"),
    stale: z
      .array(z.object({ id: z.string(), fields: z.array(ItemOverlaySchema.keyof()) }))
      .describe(
        `the fields of items with \`at\` not set: a change to them with a later \`at\` had been applied (or \`at\` is older than the newest of the times dropped past their bound of ${MAX_STAMPS.toLocaleString("en")})`,
      ),
  }),
  EventsBatch: z.union([
    z.object({ events: z.array(z.unknown()).min(1).max(500).describe("events: see Event") }),
    z.array(z.unknown()).min(1).max(500),
  ]),
} as const;
export type ComponentName = keyof typeof COMPONENTS;
