/**
 * Workers KV takes one write a second to a key (a second within it is refused: `KV PUT failed: 429`). A writer
 * whose writes of a key can follow each other closer than that (an object making a person's moves one at a time:
 * a campaign saved twice, a rollback just after an activation) paces them here: each waits until a second after
 * the last write of its key settled, instead of being refused.
 */

/** KV's interval between two writes of one key. */
export const SAME_KEY_WRITE_MS = 1000;

export class KeyPacer {
  /** when the last write of each key settled (ms), those of the last SAME_KEY_WRITE_MS */
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs = SAME_KEY_WRITE_MS) {}

  /** Runs `write` of `key` once the interval since the last write of the key has passed. */
  async write<T>(key: string, write: () => Promise<T>): Promise<T> {
    const wait = (this.last.get(key) ?? Number.NEGATIVE_INFINITY) + this.intervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await write();
    } finally {
      const now = Date.now();
      for (const [k, at] of this.last) if (at <= now - this.intervalMs) this.last.delete(k);
      this.last.set(key, now);
    }
  }
}
