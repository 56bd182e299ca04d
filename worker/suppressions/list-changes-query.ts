/**
 * What GET /v1/admin/suppressions takes and answers (worker/suppressions/list-changes.ts does the work): a read
 * started at a time (`since`) or going on from a cursor, a page at a time. Plain zod over no Workers types: the
 * OpenAPI description is built from it.
 */
import { z } from "zod";

export const LIST_CHANGES_PAGE_MAX = 1000;
export const LIST_CHANGES_PAGE_DEFAULT = 500;

export const ListChangesQuery = z
  .object({
    since: z.iso
      .datetime({
        offset: true,
        error: "an ISO 8601 time with seconds and its zone, 2026-12-05T00:00:00Z (not unix s)",
      })
      .optional()
      .describe("start a read at changes applied at this time or later (ISO 8601); absent: from the first"),
    cursor: z.string().min(1).max(2048).optional().describe("from the previous answer: the changes after it"),
    limit: z.coerce.number().int().min(1).max(LIST_CHANGES_PAGE_MAX).default(LIST_CHANGES_PAGE_DEFAULT),
  })
  .refine((q) => q.since === undefined || q.cursor === undefined, {
    message: "since starts a read; a cursor goes on with the one it began: send one or the other",
    path: ["since"],
  });

/** The answer: each change as the shop's list reads it, the reader's state now (never an address: ids only). */
export const ListChangesAnswerSchema = z.object({
  changes: z.array(
    z.object({
      user: z.string(),
      unsubscribed: z.boolean(),
      pausedUntil: z.string().nullable().describe("until when they paused emails (ISO), or null"),
      frequency: z
        .enum(["daily", "weekly", "monthly"])
        .nullable()
        .describe("at most one email per day, week or month, as they chose; null: no preference"),
      changedAt: z.string().describe("when their shard applied the change (ISO)"),
    }),
  ),
  cursor: z.string().describe("where this read stands: ask with it for what comes after"),
  more: z.boolean().describe("true: more changes are waiting, ask again with the cursor now"),
});
