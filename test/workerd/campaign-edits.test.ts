/**
 * Campaign edits through their one writer (worker/state/campaign-writer.ts): two creations of one id sent at once
 * give one 201 and one 409; a create retried with the campaign it stored (its answer lost, or a 503 whose write
 * landed) is answered 201 again and writes nothing; an edit with an out-of-date `If-Match` is refused (412) and the other edit stays; the
 * writer reads its own writes over an older KV, and KV again once they are old enough to have propagated; without
 * its binding the same rules hold, unserialized.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { saveCampaign } from "../../worker/campaigns/campaign-edits";
import type { Bindings } from "../../worker/env";
import { ApiError } from "../../worker/errors";
import { objectEnv } from "../../worker/lib/bounded-env";
import { type CampaignWriter, OWN_WRITES_MS } from "../../worker/state/campaign-writer";
import { faultyKv, perKeyLimitedKv } from "./support/faulty-bindings";
import { ADMIN_HEADERS, clearKv, send } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

const PICKS = { id: "picks", type: "recommendations" };
const body = (title: string) => ({
  v: 2,
  blocks: [
    {
      id: "sale",
      type: "static",
      title,
      image: "https://shop.example/s.png",
      url: "https://shop.example/",
      when: { country: { $eq: "DE" } },
    },
  ],
  default: PICKS,
});

const create = (id: string, title: string) =>
  send("/v1/admin/campaigns", {
    method: "POST",
    headers: ADMIN_HEADERS,
    body: JSON.stringify({ id, campaign: body(title) }),
  });
const put = (id: string, title: string, ifMatch?: string, more: Record<string, string> = {}) =>
  send(`/v1/admin/campaigns/${id}`, {
    method: "PUT",
    headers: { ...ADMIN_HEADERS, ...(ifMatch !== undefined && { "If-Match": ifMatch }), ...more },
    body: JSON.stringify(body(title)),
  });
const get = async (id: string) => {
  const res = await send(`/v1/admin/campaigns/${id}`, { headers: ADMIN_HEADERS });
  const json = (await res.json()) as { stored: boolean; campaign: { blocks: { title: string }[] } };
  return { etag: res.headers.get("ETag"), stored: json.stored, title: json.campaign.blocks[0]?.title ?? null };
};
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

const writers = env.CAMPAIGN_WRITER as NonNullable<Bindings["CAMPAIGN_WRITER"]>;
const writer = () => writers.get(writers.idFromName("campaigns"));

/** `act` run while the campaigns' writer uses `make(its bindings)` instead of its own; they are put back after. */
const withWriterEnv = <T>(make: (real: Bindings) => Bindings, act: () => Promise<T>) =>
  withObjectEnv(writer(), make, act);

/** `real` whose puts reach it `delayMs` late (a slow KV write), with the keys of those that did, in order. */
function slowPuts(real: KVNamespace, delayMs: number): { kv: KVNamespace; landed: string[] } {
  const landed: string[] = [];
  const kv = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop !== "put") return value.bind(target);
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, delayMs));
        await (value as (...a: unknown[]) => Promise<void>).apply(target, args);
        landed.push(String(args[0]));
      };
    },
  });
  return { kv, landed };
}

beforeEach(async () => {
  await clearKv();
});

