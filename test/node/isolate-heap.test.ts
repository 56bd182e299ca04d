/**
 * The bench's memory figures (scripts/bench/isolate-heap.ts): V8's inspector in workerd gives the Worker's live
 * heap and its ArrayBuffers after a full collection, so memory the Worker holds is counted and memory it let go
 * of is not.
 */
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isolateHeap } from "../../scripts/bench/isolate-heap";
import { freePort } from "../../scripts/lib/free-port";

// a Worker that keeps about 40 MiB of arrays alive on /hold and lets them go on /drop
const SCRIPT = `
let kept = null;
export default {
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/hold") kept = Array.from({ length: 40 }, () => new Float64Array(131072));
    if (path === "/drop") kept = null;
    return new Response(kept ? "holding" : "empty");
  },
};`;

describe("the Worker's heap in workerd", () => {
  let mf: Miniflare;
  let port: number;
  const poke = async () => {
    await (await mf.dispatchFetch("http://bench/ping")).text();
  };
  beforeAll(async () => {
    port = await freePort();
    mf = new Miniflare({ modules: true, script: SCRIPT, compatibilityDate: "2026-04-26", inspectorPort: port });
    await mf.ready;
  });
  afterAll(() => mf.dispose());

  it("counts what the Worker holds and, after the collection, not what it dropped", async () => {
    const empty = await isolateHeap(port, poke);
    await (await mf.dispatchFetch("http://bench/hold")).text();
    const holding = await isolateHeap(port, poke);
    // 40 typed arrays of 1 MiB each: their bytes are outside the heap, their objects in it
    expect(holding.buffers_mib - empty.buffers_mib).toBeCloseTo(40, 0);
    await (await mf.dispatchFetch("http://bench/drop")).text();
    const dropped = await isolateHeap(port, poke);
    expect(dropped.buffers_mib - empty.buffers_mib).toBeLessThan(1);
  }, 60_000);
});
