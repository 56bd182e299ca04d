/**
 * Countdown blocks: the time left to a deadline as an open sees it, and the frames of its animation (one a
 * second, up to 60: a GIF that counts down for a minute from the moment of the open, then rests). Pure.
 */
export const COUNTDOWN_FRAMES = 60;

export interface TimeLeft {
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

/** Whole seconds left (0 at or after the deadline). */
export function secondsLeft(deadlineMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((deadlineMs - nowMs) / 1000));
}

export function split(total: number): TimeLeft {
  return {
    days: Math.floor(total / 86_400),
    hours: Math.floor((total % 86_400) / 3600),
    minutes: Math.floor((total % 3600) / 60),
    seconds: total % 60,
  };
}

/** How many digits the days take in a drawing that starts at `t`: two, or three from 100 days on. */
export function dayDigits(t: TimeLeft): 2 | 3 {
  return t.days >= 100 ? 3 : 2;
}

/**
 * The digits a frame shows: `DD` (or `DDD`, with `dayCells` 3), `HH`, `MM`, `SS`. Days past what the cells
 * hold show all nines (999 days: nearly three years).
 */
export function digits(t: TimeLeft, dayCells: 2 | 3 = 2): [string, string, string, string] {
  const pad = (n: number, cells: number) => String(Math.min(10 ** cells - 1, n)).padStart(cells, "0");
  return [pad(t.days, dayCells), pad(t.hours, 2), pad(t.minutes, 2), pad(t.seconds, 2)];
}

/**
 * The frames of an open at `nowMs`: one per second from now, while time is left (the last one at zero); an
 * empty list once the deadline has passed (the block shows its ended content).
 */
export function countdownFrames(deadlineMs: number, nowMs: number, frames = COUNTDOWN_FRAMES): TimeLeft[] {
  if (nowMs >= deadlineMs) return [];
  const left = secondsLeft(deadlineMs, nowMs);
  return Array.from({ length: Math.min(frames, left + 1) }, (_, i) => split(left - i));
}

/** The time left as text (`2d 03:04:05`), for the AMP list and the text part. */
export function timeLeftText(t: TimeLeft): string {
  const [, h, m, s] = digits(t);
  return `${t.days > 0 ? `${t.days}d ` : ""}${h}:${m}:${s}`;
}
