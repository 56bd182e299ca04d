/**
 * A reader's frequency preference holds across builds (POST /v1/admin/suppressions, then POST /v1/admin/sends):
 * the recording checks again, in the shard's transaction, what the check saw hours before in a large build (another
 * build's send, an unsubscribe since); a campaign id sent again a day on counts its earlier send, while a rebuild
 * within REBUILD_WINDOW_S of its issue's first never holds back its own readers, and counts from its own time; and
 * a batch of 500 ids of 128 characters in any script fits the routes' body limit.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { lastCampaignSend, migrateCampaignSends, recordCampaignSend } from "../../worker/state/campaign-sends-table";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { ADMIN_HEADERS as ADMIN, consume, send } from "./support/harness";

const nowS = () => Math.floor(Date.now() / 1000);
const post = (path: string, body: unknown) =>
  send(path, { method: "POST", headers: ADMIN, body: JSON.stringify(body) }, env);

async function checked(users: string[], campaign: string): Promise<Record<string, string>> {
  const res = await post("/v1/admin/suppressions", { users, campaign });
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as { suppressed: { user: string; reason: string }[] };
  return Object.fromEntries(body.suppressed.map((s) => [s.user, s.reason]));
}

async function record(campaign: string, users: string[]) {
  const res = await post("/v1/admin/sends", { campaign, users });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { recorded: number; held: { user: string; reason: string }[] };
}

const consent = (user: string, change: QueuedEvent["consent"], ts = nowS()) =>
  consume([{ id: `consent:${user}:${ts}`, type: "consent", user, ts, consent: change }]);

describe("the frequency preference across builds", () => {
  it("two campaigns checked at once: the second recording holds the reader back, whom the first took", async () => {
    await consent("sf-weekly", { frequency: "weekly" });
    expect(await checked(["sf-weekly"], "sf-A")).toEqual({});
    expect(await checked(["sf-weekly"], "sf-B")).toEqual({});
    expect(await record("sf-A", ["sf-weekly"])).toMatchObject({ recorded: 1, held: [] });
    expect(await record("sf-B", ["sf-weekly"])).toMatchObject({
      recorded: 0,
      held: [{ user: "sf-weekly", reason: "frequency" }],
    });
    // A built again (a rebuild within the window) is that send again: never held back by itself
    expect(await record("sf-A", ["sf-weekly"])).toMatchObject({ recorded: 1, held: [] });
  });

  it("an unsubscribe between the check and the recording holds the reader back", async () => {
    await consent("sf-leaving", { personalization: true });
    expect(await checked(["sf-leaving"], "sf-C")).toEqual({});
    await consent("sf-leaving", { unsubscribed: true }, nowS() + 1);
    expect(await record("sf-C", ["sf-leaving"])).toMatchObject({
      recorded: 0,
      held: [{ user: "sf-leaving", reason: "unsubscribed" }],
    });
  });

  it("a campaign id sent again a day on counts its earlier send; a rebuild within hours does not", async () => {
    await consent("sf-weekly-2", { frequency: "weekly" });
    expect(await record("daily-deals", ["sf-weekly-2"])).toMatchObject({ recorded: 1 });
    expect(await checked(["sf-weekly-2"], "daily-deals")).toEqual({});
    // the next day, the same campaign's next issue
    await runInDurableObject(readerStub(env, "sf-weekly-2"), (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec(
        "UPDATE campaign_sends SET sent_at = sent_at - 86400, issued_at = issued_at - 86400 WHERE user = ?",
        "sf-weekly-2",
      );
    });
    expect(await checked(["sf-weekly-2"], "daily-deals")).toEqual({ "sf-weekly-2": "frequency" });
    expect(await record("daily-deals", ["sf-weekly-2"])).toMatchObject({
      recorded: 0,
      held: [{ user: "sf-weekly-2", reason: "frequency" }],
    });
  });

  it("a rebuild late in the day is the morning's issue, and counts from its own time: for the next issue and a trigger", async () => {
    await consent("sf-weekly-3", { frequency: "weekly" });
    await consent("sf-daily-3", { frequency: "daily" });
    const users = ["sf-weekly-3", "sf-daily-3"];
    const times = (user: string) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state: DurableObjectState) =>
        state.storage.sql
          .exec<{ sent: number; issued: number }>(
            "SELECT sent_at AS sent, issued_at AS issued FROM campaign_sends WHERE user = ?",
            user,
          )
          .one(),
      );
    /** Moves every time held of the readers `s` seconds into the past, as time passing would. */
    const shift = async (s: number) => {
      for (const user of users) {
        await runInDurableObject(readerStub(env, user), (_: ReaderShard, state: DurableObjectState) => {
          state.storage.sql.exec(
            "UPDATE campaign_sends SET sent_at = sent_at - ?, issued_at = issued_at - ? WHERE user = ?",
            s,
            s,
            user,
          );
        });
      }
    };
    // sent at 08:00; the template fixed and the campaign rebuilt at 20:00 (12 hours on): the same issue, sent again
    expect(await record("daily-deals-3", users)).toMatchObject({ recorded: 2 });
    await shift(12 * 3600);
    const morning = await times("sf-daily-3");
    expect(await checked(users, "daily-deals-3")).toEqual({});
    expect(await record("daily-deals-3", users)).toMatchObject({ recorded: 2, held: [] });
    const evening = await times("sf-daily-3");
    expect(evening.issued).toBe(morning.issued);
    expect(evening.sent).toBeGreaterThanOrEqual(morning.sent + 12 * 3600);
    // the next morning, 12 hours after the rebuild: a trigger's frequency counts the rebuild, as the mail it was
    await shift(13 * 3600);
    const lastSend = await runInDurableObject(readerStub(env, "sf-daily-3"), (_: ReaderShard, state) =>
      lastCampaignSend(state.storage.sql, "sf-daily-3"),
    );
    expect(lastSend).toBe(evening.sent - 13 * 3600);
    // and the next issue, a day after the first build: both readers held back, the daily one by the evening's send
    expect(await checked(users, "daily-deals-3")).toEqual({ "sf-weekly-3": "frequency", "sf-daily-3": "frequency" });
    expect(await record("daily-deals-3", users)).toMatchObject({ recorded: 0 });
    // a day after the rebuild, the daily reader gets the next issue; the weekly one waits for the week
    await shift(11 * 3600);
    expect(await checked(users, "daily-deals-3")).toEqual({ "sf-weekly-3": "frequency" });
  });

  it("a campaign built at a fixed hour each day reaches a daily reader each day: its check comes before the last one's record", async () => {
    await consent("sf-daily", { frequency: "daily" });
    expect(await record("sf-morning", ["sf-daily"])).toMatchObject({ recorded: 1, held: [] });
    // the next morning's build checks 30 s short of a day after yesterday's recording
    await runInDurableObject(readerStub(env, "sf-daily"), (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec(
        "UPDATE campaign_sends SET sent_at = sent_at - 86370, issued_at = issued_at - 86370 WHERE user = ?",
        "sf-daily",
      );
    });
    expect(await checked(["sf-daily"], "sf-morning")).toEqual({});
    expect(await record("sf-morning", ["sf-daily"])).toMatchObject({ recorded: 1, held: [] });
    // a second campaign the same day is still held back
    expect(await checked(["sf-daily"], "sf-evening")).toEqual({ "sf-daily": "frequency" });
  });

  it("a reader erased between the check and the recording is held back, as erased", async () => {
    await consent("sf-gone", { personalization: true });
    expect(await checked(["sf-gone"], "sf-D")).toEqual({});
    expect((await send("/v1/users/sf-gone", { method: "DELETE", headers: ADMIN }, env)).status).toBe(200);
    expect(await record("sf-D", ["sf-gone"])).toMatchObject({
      recorded: 0,
      held: [{ user: "sf-gone", reason: "erased" }],
    });
  });

  it("takes a batch of 500 ids of 128 characters in any script (3 bytes each in UTF-8)", async () => {
    const users = Array.from({ length: 500 }, (_, i) => `${String(i).padStart(3, "0")}${"\u3042".repeat(125)}`);
    const check = await post("/v1/admin/suppressions", { users, campaign: "sf-big" });
    expect(check.status, (await check.clone().text()).slice(0, 200)).toBe(200);
    const sends = await post("/v1/admin/sends", { users, campaign: "sf-big" });
    expect(sends.status, (await sends.clone().text()).slice(0, 200)).toBe(200);
    expect(((await sends.json()) as { recorded: number }).recorded).toBe(500);
  });

  it("takes the same batch with every character escaped, as Python's json.dumps writes it (6 bytes each)", async () => {
    const users = Array.from({ length: 500 }, (_, i) => `${String(i).padStart(3, "0")}${"\u3042".repeat(125)}`);
    const body = asciiJson({ users, campaign: "sf-escaped" });
    expect(body).toContain("\\u3042");
    for (const path of ["/v1/admin/suppressions", "/v1/admin/sends"]) {
      const res = await send(path, { method: "POST", headers: ADMIN, body }, env);
      expect(res.status, `${path}: ${(await res.clone().text()).slice(0, 200)}`).toBe(200);
    }
  });
});