describe("campaign edits", () => {
  it("says a field left out is required (not 'Invalid input ... received undefined'), naming its path", async () => {
    const { when: _, ...noWhen } = body("Sale").blocks[0] as Record<string, unknown>;
    const { title: __, ...noTitle } = body("Sale").blocks[0] as Record<string, unknown>;
    const res = await send("/v1/admin/campaigns/spring", {
      method: "PUT",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ v: 2, blocks: [noWhen, noTitle], default: PICKS }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "blocks[0].when: required, but missing (expected object); blocks[1].title: required, but missing (expected string)",
    );
  });

  it("gives one of two creations of one id sent at once its 201 and the other 409", async () => {
    const answers = await Promise.all([create("spring", "A"), create("spring", "B")]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    const won = answers.find((r) => r.status === 201) as Response;
    const lost = answers.find((r) => r.status === 409) as Response;
    expect(await codeOf(lost)).toBe("CAMPAIGN_EXISTS");
    const { campaign } = (await won.json()) as { campaign: { blocks: { title: string }[] } };
    // the campaign stored is the one whose creation was answered 201, with the tag that answer gave
    const stored = await get("spring");
    expect(stored.title).toBe(campaign.blocks[0]?.title);
    expect(stored.etag).toBe(won.headers.get("ETag"));
  });

  it("answers a create retried with the campaign it stored as the first was answered, writing nothing again", async () => {
    const kv = faultyKv(env.OPENTIME_KV);
    await withWriterEnv(
      (real) => ({ ...real, OPENTIME_KV: kv.kv }),
      async () => {
        const first = await create("spring", "A");
        expect(first.status).toBe(201);
        const answer = await first.json();
        expect(answer).toMatchObject({ id: "spring", unchanged: false });
        // its answer lost: the client sends the very same create again
        const again = await create("spring", "A");
        expect(again.status).toBe(201);
        expect(again.headers.get("ETag")).toBe(first.headers.get("ETag"));
        expect(await again.json()).toEqual({ ...(answer as object), unchanged: true });
        // the same campaign as stored, in other bytes (keys in another order, spaces): the same create
        const { v, blocks, default: dflt } = body("A");
        const reordered = await send("/v1/admin/campaigns", {
          method: "POST",
          headers: ADMIN_HEADERS,
          body: JSON.stringify({ campaign: { default: dflt, blocks, v }, id: "spring" }, null, 2),
        });
        expect(reordered.status).toBe(201);
        expect(((await reordered.json()) as { unchanged: boolean }).unchanged).toBe(true);
        // another campaign for the taken id is still refused, and the first stays
        const other = await create("spring", "B");
        expect(other.status).toBe(409);
        expect(await codeOf(other)).toBe("CAMPAIGN_EXISTS");
        expect(kv.writes).toEqual([kvKeys.campaign("spring")]);
      },
    );
    expect(await get("spring")).toMatchObject({ stored: true, title: "A" });
    // stored by another writer in other bytes (npm start's demo): compared as this Worker stores it, answered with
    // the tag of what is stored (the one a GET gives)
    await env.OPENTIME_KV.put(kvKeys.campaign("winter"), JSON.stringify(body("W"), null, 2));
    const theirs = await create("winter", "W");
    expect(theirs.status).toBe(201);
    expect(((await theirs.json()) as { unchanged: boolean }).unchanged).toBe(true);
    expect(theirs.headers.get("ETag")).toBe((await get("winter")).etag);
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("winter"))).toBe(JSON.stringify(body("W"), null, 2));
  });

  it("a create whose write KV did not confirm in time, and that landed, is answered 201 when retried", async () => {
    // the writer's own bindings (ordered writes) with a 50 ms write deadline, over a KV whose puts take 300 ms
    const slow = slowPuts(env.OPENTIME_KV, 300);
    await withWriterEnv(
      (real) => objectEnv({ ...real, OPENTIME_KV: slow.kv }, { readMs: 1_000, modelReadMs: 1_000, writeMs: 50 }),
      async () => {
        const first = await create("spring", "A");
        expect(first.status).toBe(503);
        expect(await codeOf(first)).toBe("KV_UNAVAILABLE");
        // the write given up on lands later (300 ms on; called lost after 15 s, for a loaded machine)
        const start = Date.now();
        while (slow.landed.length === 0 && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 50));
        expect(slow.landed).toEqual([kvKeys.campaign("spring")]);
        const retried = await create("spring", "A");
        expect(retried.status).toBe(201);
        expect(((await retried.json()) as { unchanged: boolean }).unchanged).toBe(true);
        expect(retried.headers.get("ETag")).toBe((await get("spring")).etag);
        // another campaign for the id is refused all the same
        expect(await codeOf(await create("spring", "B"))).toBe("CAMPAIGN_EXISTS");
        expect(slow.landed).toEqual([kvKeys.campaign("spring")]);
      },
    );
    expect(await get("spring")).toMatchObject({ stored: true, title: "A" });
  });

  it("writes a campaign edited twice within a second once a second, as KV takes a key's writes (no 429, no 503)", async () => {
    // KV as Cloudflare's: a second write of a key within a second of the last is refused with 429
    const { kv: limited, refused } = perKeyLimitedKv(env.OPENTIME_KV);
    await withWriterEnv(
      (real) => objectEnv({ ...real, OPENTIME_KV: limited }),
      async () => {
        const first = await create("flash", "A");
        expect(first.status).toBe(201);
        const second = await put("flash", "B", first.headers.get("ETag") as string);
        expect(second.status).toBe(200);
        // another campaign is not held back
        expect((await create("other", "A")).status).toBe(201);
      },
    );
    expect(refused).toEqual([]);
    expect(await get("flash")).toMatchObject({ stored: true, title: "B" });
  });

  it("refuses an edit whose If-Match is out of date, and keeps the edit that landed", async () => {
    expect((await put("spring", "A")).status).toBe(200);
    const read = await get("spring");
    expect(read.etag).toMatch(/^"[0-9a-f]{32}"$/);
    // two editors read the same campaign; the first saves
    const first = await put("spring", "B", read.etag as string);
    expect(first.status).toBe(200);
    const next = first.headers.get("ETag");
    expect(next).not.toBe(read.etag);
    // the second saves from what it read: refused, the first's edit stays
    const second = await put("spring", "C", read.etag as string);
    expect(second.status).toBe(412);
    expect(await codeOf(second)).toBe("CAMPAIGN_CHANGED");
    expect(await get("spring")).toMatchObject({ title: "B", etag: next });
    // with the tag it reads now (one of a list), it saves
    expect((await put("spring", "C", `"0123", ${next}`)).status).toBe(200);
    expect((await get("spring")).title).toBe("C");
    // `*`: any stored campaign, so not one that is not there; a malformed header is a 400
    expect((await put("summer", "A", "*")).status).toBe(412);
    expect((await get("summer")).stored).toBe(false);
    expect((await put("spring", "D", "*")).status).toBe(200);
    const now = (await get("spring")).etag as string;
    const malformed = await put("spring", "E", "abc");
    expect(malformed.status).toBe(400);
    expect(await codeOf(malformed)).toBe("BAD_REQUEST");
    expect((await get("spring")).title).toBe("D");
    // our tag as Cloudflare hands it on when it compresses the answer (weakened, `W/"..."`) is still ours: it
    // passes while it is the stored one's, and is refused once another edit landed
    expect((await put("spring", "D1", `W/${now}`)).status).toBe(200);
    expect((await put("spring", "D2", `W/${now}`)).status).toBe(412);
    // an empty list element is ignored (RFC 9110 5.6.1.2)
    const then = (await get("spring")).etag as string;
    expect((await put("spring", "D2", `${then}, `)).status).toBe(200);
  });

  it("If-None-Match: * writes only where none is stored; a retried edit that landed is not refused by itself", async () => {
    const fresh = await put("autumn", "A", undefined, { "If-None-Match": "*" });
    expect(fresh.status).toBe(200);
    expect(((await fresh.json()) as { created: boolean }).created).toBe(true);
    const again = await put("autumn", "B", undefined, { "If-None-Match": "*" });
    expect(again.status).toBe(412);
    expect(await codeOf(again)).toBe("CAMPAIGN_CHANGED");
    expect((await get("autumn")).title).toBe("A");
    expect((await put("autumn", "B", undefined, { "If-None-Match": '"x"' })).status).toBe(400);
    // an edit whose answer was lost, sent again with the tag it was read with: what it asks is what is stored
    const read = (await get("autumn")).etag as string;
    const edit = await put("autumn", "C", read);
    expect(edit.status).toBe(200);
    expect(((await edit.json()) as { unchanged: boolean }).unchanged).toBe(false);
    const retried = await put("autumn", "C", read);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("ETag")).toBe(edit.headers.get("ETag"));
    expect(((await retried.json()) as { unchanged: boolean }).unchanged).toBe(true);
    // but another edit from the old tag is still refused
    expect(await codeOf(await put("autumn", "D", read))).toBe("CAMPAIGN_CHANGED");
    // stored by another writer in other bytes (npm start's demo): a PUT of that campaign, even from an old tag, is
    // what is stored: answered with its tag, the stored bytes left as they are
    await env.OPENTIME_KV.put(kvKeys.campaign("winter"), JSON.stringify(body("W"), null, 2));
    const same = await put("winter", "W", read);
    expect(same.status).toBe(200);
    expect(((await same.json()) as { unchanged: boolean }).unchanged).toBe(true);
    expect(same.headers.get("ETag")).toBe((await get("winter")).etag);
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("winter"))).toBe(JSON.stringify(body("W"), null, 2));
  });

  it("reads its own writes over an older KV, and KV once they are old enough to have propagated", async () => {
    expect((await create("spring", "A")).status).toBe(201);
    // KV at the writer's location may not show the write yet for up to a minute
    await env.OPENTIME_KV.delete(kvKeys.campaign("spring"));
    expect(await codeOf(await create("spring", "B"))).toBe("CAMPAIGN_EXISTS");
    expect(await get("spring")).toMatchObject({ stored: true, title: "A" });
    // past OWN_WRITES_MS KV is read again: a campaign written there by another writer (npm start's demo) shows
    await runInDurableObject(writer(), (_: CampaignWriter, state) => {
      state.storage.sql.exec("UPDATE recent SET at = at - ?", OWN_WRITES_MS + 1000);
    });
    await env.OPENTIME_KV.put(kvKeys.campaign("spring"), JSON.stringify(body("Z")));
    expect((await get("spring")).title).toBe("Z");
  });

  it("holds the same rules without the writer's binding (a wrangler.toml from before it)", async () => {
    const bare = { ...env, CAMPAIGN_WRITER: undefined } as Bindings;
    const campaign = { v: 2 as const, policy: "freeze" as const, blocks: [], default: { id: "default" } };
    const made = await saveCampaign(bare, "bare", campaign as never, "create", null);
    expect(made).toMatchObject({ created: true, written: true });
    // the same create again: what is stored, nothing written; another campaign for the id: refused
    expect(await saveCampaign(bare, "bare", campaign as never, "create", null)).toEqual({
      created: false,
      etag: made.etag,
      written: false,
    });
    const edited = { ...campaign, policy: "live" as const };
    await expect(saveCampaign(bare, "bare", edited as never, "create", null)).rejects.toMatchObject({
      code: "CAMPAIGN_EXISTS",
    });
    await expect(saveCampaign(bare, "bare", edited as never, "replace", ['"other"'])).rejects.toMatchObject({
      code: "CAMPAIGN_CHANGED",
    });
    expect((await saveCampaign(bare, "bare", edited as never, "replace", [made.etag])).created).toBe(false);
  });

  it("answers 503 KV_UNAVAILABLE with Retry-After when KV fails, and writes nothing", async () => {
    const failing = faultyKv(env.OPENTIME_KV, [{ ops: ["get", "put"], mode: "rate-limited" }]).kv;
    const bare = { ...env, CAMPAIGN_WRITER: undefined, OPENTIME_KV: failing } as Bindings;
    const campaign = { v: 2 as const, policy: "freeze" as const, blocks: [], default: { id: "default" } };
    const refused = saveCampaign(bare, "down", campaign as never, "create", null);
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ code: "KV_UNAVAILABLE", headers: { "Retry-After": "1" } });
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("down"))).toBeNull();
  });

  it("a failure in our own code is a 500, not a 503 to retry for ever; the writer unreachable is STATE_UNAVAILABLE", async () => {
    // KV refusing what we asked (an error not KV's passing one), without the writer and through it
    const refusing = faultyKv(env.OPENTIME_KV, [{ ops: ["get", "put"], mode: "throw" }]).kv;
    const campaign = { v: 2 as const, policy: "freeze" as const, blocks: [], default: { id: "default" } };
    const bare = { ...env, CAMPAIGN_WRITER: undefined, OPENTIME_KV: refusing } as Bindings;
    await expect(saveCampaign(bare, "bug", campaign as never, "create", null)).rejects.not.toBeInstanceOf(ApiError);
    // the editors' read, through a writer that fails: in our code, or in Cloudflare's (the runtime marks it)
    const failingWriter = (err: Error) =>
      ({
        idFromName: () => ({}),
        get: () => ({
          read: async () => {
            throw err;
          },
        }),
      }) as unknown as Bindings["CAMPAIGN_WRITER"];
    const unreachable = Object.assign(new Error("Network connection lost."), { retryable: true });
    const answers: [Error, number, string | null][] = [
      [new TypeError("Cannot read properties of undefined"), 500, "INTERNAL"],
      [unreachable, 503, "STATE_UNAVAILABLE"],
      [new Error("KV GET failed: 503 Service Unavailable"), 503, "KV_UNAVAILABLE"],
    ];
    for (const [err, status, code] of answers) {
      const res = await send("/v1/admin/campaigns/spring", { headers: ADMIN_HEADERS }, {
        ...env,
        CAMPAIGN_WRITER: failingWriter(err),
      } as typeof env);
      expect(res.status, err.message).toBe(status);
      expect(await codeOf(res), err.message).toBe(code);
      if (status === 503) expect(res.headers.get("Retry-After")).toBe("1");
    }
  });
});
