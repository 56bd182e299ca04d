/**
 * What the Worker's log lines may carry (worker/lib/log.ts, README "Personal data outside storage"): no request
 * path that holds a token or user id, no user-keyed KV key, no token, no email address, whatever the caller passed
 * and however deep in the fields it sits; and every pattern is linear, so a long field costs its length.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { looksLikeEmail } from "../../core/events";
import { mintToken } from "../../core/token";
import { logEvent, scrub } from "../../worker/lib/log";

const SECRET = "log-scrub-test-secret-0123456789";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The line logEvent writes for these fields, as text. */
function logged(fields: Record<string, unknown>): string {
  const out = vi.spyOn(console, "error").mockImplementation(() => undefined);
  logEvent("error", "test.event", fields);
  return String(out.mock.calls.at(-1)?.[0]);
}

describe("log lines name no reader and carry no token", () => {
  it("scrubs paths that carry a token or user id, user-keyed KV keys, and tokens", async () => {
    const token = await mintToken(SECRET, { user: "c0000042", campaign: "demo", ttlSeconds: 3600 });
    const line = logged({
      detail: `GET /v1/img/${token}/card-0.png, /v1/users/c0000042 and /v1/c/${token}/row-1 failed`,
      key: "profile:c0000042",
      keys: ["decision:c0000042:demo:row-0#1", "features:c0000042:als-1", "seen:c0000042"],
      query: `/v1/amp/recs?t=${token}&n=6`,
    });
    expect(line).not.toContain("c0000042");
    expect(line).not.toContain(token.split(".")[0]);
    expect(line).not.toContain(token.split(".")[1]);
    expect(line).toContain("/v1/img/<redacted>");
    expect(line).toContain("profile:<redacted>");
    // what says what happened stays
    expect(line).toContain('"event":"test.event"');
  });

  it("scrubs a field nested in an object, as one at the top", async () => {
    const token = await mintToken(SECRET, { user: "u-nested", campaign: "demo", ttlSeconds: 3600 });
    const line = logged({ error: { detail: `/v1/users/u-nested: ${token}`, at: [{ key: "profile:u-nested" }] } });
    expect(line).not.toContain("u-nested");
    expect(line).not.toContain(token.split(".")[1]);
    expect(JSON.parse(line).error.at[0].key).toBe("profile:<redacted>");
    // what is not a plain object is written as JSON writes it
    const at = new Date(0);
    expect(JSON.parse(logged({ when: { at } })).when.at).toBe(at.toISOString());
  });

  it("scrubs email addresses, and a URL's password before its host", () => {
    const line = logged({
      detail: "refused reader.name+tag@mail.example.com; fetch https://hook:pw-1@hooks.example/x failed",
    });
    expect(line).not.toContain("reader.name");
    expect(line).not.toContain("mail.example.com");
    expect(line).not.toContain("pw-1");
    expect(line).toContain("<email>");
  });

  it("scrubs an address whose domain is not ASCII, as the events API refuses it (core/events.ts looksLikeEmail)", () => {
    const line = logged({ detail: "refused jane@exämple.com and ken@例え.jp, then josé@ñandú.example" });
    for (const part of ["jane", "exämple", "ken", "例え", "josé", "ñandú"]) expect(line).not.toContain(part);
    expect(line.match(/<email>/g)).toHaveLength(3);
  });

  it("scrubs an address written with a look-alike or percent-encoded `@` or `.`, as the events API reads it", () => {
    const written = [
      "jane＠example.com",
      "ken﹫example.org",
      "lou%40example.net",
      "max%2540example.io",
      "ned%252540mail.example.com",
      "ora@example．com",
      "pia@example。jp",
      "quin＠例え｡jp",
      "rui@example%2Ecom",
      "sam＠example﹒co․uk",
      "tom@example︒jp",
    ];
    const line = logged({ detail: `refused ${written.join(" and ")}` });
    const locals = written.map((w) => w.split(/[@＠﹫%]/)[0] as string);
    for (const part of [...locals, "example", "例え"]) expect(line).not.toContain(part);
    expect(line.match(/<email>/g)).toHaveLength(written.length);
    // what only looks like one half of an address stays: a percent-encoded query, a sentence's full stop
    expect(scrub("50%40 off today。 Thanks．")).toBe("50%40 off today。 Thanks．");
  });

  it("scrubs an address only NFKC reveals (dot leaders, a fullwidth percent-encoding), as looksLikeEmail reads it", () => {
    const written = [
      "jane@example‥com",
      "kim@example…org",
      "lea@example︙net",
      "mo@example︰io",
      "ned％４０example.com",
    ];
    for (const w of written) {
      expect(looksLikeEmail(w), w).toBe(true);
      const line = scrub(`refused ${w} today`);
      expect(line, w).toBe("refused <email> today");
    }
  });

  it("knows every character that reads as `@` or `.` (NFKC, and the ideographic full stops IDNA reads as dots)", () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCharCode(cp);
      const folded = ch.normalize("NFKC");
      if (ch === folded || !["@", ".", "\u3002"].includes(folded)) continue;
      const at = folded === "@" ? ch : "@";
      const dot = folded === "@" ? "." : ch;
      expect(scrub(`reader${at}example${dot}com`), `U+${cp.toString(16)}`).toBe("<email>");
    }
  });

  it("scrubs field names at any depth, as their values: an object keyed by data names no one", async () => {
    const token = await mintToken(SECRET, { user: "u-keyed", campaign: "demo", ttlSeconds: 3600 });
    const line = logged({
      "jane@example.com": 1,
      counts: { "/v1/users/u-keyed": 2, [token]: 3, list: [{ "profile:u-keyed": 4 }] },
    });
    for (const part of ["jane", "u-keyed", token.split(".")[0], token.split(".")[1]]) expect(line).not.toContain(part);
    const parsed = JSON.parse(line);
    expect(parsed["<email>"]).toBe(1);
    expect(parsed.counts["/v1/users/<redacted>"]).toBe(2);
    expect(parsed.counts.list[0]["profile:<redacted>"]).toBe(4);
  });

  it("leaves what names no one alone: event names, shard names, model versions, counts", () => {
    expect(scrub("readers-3 applied 12 events; model als-6d06e4f6d7ac; /v1/health")).toBe(
      "readers-3 applied 12 events; model als-6d06e4f6d7ac; /v1/health",
    );
  });

  it("a long field costs its length: 300,000 characters with no match, or all near-matches, are scrubbed at once", () => {
    for (const text of [
      "a".repeat(300_000),
      "a@".repeat(150_000),
      `${"a.".repeat(150_000)}@`,
      "a＠".repeat(150_000),
      "a%40".repeat(75_000),
      "%25".repeat(100_000),
      `${"a%2540".repeat(50_000)}`,
      `${"a。".repeat(150_000)}＠`,
      `${"a%2e".repeat(75_000)}%40`,
      `a＠${"b．".repeat(149_999)}`,
    ]) {
      expect(text.length).toBeGreaterThanOrEqual(300_000);
      // the output is cut; a pattern that backtracks over the whole field at each position would not return
      // within the test's timeout on 300,000 characters
      expect(scrub(text).length).toBeLessThanOrEqual(1001);
    }
  });
});
