/**
 * Telling link scanners' clicks from readers' (core/click-bursts.ts, worker/decisions/classify-click.ts): what a
 * burst is (slots, span, suspect clicks; in any order), which user agents name a scanner and which never do (the
 * browsers and mail apps readers click in), and that a network scanners run in, or no user agent, is only suspect.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BURST_SLOTS, BURST_WINDOW_MS, burstReasons, type ClickMark } from "../../core/click-bursts";
import { classifyClick } from "../../worker/decisions/classify-click";

const mark = (slot: string, ms: number, suspect = false): ClickMark => ({ slot, ms, suspect });

describe("bursts", () => {
  it("three different slots within the window are a burst, whoever sent them; two are not", () => {
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400), mark("row-2", BURST_WINDOW_MS)])).toEqual([
      "burst",
      "burst",
      "burst",
    ]);
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400)])).toEqual([null, null]);
    // one past the window: no span of it holds the three
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400), mark("row-2", BURST_WINDOW_MS + 1)])).toEqual([
      null,
      null,
      null,
    ]);
  });

  it("the same slot clicked again is no burst (the reader's click after a scanner's time-of-click check)", () => {
    expect(burstReasons([mark("row-0", 0, true), mark("row-0", 10), mark("row-0", 20)])).toEqual([null, null, null]);
  });

  it("two different slots within the window are a burst when one of them is suspect", () => {
    expect(burstReasons([mark("row-0", 0, true), mark("row-1", 900)])).toEqual(["suspect-burst", "suspect-burst"]);
    expect(burstReasons([mark("row-0", 0, true), mark("row-1", BURST_WINDOW_MS + 1)])).toEqual([null, null]);
  });

  it("only the clicks within the span are in it: a reader's click later stays theirs", () => {
    const marks = [mark("row-0", 0), mark("row-1", 100), mark("row-2", 200), mark("row-1", 60_000)];
    expect(burstReasons(marks)).toEqual(["burst", "burst", "burst", null]);
  });

  it("does not depend on the order the clicks arrive in", () => {
    const marks = fc.array(
      fc.record({
        slot: fc.constantFrom("row-0", "row-1", "row-2", "grid-3"),
        ms: fc.integer({ min: 0, max: 5000 }),
        suspect: fc.boolean(),
      }),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(marks, fc.integer(), (list, seed) => {
        const order = list.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
        const shuffled = burstReasons(order.map((i) => list[i] as ClickMark));
        const straight = burstReasons(list);
        expect(order.map((i) => straight[i])).toEqual(shuffled);
        // and a click is in a burst only with BURST_SLOTS different slots within the window, or a suspect one
        for (const [i, r] of straight.entries()) {
          if (r === null) continue;
          const me = list[i] as ClickMark;
          const near = list.filter((m) => Math.abs(m.ms - me.ms) <= BURST_WINDOW_MS);
          const slots = new Set(near.map((m) => m.slot)).size;
          expect(slots >= BURST_SLOTS || (slots >= 2 && near.some((m) => m.suspect))).toBe(true);
        }
      }),
    );
  });
});

const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

describe("the click's signals", () => {
  it("browsers and mail apps readers click in are never scanners, nor suspect from a home network", () => {
    for (const ua of [
      CHROME,
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
      // Gmail's and Outlook's apps open links in their own browsers
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/310.0.620597033 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.0.0 Mobile Safari/537.36",
      // a phone whose maker's name ends in "bot"
      "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
      // LinkedIn's and Facebook's in-app browsers
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0]",
    ])
      expect(classifyClick({ userAgent: ua, asn: 7922, asOrganization: "Comcast Cable" }), ua).toEqual({
        agent: false,
        suspect: false,
      });
  });

  it("user agents that name a scanner, previewer, crawler, headless browser or HTTP library are scanners", () => {
    for (const ua of [
      "Barracuda Sentinel (EE)",
      "Mozilla/5.0 (compatible; proofpoint)",
      "Mimecast URL Protect",
      "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
      "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
      "facebookexternalhit/1.1",
      "WhatsApp/2.23.20.0",
      "Microsoft Office Existence Discovery",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
      "python-requests/2.31.0",
      "curl/8.4.0",
      "Go-http-client/1.1",
    ])
      expect(classifyClick({ userAgent: ua, asn: 7922 }).agent, ua).toBe(true);
  });

  it("a scanner's network or no user agent is suspect only", () => {
    expect(classifyClick({ userAgent: CHROME, asn: 8075, asOrganization: "Microsoft Corporation" })).toEqual({
      agent: false,
      suspect: true,
    });
    expect(classifyClick({ userAgent: CHROME, asn: 16509 })).toEqual({ agent: false, suspect: true });
    expect(classifyClick({ userAgent: CHROME, asn: 26211, asOrganization: "Proofpoint, Inc." })).toEqual({
      agent: false,
      suspect: true,
    });
    expect(classifyClick({ userAgent: null, asn: 7922 })).toEqual({ agent: false, suspect: true });
    expect(classifyClick({ userAgent: "  " })).toEqual({ agent: false, suspect: true });
  });
});
