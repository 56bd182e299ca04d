/**
 * The email's preferences form when the events queue refuses: the reader's shard applies the change itself (as
 * for the one-click unsubscribe), so an unsubscribe or a pause ticked in the email is saved whenever either takes
 * it; when neither does, the answer is the form's submit-error JSON (429 PREFERENCES_NOT_SAVED, with the email's
 * CORS headers) asking to submit again, never a 5xx.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readerStub } from "../../worker/state/shard-routing";
import { failingQueue } from "./support/faulty-bindings";
import { SENDER, send, token } from "./support/harness";

type Bindings = typeof env;

const FORM = { "AMP-Email-Sender": SENDER, "Content-Type": "application/x-www-form-urlencoded" };

function submit(t: string, body: string, bindings: Partial<Bindings>) {
  return send(`/v1/amp/preferences?t=${t}`, { method: "POST", headers: FORM, body }, {
    ...env,
    ...bindings,
  } as Bindings);
}

async function held(user: string) {
  return (await readerStub(env, user).read(user))?.consent ?? null;
}

describe("the preferences form with a queue that refuses", () => {
  it("the reader's shard applies the change itself: an unsubscribe and a pause ticked in the email are saved", async () => {
    const q = failingQueue();
    const res = await submit(await token("prefs-refused"), "form=2&unsubscribe=on&pause_days=30", {
      EVENTS: q.queue as unknown as Bindings["EVENTS"],
    });
    expect(q.attempts()).toBe(1);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, message: "You are unsubscribed." });
    const consent = await held("prefs-refused");
    expect(consent).toMatchObject({ unsubscribed: true });
    expect(consent?.pausedUntil).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);
  });

  it("a form POSTed over and over keeps no applied id (the shard keeps every other applied id for good)", async () => {
    // whoever holds an email (a forward, a scanner's log) could otherwise grow the reader's shard a row a second: a
    // consent change needs no id, its clock makes applying it again change nothing
    const t = await token("prefs-flood");
    for (let i = 0; i < 6; i++) {
      const res = await submit(t, "form=2&tracking=off", {
        EVENTS: failingQueue().queue as unknown as Bindings["EVENTS"],
      });
      expect(res.status).toBe(200);
    }
    const access = await readerStub(env, "prefs-flood").access("prefs-flood", 100);
    expect(access.applied.count).toBe(0);
    expect(access.profile?.consent).toMatchObject({ tracking: false });
  });

  it("when neither the queue nor the shard takes it: 429 PREFERENCES_NOT_SAVED for submit-error, never a 5xx", async () => {
    const q = failingQueue();
    const res = await submit(await token("prefs-nothing-up"), "form=2&unsubscribe=on", {
      EVENTS: q.queue as unknown as Bindings["EVENTS"],
      READERS: undefined,
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("60");
    // the email's CORS headers, so the mail client shows the submit-error template with the message
    expect(res.headers.get("AMP-Email-Allow-Sender")).toBe(SENDER);
    expect(res.headers.get("Cache-Control")).toBe("private, no-store");
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("PREFERENCES_NOT_SAVED");
    expect(body.error.message).toMatch(/submit them again/);
    expect(await held("prefs-nothing-up")).toBeNull();
  });
});
