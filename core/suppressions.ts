/**
 * Who must not be mailed, as opentime knows it: the request and answer of `POST /v1/admin/suppressions`
 * (worker/routes/admin-suppressions-check.ts), which `npm run email` sends before it builds anything, the rule
 * that decides a reader's reason from their snapshot, and the request of `POST /v1/admin/sends`
 * (worker/routes/admin-sends-record.ts), with which it records the campaign's sends it then builds. Shared by both
 * sides; pure. The closed vocabulary of reasons:
 *   `erased`        the reader was erased (their tombstone stands): nothing of them may be used, mail included
 *   `unsubscribed`  they unsubscribed (the email's form, its one-click link, the consent API); also a reader erased
 *                   or never known whose unsubscribe their shard keeps as a suppression alone (no snapshot)
 *   `paused`        they paused emails, and the pause has not ended
 *   `unreadable`    their stored consent cannot be read: a sender that cannot tell does not mail them
 *   `frequency`     they chose a frequency (daily, weekly, monthly: core/triggers.ts FREQUENCY_DAYS), and their
 *                   latest send (another campaign's recorded send, or a triggered one: one preference spaces both)
 *                   is more recent than it allows; only answered when the request names its campaign, whose own
 *                   recorded sends never count (a rebuild or re-run of a campaign never holds back its recipients)
 * Tracking or personalization turned off are not reasons: such a reader still gets email, generic and unrecorded.
 */
import { z } from "zod";
import { CampaignIdSchema } from "./campaign";
import { HeldUserIdSchema, UserIdSchema } from "./events";
import { type Consent, ConsentSchema } from "./profile";
import { frequencyAllows } from "./triggers";

export const SUPPRESSION_REASONS = ["erased", "unsubscribed", "paused", "unreadable", "frequency"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/**
 * Readers per request: each costs a share of bulk KV reads (their snapshot and tombstone keys, up to 100 keys a
 * read), and their snapshots are held at once (a few KB each).
 */
export const MAX_SUPPRESSION_USERS = 500;

/**
 * The check reads what is stored, so it takes an id an earlier version stored shaped like an address only through
 * a look-alike (core/events.ts HeldUserIdSchema): such a reader who opted out is answered so, and one such id never
 * refuses the whole batch. An address as it is is still refused.
 */
export const SuppressionsRequestSchema = z.strictObject({
  users: z.array(HeldUserIdSchema).min(1).max(MAX_SUPPRESSION_USERS),
  campaign: CampaignIdSchema.optional().describe(
    "the campaign about to be built: with it, readers whose frequency preference another send is too recent for are answered `frequency` (this campaign's own issue begun in the last 20 hours never counts: a rebuild of it; an earlier issue's latest build counts, as any send); without it, `frequency` is never answered",
  ),
});

/**
 * How much sooner than their frequency allows a campaign may reach a reader (s): a campaign built at a fixed hour
 * each day or week is checked a little before the time the last one was recorded (the check runs, then the record,
 * minutes apart in a large build; a start moved by an hour), and held back every other time without it. Two hours:
 * a daily reader's campaign emails are at least 22 hours apart.
 */
export const CAMPAIGN_SLACK_S = 2 * 3600;

/** Whether a campaign may reach a reader of `frequency` whose latest send was at `lastSentS` (CAMPAIGN_SLACK_S). */
export function campaignAllows(frequency: Consent["frequency"], lastSentS: number | null, nowS: number): boolean {
  return frequencyAllows(frequency, lastSentS, nowS + CAMPAIGN_SLACK_S);
}

/**
 * The largest body of a batch of readers (the suppression check's, the sends' record): MAX_SUPPRESSION_USERS ids at
 * their longest in JSON and a campaign id, under 384 KiB. An id's longest is MAX_ID_LENGTH UTF-16 units each written
 * `\uXXXX` (Python's `json.dumps` escapes every character past ASCII by default), with its quotes and comma: 771
 * bytes, 385,500 for 500 (raw UTF-8, 3 bytes a unit at most, is half that).
 */
export const MAX_BATCH_BYTES = 384 * 1024;

/**
 * `POST /v1/admin/sends`: the readers a campaign's build writes messages for, recorded by each reader's shard (at
 * most MAX_SUPPRESSION_USERS a request, as the check).
 */
export const SendsRequestSchema = z.strictObject({
  campaign: CampaignIdSchema,
  users: z.array(UserIdSchema).min(1).max(MAX_SUPPRESSION_USERS),
});
export const SendsAnswerSchema = z.object({
  campaign: z.string(),
  recorded: z.number().int().nonnegative().describe("readers whose send was recorded (an erased reader's is not)"),
  held: z
    .array(z.object({ user: z.string(), reason: z.enum(SUPPRESSION_REASONS) }))
    .default([])
    .describe(
      "readers not recorded, and not to be mailed: what their shard holds at the recording says so (an unsubscribe, a pause, or a send another build or a trigger made since the suppression check that their frequency preference counts)",
    ),
});

/** The answer: only the readers not to mail, each with why (the rest may be mailed). */
export const SuppressionsAnswerSchema = z.object({
  checked: z.number().int().nonnegative(),
  suppressed: z.array(z.object({ user: z.string(), reason: z.enum(SUPPRESSION_REASONS) })),
});
export type SuppressionsAnswer = z.infer<typeof SuppressionsAnswerSchema>;

/**
 * Why a reader must not be mailed at `nowS`, or null: from whether they are erased and their snapshot's text (the
 * profile the reader's shard publishes, `profile:<user>`; null: none, a reader opentime knows nothing of). A
 * profile of a version before consent existed has none to stop anything.
 */
export function suppressionOf(erased: boolean, snapshot: string | null, nowS: number): SuppressionReason | null {
  if (erased) return "erased";
  if (snapshot === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(snapshot);
  } catch {
    return "unreadable";
  }
  const version = (raw as { v?: unknown } | null)?.v;
  if (version === 1 || version === 2) return null;
  const consent = ConsentSchema.safeParse((raw as { consent?: unknown } | null)?.consent);
  if (!consent.success) return "unreadable";
  return listSuppressionOf(consent.data, nowS);
}

/**
 * Why a reader must not be mailed at `nowS` by their list state (`unsubscribed`, `pausedUntil`), or null: a
 * snapshot's consent, or the list row their shard keeps of a reader with no snapshot (an unsubscribe kept as a
 * suppression alone: an erased reader's, or one opentime never knew).
 */
export function listSuppressionOf(
  state: Pick<Consent, "unsubscribed" | "pausedUntil">,
  nowS: number,
): SuppressionReason | null {
  if (state.unsubscribed) return "unsubscribed";
  if ((state.pausedUntil ?? 0) > nowS) return "paused";
  return null;
}

/**
 * The frequency preference in a snapshot's text, or null (none chosen, no snapshot, or one suppressionOf already
 * answers for: it is asked only of readers with no other reason).
 */
export function snapshotFrequency(snapshot: string | null): Consent["frequency"] {
  if (snapshot === null) return null;
  try {
    const consent = ConsentSchema.safeParse((JSON.parse(snapshot) as { consent?: unknown } | null)?.consent);
    return consent.success ? consent.data.frequency : null;
  } catch {
    return null;
  }
}
