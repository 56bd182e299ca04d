/**
 * Tests that give a Durable Object other bindings for a while (a faulty or slow KV, short deadlines): the object's
 * own bindings are swapped in its instance and put back afterwards, whatever `act` does.
 */
import { runInDurableObject } from "cloudflare:test";
import type { Bindings } from "../../../worker/env";

/** `act` run while the Durable Object behind `stub` uses `make(its own bindings)`; its own are put back after. */
export async function withObjectEnv<T>(
  stub: DurableObjectStub,
  make: (real: Bindings) => Bindings,
  act: () => Promise<T>,
): Promise<T> {
  let real: Bindings | undefined;
  await runInDurableObject(stub, (instance: unknown) => {
    const self = instance as { env: Bindings };
    real = self.env;
    self.env = make(real);
  });
  try {
    return await act();
  } finally {
    await runInDurableObject(stub, (instance: unknown) => {
      (instance as { env: Bindings }).env = real as Bindings;
    });
  }
}
