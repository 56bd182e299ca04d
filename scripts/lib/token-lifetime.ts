/**
 * How long the tokens the CLIs mint (`npm run token`, `npm run email`) may live: less than an erased reader's
 * tombstone stands (ERASURE_TOMBSTONE_DAYS, as the Worker reads it), as the Worker already requires of a
 * trigger's tokens. A token that outlived the tombstone would let an email opened after it ended record the
 * erased reader's opens and clicks again, under their old id. The tombstone's length comes from the environment,
 * else `.dev.vars`, else the Worker's default: set ERASURE_TOMBSTONE_DAYS here too when you raise the Worker's.
 */
import { z } from "zod";
import { DEFAULT_ERASURE_TOMBSTONE_DAYS } from "../../core/erasure-key";
import { decimal } from "./cli-args";
import { readDevVars } from "./dev-vars";

/** ERASURE_TOMBSTONE_DAYS as the Worker reads it (1 to 3650), else its default. */
export function tombstoneDays(): number {
  const raw = process.env.ERASURE_TOMBSTONE_DAYS ?? readDevVars().ERASURE_TOMBSTONE_DAYS;
  const days = z.coerce.number().min(1).max(3650).safeParse(raw);
  return raw !== undefined && raw.trim() !== "" && days.success ? days.data : DEFAULT_ERASURE_TOMBSTONE_DAYS;
}

/** `--ttl-days`: a minute at least (a shorter one rounded to a token expired as it is minted), and shorter than the tombstone. */
export function tokenTtlDays() {
  const tombstone = tombstoneDays();
  return decimal({ gt: 0 })
    .refine((d) => d <= 0 || d * 86_400 >= 60, { error: "must be at least a minute (0.0007 days)" })
    .refine((d) => d < tombstone, {
      error: `must be shorter than ERASURE_TOMBSTONE_DAYS (${tombstone}): an erased reader's token has to expire before their tombstone ends (raise ERASURE_TOMBSTONE_DAYS in the Worker and here to mint longer ones)`,
    });
}
