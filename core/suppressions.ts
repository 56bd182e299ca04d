/**
 * Who must not be mailed, as opentime knows it: the request and answer of `POST /v1/admin/suppressions`
 * (worker/routes/admin-suppressions-check.ts), which `npm run email` sends before it builds anything, and the
 * rule that decides a reader's reason from their snapshot. Shared by both sides; pure.
 *   `erased`        the reader was erased (their tombstone stands): nothing of them may be used, mail included
 *   `unsubscribed`  they unsubscribed (the email's form, its one-click link, the consent API)
 *   `paused`        they paused emails, and the pause has not ended
 *   `unreadable`    their stored consent cannot be read: a sender that cannot tell does not mail them
 * Tracking or personalization turned off are not reasons: such a reader still gets email, generic and unrecorded.
 */
import { z } from "zod";
import { UserIdSchema } from "./events";
import { ConsentSchema } from "./profile";

export const SUPPRESSION_REASONS = ["erased", "unsubscribed", "paused", "unreadable"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/**
 * Readers per request: each costs a share of bulk KV reads (their snapshot and tombstone keys, up to 100 keys a
 * read), and their snapshots are held at once (a few KB each).
 */
export const MAX_SUPPRESSION_USERS = 500;

export const SuppressionsRequestSchema = z.strictObject({
  users: z.array(UserIdSchema).min(1).max(MAX_SUPPRESSION_USERS),
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
  if (consent.data.unsubscribed) return "unsubscribed";
  if ((consent.data.pausedUntil ?? 0) > nowS) return "paused";
  return null;
}
