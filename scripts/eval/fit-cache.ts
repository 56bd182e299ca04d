/**
 * Fitted models shared between evaluation origins: origin k's validation split is origin k-1's test split
 * (the same cutoff), so a model tuned there is the one its test refit would fit again; and each origin's ranker
 * learns from the next older origin's validation window too, so its fits are kept for that origin. Keyed by the
 * split's cutoff and the model's hyperparameters; `keepOnly` drops the splits no later origin asks for.
 */
export class FitCache {
  private readonly entries = new Map<string, unknown>();

  get<T>(cutoff: number, key: string, make: () => T): T {
    const k = `${cutoff}|${key}`;
    if (!this.entries.has(k)) this.entries.set(k, make());
    return this.entries.get(k) as T;
  }

  /**
   * `get` for a fit made asynchronously (in a worker thread): several can be under way at once, for different keys
   * (the same key asked twice before its fit lands is fitted twice).
   */
  async getAsync<T>(cutoff: number, key: string, make: () => Promise<T>): Promise<T> {
    const k = `${cutoff}|${key}`;
    if (!this.entries.has(k)) this.entries.set(k, await make());
    return this.entries.get(k) as T;
  }

  /** Forgets every split but these cutoffs. */
  keepOnly(cutoffs: readonly number[]): void {
    for (const k of [...this.entries.keys()]) {
      if (!cutoffs.includes(Number(k.slice(0, k.indexOf("|"))))) this.entries.delete(k);
    }
  }
}
