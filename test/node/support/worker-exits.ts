/** A function that ends its worker thread without an answer (worker-fits.test.ts: the caller must not wait forever). */
export function quit(): void {
  process.exit(0);
}
