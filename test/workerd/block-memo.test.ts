/**
 * The block's shared ranking (worker/decisions/block-memo.ts): slots of one open share it, but a slot never
 * hangs on a ranking another request started and cannot finish (that request cancelled: its reads never settle).
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { ServedBlock } from "../../worker/campaigns/serve-block";
import { blockMemoStats, blockRanking, resetBlockMemo } from "../../worker/decisions/block-memo";

const key = { user: "u1", campaign: "spring", slots: 3 };
const served = (id: string) => ({ selection: { block: { id } } }) as unknown as ServedBlock;
const never = () => new Promise<ServedBlock>(() => undefined);

describe("blockRanking", () => {
  beforeEach(resetBlockMemo);

  it("the other slots share the first slot's ranking while it is computed", async () => {
    let computed = 0;
    let finish: (b: ServedBlock) => void = () => undefined;
    const first = blockRanking(key, 0, () => {
      computed++;
      return new Promise((resolve) => {
        finish = resolve;
      });
    });
    const second = blockRanking(key, 1, async () => {
      computed++;
      return served("own");
    });
    finish(served("shared"));
    expect(await first).toBe(await second);
    expect(computed).toBe(1);
    expect(blockMemoStats()).toEqual({ hits: 1, misses: 1 });
  });

  it("a ranking that never settles (its request cancelled): the next slot computes its own after its wait", async () => {
    void blockRanking(key, 0, never);
    const started = Date.now();
    const second = await blockRanking(key, 1, async () => served("own"), 30);
    expect(second).toEqual(served("own"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    // the slots still to come share that one, not the stuck one
    expect(await blockRanking(key, 2, async () => served("third"), 30)).toBe(second);
  });

  it("a shared ranking that fails: the slot that held it computes its own at once", async () => {
    const failing = blockRanking(
      key,
      0,
      () => new Promise<ServedBlock>((_, reject) => setTimeout(() => reject(new Error("injected")), 5)),
    );
    const held = blockRanking(key, 1, async () => served("own"), 10_000);
    await expect(failing).rejects.toThrow("injected");
    expect(await held).toEqual(served("own"));
    expect(blockMemoStats()).toEqual({ hits: 1, misses: 1 });
  });
});
