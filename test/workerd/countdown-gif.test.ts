/**
 * The countdown GIF's memory: the buffer its frames are written into is sized by what is written (the first frame
 * whole, then the digit cells that changed), not by a whole digits' row per frame. omggif's writer is wrapped to see
 * the buffer it is given; the GIF it writes is read back whole. Its title is drawn without emoji, as cards are.
 */
import { GifReader } from "omggif";
import { describe, expect, it, vi } from "vitest";
import type { Countdown } from "../../core/campaign";
import { slotPixels } from "../../core/layouts";
import { countdownGif } from "../../worker/images/countdown-gif";

const buffers: number[] = [];
vi.mock("omggif", async (actual) => {
  const real = (await actual()) as typeof import("omggif");
  class RecordingWriter extends real.GifWriter {
    constructor(
      buf: Uint8Array,
      ...rest: ConstructorParameters<typeof real.GifWriter> extends [unknown, ...infer R] ? R : never
    ) {
      buffers.push(buf.byteLength);
      super(buf, ...rest);
    }
  }
  return { ...real, GifWriter: RecordingWriter };
});

describe("countdown GIF", () => {
  it("a 2x card's minute of frames is written into a buffer sized by its frames (4 MB), not a whole row a frame (29 MB)", async () => {
    const now = Date.parse("2030-01-01T00:00:30Z");
    const block = {
      id: "sale",
      title: "Sale ends in",
      deadline: "2030-01-03T04:05:00Z",
    } as unknown as Countdown;
    const { width, height } = slotPixels({ layout: "card", index: 0, scale: 2 });
    const drawn = await countdownGif(block, width, height, now);
    expect(drawn?.frames).toBe(60);
    const gif = drawn?.gif as Uint8Array;
    const reader = new GifReader(gif);
    expect([reader.width, reader.height, reader.numFrames()]).toEqual([width, height, 60]);
    // every frame reads back
    const px = new Uint8Array(width * height * 4);
    for (let k = 0; k < 60; k++) reader.decodeAndBlitFrameRGBA(k, px);
    expect(buffers).toHaveLength(1);
    const buffer = buffers[0] as number;
    console.log(`countdown ${width}x${height}: ${gif.byteLength} bytes of GIF, a ${buffer}-byte buffer`);
    expect(buffer).toBeLessThan(8 * 1024 * 1024);
    expect(buffer).toBeGreaterThan(gif.byteLength);
  });

  it("a title's emoji are left out, as on the cards (the font has none: each drew as an empty box)", async () => {
    const now = Date.parse("2030-01-01T00:00:30Z");
    const block = (title: string) => ({ id: "sale", title, deadline: "2030-01-03T04:05:00Z" }) as unknown as Countdown;
    const { width, height } = slotPixels({ layout: "row", index: 0, scale: 1 });
    const plain = await countdownGif(block("Sale ends in"), width, height, now);
    const dressed = await countdownGif(block("Sale 🎄 ends in ⏰"), width, height, now);
    expect(plain?.gif.byteLength).toBeGreaterThan(0);
    expect(dressed?.gif).toEqual(plain?.gif);
  });

  it("150 days left are drawn as 150, not as 99 (two day cells held 99 at most)", async () => {
    const now = Date.parse("2030-01-01T00:00:30Z");
    const block = (deadline: string) => ({ id: "sale", title: "Sale ends in", deadline }) as unknown as Countdown;
    const { width, height } = slotPixels({ layout: "row", index: 0, scale: 1 });
    const firstFrame = async (deadline: string) => {
      const drawn = await countdownGif(block(deadline), width, height, now);
      const reader = new GifReader(drawn?.gif as Uint8Array);
      const px = new Uint8Array(width * height * 4);
      reader.decodeAndBlitFrameRGBA(0, px);
      return px;
    };
    // 150, 99 and 250 days, each with the same hours, minutes and seconds
    const far = await firstFrame("2030-05-31T04:05:00Z");
    const near = await firstFrame("2030-04-10T04:05:00Z");
    const farther = await firstFrame("2030-09-08T04:05:00Z");
    expect(far).not.toEqual(near);
    // the hundreds are drawn: 150 and 250 differ
    expect(far).not.toEqual(farther);
  });
});
