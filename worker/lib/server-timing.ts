/**
 * A `Server-Timing` header from named durations in milliseconds (`decide;dur=1.0, total;dur=3.0`): how long the
 * Worker's phases took, for benchmarks (scripts/bench reads it). workerd's clock ticks in milliseconds locally;
 * a deployed Worker's advances only across I/O, so there it says little.
 */
export function serverTiming(parts: Record<string, number>): string {
  return Object.entries(parts)
    .map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`)
    .join(", ");
}
