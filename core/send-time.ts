/** Send-time distributions over the 168 hours of the week (0 = Sunday 00:00 UTC), and their best hours. */

export const HOURS_OF_WEEK = 168;

export function hourOfWeek(unixSeconds: number): number {
  const d = new Date(unixSeconds * 1000);
  return d.getUTCDay() * 24 + d.getUTCHours();
}

/** Probability of each hour of the day (summed over the days of the week). */
export function hourOfDay(dist: ArrayLike<number>): number[] {
  const out = new Array<number>(24).fill(0);
  for (let h = 0; h < HOURS_OF_WEEK; h++) out[h % 24] = (out[h % 24] as number) + (dist[h] as number);
  return out;
}

/** The `n` most likely hours of the day, best first (ties: earlier hour). */
export function bestHours(dist: ArrayLike<number>, n = 3): number[] {
  const byHour = hourOfDay(dist);
  return byHour
    .map((p, h) => [p, h] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, n)
    .map(([, h]) => h);
}
