/**
 * What the admin API's dead-letter routes accept (worker/events/parked-letters.ts does the work): one reader (some
 * of their event ids, or all) or one shard, a page at a time (`limit`, and the `cursor` an answer gave). Plain zod
 * over core schemas, free of Workers types: the OpenAPI description is built from it.
 */
import { z } from "zod";
import { IdSchema, UserIdSchema } from "../../core/events";
import { READER_SHARDS } from "../state/shard-count";

/** Events per page (listing, replaying, deleting). */
export const DEAD_LETTER_PAGE_MAX = 500;
export const DEAD_LETTER_PAGE_DEFAULT = 100;
/**
 * The largest body of a replay or delete: DEAD_LETTER_PAGE_MAX event ids at their longest in JSON (128 characters,
 * which IdSchema counts as code points: an emoji escaped `\uXXXX\uXXXX`, as Python's `json.dumps` writes it, is
 * 12 bytes, so 1,539 bytes an id with its quotes and comma, 769,500 for 500), a user id and a cursor: under 768 KiB.
 */
export const MAX_SELECTION_BYTES = 768 * 1024;

const selection = {
  user: UserIdSchema.optional().describe("one reader's parked events"),
  shard: z
    .number()
    .int()
    .min(0)
    .max(READER_SHARDS - 1)
    .optional()
    .describe("every parked event of one shard (readers-0 .. readers-15)"),
  cursor: z.string().min(1).max(2048).optional().describe("from the previous answer: the page after it"),
};
const oneOf = <T extends { user?: string; shard?: number; ids?: readonly string[] }>(s: z.ZodType<T>) =>
  s
    .refine((x) => (x.user === undefined) !== (x.shard === undefined), {
      message: "name either a user or a shard",
      path: ["user"],
    })
    .refine((x) => x.ids === undefined || x.user !== undefined, {
      message: "ids are unique per reader only: name their user",
      path: ["ids"],
    });

/** GET's query: a reader or a shard, a page at a time. */
export const DeadLetterListQuery = oneOf(
  z.object({
    ...selection,
    // digits only: Number() reads "" and " " as 0 and "0x1" as 1, so a blank or mistyped shard named shard 0 (or another)
    shard: z
      .string()
      .regex(/^[0-9]{1,2}$/, { message: `must be a shard number, 0 to ${READER_SHARDS - 1}` })
      .transform(Number)
      .pipe(selection.shard.unwrap())
      .optional(),
    limit: z.coerce.number().int().min(1).max(DEAD_LETTER_PAGE_MAX).default(DEAD_LETTER_PAGE_DEFAULT),
  }),
);

/** Replay's and delete's body: a reader (some of their ids, or all) or a shard, a page at a time. */
export const DeadLetterSelectionSchema = oneOf(
  z
    .object({
      ...selection,
      ids: z.array(IdSchema).min(1).max(DEAD_LETTER_PAGE_MAX).optional().describe("these event ids of the user"),
      limit: z.number().int().min(1).max(DEAD_LETTER_PAGE_MAX).default(DEAD_LETTER_PAGE_DEFAULT),
    })
    .strict(),
);
export type DeadLetterSelection = z.infer<typeof DeadLetterSelectionSchema>;
