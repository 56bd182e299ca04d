/**
 * A wait bounded by a timer: `work`, or what `late()` gives (or throws) once `ms` have passed, the timer cleared
 * whichever comes first. The one way the Worker bounds a wait (model switches, KV deadlines, shared reads, calls
 * to the shards); the work itself goes on.
 */
export function within<T, L>(work: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}
