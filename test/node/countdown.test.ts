/** Countdown blocks (core/countdown.ts, countdownItem in core/campaign.ts), on a fake clock. */
import { describe, expect, it } from "vitest";
import { CampaignSchema, countdownItem, countdownOf } from "../../core/campaign";
import { countdownFrames, dayDigits, digits, split, timeLeftText } from "../../core/countdown";

const DEADLINE = Date.parse("2026-12-24T18:00:00+01:00");
const block = {
  id: "xmas",
  type: "countdown" as const,
  deadline: "2026-12-24T18:00:00+01:00",
  title: "Sale ends in",
  url: "https://shop.example/sale",
  ended: { title: "The sale is over", url: "https://shop.example/" },
};

describe("countdown", () => {
  it("counts down a frame a second from the open, and stops at zero", () => {
    const far = countdownFrames(DEADLINE, DEADLINE - (2 * 86_400 + 3 * 3600 + 4 * 60 + 5) * 1000);
    expect(far).toHaveLength(60);
    expect(digits(far[0] as never)).toEqual(["02", "03", "04", "05"]);
    expect(digits(far[1] as never)).toEqual(["02", "03", "04", "04"]);
    expect(digits(far[59] as never)).toEqual(["02", "03", "03", "06"]);
    // 30.4 s before the deadline: 31 frames, the last at zero
    const near = countdownFrames(DEADLINE, DEADLINE - 30_400);
    expect(near).toHaveLength(31);
    expect(digits(near[0] as never)).toEqual(["00", "00", "00", "30"]);
    expect(digits(near[30] as never)).toEqual(["00", "00", "00", "00"]);
    // at and after the deadline: nothing to count (the block shows its ended content)
    expect(countdownFrames(DEADLINE, DEADLINE)).toEqual([]);
    expect(countdownFrames(DEADLINE, DEADLINE + 5000)).toEqual([]);
    // two day cells hold 99 days; a drawing starting at 100 days or more has three
    expect(digits(split(500 * 86_400))[0]).toBe("99");
    expect(dayDigits(split(99 * 86_400 + 86_399))).toBe(2);
    expect(dayDigits(split(100 * 86_400))).toBe(3);
    expect(digits(split(500 * 86_400 + 3600), 3)).toEqual(["500", "01", "00", "00"]);
    expect(digits(split(99 * 86_400), 3)[0]).toBe("099");
    expect(digits(split(5000 * 86_400), 3)[0]).toBe("999");
  });

  it("as an item: the time left as text and the sale's link before the deadline, the ended content after", () => {
    expect(countdownItem(block, DEADLINE - 3_723_000)).toMatchObject({
      id: "countdown:xmas",
      title: "Sale ends in 01:02:03",
      url: "https://shop.example/sale",
      currency: "XXX",
    });
    expect(countdownItem(block, DEADLINE - 90_061_000).title).toBe("Sale ends in 1d 01:01:01");
    expect(countdownItem(block, DEADLINE + 1)).toMatchObject({
      title: "The sale is over",
      url: "https://shop.example/",
    });
    expect(timeLeftText(split(59))).toBe("00:00:59");
    const campaign = CampaignSchema.parse({ v: 2, default: block });
    expect(countdownOf(campaign, "countdown:xmas")).toMatchObject({ id: "xmas" });
    expect(countdownOf(campaign, "countdown:other")).toBeNull();
    expect(
      CampaignSchema.safeParse({ v: 2, default: { ...block, deadline: "2026-12-24 18:00" } }).error?.issues[0]?.path,
    ).toEqual(["default", "deadline"]);
    // a local time is a datetime: the message says what is missing
    const local = CampaignSchema.safeParse({ v: 2, default: { ...block, deadline: "2026-12-24T18:00:00" } });
    expect(local.error?.issues[0]?.message).toMatch(/time zone offset/);
    expect(CampaignSchema.safeParse({ v: 2, default: { ...block, deadline: "2026-12-24T17:00:00Z" } }).success).toBe(
      true,
    );
  });
});
