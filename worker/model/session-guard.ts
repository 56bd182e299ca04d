/**
 * Wraps an ORT scoring session for the model store. Counts the runs in flight, so a replaced session is
 * released only once none of them is running (never under an in-flight request) and exactly once; a run
 * after the release fails cleanly instead of calling into freed wasm memory. Trips after consecutive
 * failures: a tripped session fails fast, without entering wasm, until the store replaces it.
 */
import type { ScoringSession } from "../ort/ort-runtime";

/** Consecutive failed runs after which a session is considered broken and replaced. */
export const TRIP_AFTER_FAILURES = 3;

export class SessionUnavailableError extends Error {}

export interface GuardedSession extends ScoringSession {
  /** runs started and not yet finished */
  readonly inFlight: number;
  /** failed runs since the last success */
  readonly failures: number;
  /** `failures` reached the trip threshold: runs now fail without calling the session */
  readonly tripped: boolean;
  /** `release()` was called: no new runs; the session itself is freed once the runs in flight end */
  readonly released: boolean;
}

export function guardSession(inner: ScoringSession, tripAfter = TRIP_AFTER_FAILURES): GuardedSession {
  return new Guarded(inner, tripAfter);
}

class Guarded implements GuardedSession {
  inFlight = 0;
  failures = 0;
  released = false;
  private releasing: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  constructor(
    private readonly inner: ScoringSession,
    private readonly tripAfter: number,
  ) {}

  get tripped(): boolean {
    return this.failures >= this.tripAfter;
  }

  topK(user: Float32Array, k: number) {
    return this.run(() => this.inner.topK(user, k));
  }

  itemScores(user: Float32Array, k?: number) {
    return this.run(() => this.inner.itemScores(user, k));
  }

  /** Idempotent: the inner session is released once, after the runs in flight have ended. */
  release(): Promise<void> {
    if (!this.releasing) {
      this.released = true;
      const drained = new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      if (this.inFlight === 0) this.drained?.();
      this.releasing = drained.then(() => this.inner.release());
    }
    return this.releasing;
  }

  private async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.released) throw new SessionUnavailableError("scoring session already released");
    if (this.tripped)
      throw new SessionUnavailableError(`scoring session tripped after ${this.failures} consecutive failures`);
    this.inFlight++;
    try {
      const out = await f();
      this.failures = 0;
      return out;
    } catch (e) {
      this.failures++;
      throw e;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.released) this.drained?.();
    }
  }
}
