/**
 * The request of `POST /v1/admin/subjects` (worker/routes/admin-subjects.ts), which `npm run email` sends in
 * batches of MAX_SUBJECT_USERS, and its answer: each reader's subject line, preheader and the text part's
 * block copy. Shared by both sides.
 */
import { z } from "zod";
import { CampaignIdSchema } from "./campaign";
import { UserIdSchema } from "./events";

/**
 * Readers per request: each costs up to six KV reads (profile, read again for their arm when an experiment runs,
 * features, tombstone, and a legacy tombstone per token secret for a reader without a profile), and a Worker
 * invocation allows 1,000 (the batch's own reads, the campaign's experiment and the holdout among them, once).
 */
export const MAX_SUBJECT_USERS = 150;
/**
 * The largest body of a subjects request: MAX_SUBJECT_USERS ids at their longest in JSON (every character escaped
 * `\uXXXX`, as core/suppressions.ts MAX_BATCH_BYTES counts them: 115,650 bytes for 150), a campaign id and `record`,
 * under 128 KiB.
 */
export const MAX_SUBJECTS_BODY_BYTES = 128 * 1024;

export const SubjectsRequestSchema = z.strictObject({
  campaign: CampaignIdSchema,
  users: z.array(UserIdSchema).min(1).max(MAX_SUBJECT_USERS),
  record: z
    .boolean()
    .default(true)
    .describe(
      "false: the arms an experiment draws are answered and not recorded (a build not to be sent: `npm run email --dry-run`)",
    ),
});

/** One reader's answer; `subject` is null when the campaign has no subject rules. */
export interface SubjectAnswer {
  user: string;
  subject: string | null;
  preheader: string | null;
  rule: string | null;
  why: string;
  /**
   * the text part's copy: the block this reader would be served now, chosen on what is known before any open
   * (the open's facts unknown), rendered for its first item; null when no block of the campaign has copy
   */
  copy: SendTimeCopy | null;
  /** `<experiment>:<arm>` when an experiment runs on the campaign: the arm whose configuration chose these */
  experiment?: string;
}

export interface SendTimeCopy {
  block: string;
  headline: string | null;
  subline: string | null;
  cta: string | null;
}
