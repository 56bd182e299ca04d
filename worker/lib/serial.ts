/**
 * Async steps run one at a time, in the order they were asked for: a Durable Object's calls interleave at every
 * await of I/O (KV, fetch), so a read-decide-write over KV needs its own queue. A step that fails fails its
 * caller only; the next runs.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.tail.then(step);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
