/**
 * A least-recently-used map bounded by total bytes (a Map keeps insertion order: the first key is the
 * oldest). Per-isolate caches of pictures and drawn cards use it.
 */
export class ByteLru<V> {
  private readonly map = new Map<string, V>();
  private bytes = 0;

  constructor(
    private readonly budget: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key); // refresh its place
      this.map.set(key, value);
    }
    return value;
  }

  /** Values larger than a quarter of the budget are not kept (they would evict everything else). */
  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    if (size > this.budget / 4) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytes -= this.sizeOf(old);
    }
    this.map.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.budget) break;
      this.map.delete(k);
      this.bytes -= this.sizeOf(v);
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.bytes -= this.sizeOf(old);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
