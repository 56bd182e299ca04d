/**
 * A body read chunk by chunk and cancelled as soon as it passes `max` bytes (then null), whether or not it
 * declared a length: request bodies (read-json-body.ts) and fetched pictures (images/picture-cache.ts).
 * `signal` (optional) abandons the read when it aborts, with the signal's reason.
 */

/** `promise`, or the signal's reason once it aborts (a peer that never answers does not hold the request). */
export function until<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}

export async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
  signal?: AbortSignal,
): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await until(reader.read(), signal);
      if (done) break;
      total += value.byteLength;
      if (total > max) return null;
      chunks.push(value);
    }
  } finally {
    // stop the transfer (too large, aborted or failed); a no-op once the body has ended
    reader.cancel().catch(() => undefined);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