/** JSON with every character past ASCII written `\uXXXX`, as Python's `json.dumps` (ensure_ascii) writes it. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

describe("a campaign_sends table of an earlier version", () => {
  it("gains each row's issue, begun at its send; a rebuild then moves the send and keeps the issue", async () => {
    // an object of its own, which no reader is routed to
    const readers = env.READERS as DurableObjectNamespace<ReaderShard>;
    const stub = readers.get(readers.idFromName("campaign-sends-migration"));
    const rows = await runInDurableObject(stub, (_, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE campaign_sends");
      sql.exec(`CREATE TABLE campaign_sends (
        user TEXT NOT NULL, campaign TEXT NOT NULL, sent_at INTEGER NOT NULL,
        PRIMARY KEY (user, campaign)) WITHOUT ROWID`);
      sql.exec("INSERT INTO campaign_sends (user, campaign, sent_at) VALUES ('old-reader', 'nl', 1000)");
      migrateCampaignSends(sql);
      migrateCampaignSends(sql);
      recordCampaignSend(sql, "old-reader", "nl", 1000 + 3600);
      return sql.exec("SELECT user, campaign, sent_at, issued_at FROM campaign_sends").toArray();
    });
    expect(rows).toEqual([{ user: "old-reader", campaign: "nl", sent_at: 4600, issued_at: 1000 }]);
  });
});
