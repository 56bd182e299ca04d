/**
 * What the experiment store (worker/experiments/experiment-db.ts) holds of one reader, for the right of access:
 * their exposures, send-time assignments, attributed outcomes and the clicks of their emails taken for link
 * scanners', each newest first up to `limit` rows, with the full counts. Read-only (the tables are indexed by user). Throws when D1 does.
 */
import { ensureSchema } from "./experiment-db";

export interface HeldRows {
  count: number;
  items: Record<string, unknown>[];
}

export async function readerRows(
  db: D1Database,
  user: string,
  limit: number,
): Promise<{ exposures: HeldRows; assignments: HeldRows; outcomes: HeldRows; scannerClicks: HeldRows }> {
  await ensureSchema(db);
  const [exposures, assignments, outcomes, scannerClicks, counts] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        "SELECT experiment, arm, campaign, block, via, phase, at, day FROM exposures WHERE user = ? ORDER BY at DESC, experiment LIMIT ?",
      )
      .bind(user, limit),
    db
      .prepare(
        "SELECT experiment, arm, campaign, phase, at, day FROM assignments WHERE user = ? ORDER BY at DESC, experiment LIMIT ?",
      )
      .bind(user, limit),
    db
      .prepare(
        "SELECT experiment, event, kind, arm, slot, item, value, currency, at, day FROM outcomes WHERE user = ? ORDER BY at DESC, experiment, event LIMIT ?",
      )
      .bind(user, limit),
    db
      .prepare(
        "SELECT experiment, event, arm, slot, reason, at, day FROM scanner_clicks WHERE user = ? ORDER BY at DESC, experiment, event LIMIT ?",
      )
      .bind(user, limit),
    db
      .prepare(
        `SELECT (SELECT count(*) FROM exposures WHERE user = ?1) AS exposures,
                (SELECT count(*) FROM assignments WHERE user = ?1) AS assignments,
                (SELECT count(*) FROM outcomes WHERE user = ?1) AS outcomes,
                (SELECT count(*) FROM scanner_clicks WHERE user = ?1) AS scannerClicks`,
      )
      .bind(user),
  ]);
  const n = counts?.results[0] as
    | { exposures: number; assignments: number; outcomes: number; scannerClicks: number }
    | undefined;
  return {
    exposures: { count: n?.exposures ?? 0, items: exposures?.results ?? [] },
    assignments: { count: n?.assignments ?? 0, items: assignments?.results ?? [] },
    outcomes: { count: n?.outcomes ?? 0, items: outcomes?.results ?? [] },
    scannerClicks: { count: n?.scannerClicks ?? 0, items: scannerClicks?.results ?? [] },
  };
}
