/**
 * Model moves through their one writer (worker/state/model-mover.ts): activations sent at once land one after
 * the other, a move reads the object's own last writes over an older KV, a later move by a CLI is adopted, a
 * CLI's move with `--url` (scripts/lib/worker-admin.ts) is made by the same writer, as is a version's deletion (never
 * both it and an activation of that version), and the admin API's listing (`npm run models -- list --url`) shows that
 * writer's state with every version's check.
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/base64";
import { kvKeys } from "../../core/kv-keys";
import type { ActivePointer, ModelHistory } from "../../core/manifest";
import { listVersions, ModelsError } from "../../core/model-versions";
import { checkAdminAccess, deleteViaWorker, listViaWorker, moveViaWorker } from "../../scripts/lib/worker-admin";
import { workerUrl } from "../../scripts/lib/worker-url";
import type { Bindings } from "../../worker/env";
import { objectEnv } from "../../worker/lib/bounded-env";
import { bindingKvClient } from "../../worker/model/binding-kv-client";
import { TEST_ADMIN_KEY } from "./fixture";
import { perKeyLimitedKv } from "./support/faulty-bindings";
import { ADMIN_HEADERS, clearKv, clearModelMover, fixture, seedModel, send, storeVersionCopy } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

interface MoveBody {
  previous: ActivePointer | null;
  pointer: ActivePointer;
  unchanged: boolean;
}

const activate = async (version: string) => {
  const res = await send("/v1/admin/models/activate", {
    method: "POST",
    headers: ADMIN_HEADERS,
    body: JSON.stringify({ version }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as MoveBody;
};
const rollback = async () => {
  const res = await send("/v1/admin/models/rollback", { method: "POST", headers: ADMIN_HEADERS });
  expect(res.status).toBe(200);
  return (await res.json()) as MoveBody;
};
const stored = async () => ({
  pointer: (await env.OPENTIME_KV.get(kvKeys.activeModel, "json")) as ActivePointer,
  history: ((await env.OPENTIME_KV.get(kvKeys.modelHistory, "json")) ?? []) as ModelHistory,
});

const movers = env.MODEL_MOVER as NonNullable<Bindings["MODEL_MOVER"]>;

beforeEach(async () => {
  await clearKv();
  await clearModelMover();
  await seedModel();
});

describe("model moves", () => {
  it("lands two activations sent at once one after the other: the second moves from the first", async () => {
    const base = fixture().version;
    const [a, b] = [await storeVersionCopy("a"), await storeVersionCopy("b")];
    const moves = await Promise.all([activate(a), activate(b)]);
    // one moved from the fixture's version, the other from the first's pointer (not both from the fixture's)
    const first = moves.find((m) => m.previous?.version === base) as MoveBody;
    const second = moves.find((m) => m !== first) as MoveBody;
    expect(second.previous?.version).toBe(first.pointer.version);
    const { pointer, history } = await stored();
    expect(pointer.version).toBe(second.pointer.version);
    expect(history.map((h) => h.version)).toEqual([base, first.pointer.version]);
    // and a rollback returns to the version the last move replaced
    expect((await rollback()).pointer.version).toBe(first.pointer.version);
  });

  it("makes a rollback sent just after an activation, as KV takes a key's writes (one a second), not a 503", async () => {
    const base = fixture().version;
    const a = await storeVersionCopy("a");
    const limited = perKeyLimitedKv(env.OPENTIME_KV);
    await withObjectEnv(
      movers.get(movers.idFromName("models")),
      (real) => objectEnv({ ...real, OPENTIME_KV: limited.kv }),
      async () => {
        expect((await activate(a)).pointer.version).toBe(a);
        expect((await rollback()).pointer.version).toBe(base);
      },
    );
    expect(limited.refused).toEqual([]);
    expect((await stored()).pointer.version).toBe(base);
  });

  it("moves from its own last writes when KV still shows an older state", async () => {
    const base = fixture().version;
    const [a, b] = [await storeVersionCopy("a"), await storeVersionCopy("b")];
    await activate(a);
    await activate(b);
    // KV as a location's cache may still answer for a minute: the state before the two moves
    const older = await env.OPENTIME_KV.get(kvKeys.activeModel);
    await env.OPENTIME_KV.put(
      kvKeys.activeModel,
      JSON.stringify({ version: base, activatedAt: new Date(Date.now() - 60_000).toISOString() }),
    );
    await env.OPENTIME_KV.delete(kvKeys.modelHistory);
    expect(older).toContain(b);
    // from b, back to a (the object's own history), not "no earlier version" (KV's stale one)
    const back = await rollback();
    expect(back.previous?.version).toBe(b);
    expect(back.pointer.version).toBe(a);
    expect((await stored()).history.map((h) => h.version)).toEqual([base]);
  });

  it("adopts a later move made outside the Worker (npm run seed, npm run models)", async () => {
    const base = fixture().version;
    const [a, c] = [await storeVersionCopy("a"), await storeVersionCopy("c")];
    await activate(a);
    // a CLI activates c over a, recording a in the history, after the object's last move
    await env.OPENTIME_KV.put(
      kvKeys.modelHistory,
      JSON.stringify([
        { version: base, activatedAt: "2026-01-01T00:00:00.000Z" },
        { version: a, activatedAt: "2026-01-02T00:00:00.000Z" },
      ]),
    );
    await env.OPENTIME_KV.put(
      kvKeys.activeModel,
      JSON.stringify({ version: c, activatedAt: new Date(Date.now() + 1000).toISOString() }),
    );
    const back = await rollback();
    expect(back.previous?.version).toBe(c);
    expect(back.pointer.version).toBe(a);
    expect((await stored()).history.map((h) => h.version)).toEqual([base]);
  });

  describe("from a CLI with --url", () => {
    const WORKER = "https://opentime.test";
    // the CLI's fetch, answered by this Worker
    const viaWorker: typeof fetch = (input, init) => {
      const url = new URL(String(input));
      return send(url.pathname + url.search, init);
    };

    it("is made by the one writer: with the admin API's move at the same moment, the later moves from the earlier", async () => {
      const base = fixture().version;
      const [a, b] = [await storeVersionCopy("a"), await storeVersionCopy("b")];
      const [cli, api] = await Promise.all([
        moveViaWorker(WORKER, TEST_ADMIN_KEY, { kind: "activate", version: a }, viaWorker),
        activate(b),
      ]);
      const [first, second] = cli.previous?.version === base ? [cli, api] : [api, cli];
      expect(first.previous?.version).toBe(base);
      expect(second.previous?.version).toBe(first.pointer.version);
      expect((await stored()).history.map((h) => h.version)).toEqual([base, first.pointer.version]);
      const back = await moveViaWorker(WORKER, TEST_ADMIN_KEY, { kind: "rollback" }, viaWorker);
      expect(back.pointer.version).toBe(first.pointer.version);
    });

    it("reports a refusal as the local move does, and a wrong key as such; the pointer stays", async () => {
      const base = fixture().version;
      const refused = moveViaWorker(WORKER, TEST_ADMIN_KEY, { kind: "activate", version: "not-stored" }, viaWorker);
      await expect(refused).rejects.toBeInstanceOf(ModelsError);
      await expect(refused).rejects.toThrow(/not-stored is not stored/);
      const a = await storeVersionCopy("a");
      await expect(moveViaWorker(WORKER, "wrong-key", { kind: "activate", version: a }, viaWorker)).rejects.toThrow(
        /refused the admin key \(401/,
      );
      // a URL that answers something else than a move
      const notTheApi: typeof fetch = async () => new Response("<html>hello</html>", { status: 200 });
      await expect(moveViaWorker(WORKER, TEST_ADMIN_KEY, { kind: "rollback" }, notTheApi)).rejects.toThrow(
        /no model move/,
      );
      expect((await stored()).pointer.version).toBe(base);
    });

    it("deletes a version nothing serves, in the one writer: never both it and an activation of it at once", async () => {
      const base = fixture().version;
      const [old, raced] = [await storeVersionCopy("old"), await storeVersionCopy("raced")];
      // the pointer moved an hour ago: past the settling time
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      await env.OPENTIME_KV.put(kvKeys.activeModel, JSON.stringify({ version: base, activatedAt: hourAgo }));
      const deleteOf = (version: string) => deleteViaWorker(WORKER, TEST_ADMIN_KEY, version, viaWorker);
      // a campaign scoring with it holds it
      await env.OPENTIME_KV.put(
        kvKeys.campaign("spring"),
        JSON.stringify({ v: 2, default: { id: "picks", type: "recommendations" }, model: old }),
      );
      await expect(deleteOf(old)).rejects.toThrow(`${old} is named by spring`);
      await env.OPENTIME_KV.delete(kvKeys.campaign("spring"));
      expect(await deleteOf(old)).toEqual({
        version: old,
        deleted: [kvKeys.catalog(old), kvKeys.onnx(old), kvKeys.manifest(old)],
      });
      expect((await env.OPENTIME_KV.list({ prefix: `model:${old}:` })).keys).toEqual([]);
      await expect(deleteOf(base)).rejects.toThrow(`${base} is the active version`);
      // sent with an activation of it: one of the two lands, the other is refused; an activated version keeps its keys
      const [moved, deleted] = await Promise.all([
        send("/v1/admin/models/activate", {
          method: "POST",
          headers: ADMIN_HEADERS,
          body: JSON.stringify({ version: raced }),
        }),
        send(`/v1/admin/models/${raced}`, { method: "DELETE", headers: ADMIN_HEADERS }),
      ]);
      expect([moved.status, deleted.status].sort()).toEqual([200, 409]);
      const pointer = (await stored()).pointer.version;
      if (moved.status === 200) {
        expect(pointer).toBe(raced);
        expect(((await deleted.json()) as { error: { message: string } }).error.message).toMatch(
          "is the active version",
        );
        expect((await env.OPENTIME_KV.list({ prefix: `model:${raced}:` })).keys).toHaveLength(3);
      } else {
        expect(pointer).toBe(base);
        expect((await env.OPENTIME_KV.list({ prefix: `model:${raced}:` })).keys).toEqual([]);
      }
      // a version rolled back from is in no history, but for 5 minutes opens elsewhere may still read it as active
      const other = await storeVersionCopy("other");
      await activate(other);
      await rollback();
      await expect(deleteOf(other)).rejects.toThrow("less than 5 minutes ago");
      expect((await env.OPENTIME_KV.list({ prefix: `model:${other}:` })).keys).toHaveLength(3);
      await expect(deleteOf("not a version")).rejects.toThrow(/answered 400/);
    });

    it("lists every version with its check and the writer's own state, even where KV is older", async () => {
      const base = fixture().version;
      const a = await storeVersionCopy("a");
      // a version whose ONNX bytes were damaged after its manifest was written: listed, with the Worker's refusal
      const broken = await storeVersionCopy("broken");
      await env.OPENTIME_KV.put(kvKeys.onnx(broken), new Uint8Array([1, 2, 3]));
      await moveViaWorker(WORKER, TEST_ADMIN_KEY, { kind: "activate", version: a }, viaWorker);
      // KV as a location's cache may still answer with the state before the move
      await env.OPENTIME_KV.put(
        kvKeys.activeModel,
        JSON.stringify({ version: base, activatedAt: new Date(Date.now() - 60_000).toISOString() }),
      );
      await env.OPENTIME_KV.delete(kvKeys.modelHistory);
      const listing = await listViaWorker(WORKER, TEST_ADMIN_KEY, viaWorker);
      expect(listing.active?.version).toBe(a);
      expect(listing.history.map((h) => h.version)).toEqual([base]);
      expect(listing.versions.map((v) => v.version).sort()).toEqual([a, base, broken].sort());
      const byName = new Map(listing.versions.map((v) => [v.version, v]));
      expect(byName.get(a)).toMatchObject({ check: "ok", active: true, items: expect.any(Number) });
      expect(byName.get(base)).toMatchObject({ check: "ok", active: false });
      expect(byName.get(broken)).toMatchObject({ check: "model-corrupt", active: false });
      // the same checks as the CLI's own listing over KV (which shows KV's older pointer)
      const local = await listVersions(bindingKvClient(env.OPENTIME_KV));
      expect(local.active?.version).toBe(base);
      expect(local.versions.map(({ active: _, ...v }) => v)).toEqual(listing.versions.map(({ active: _, ...v }) => v));
      await expect(listViaWorker(WORKER, "wrong-key", viaWorker)).rejects.toThrow(/refused the admin key \(401/);
      const notTheApi: typeof fetch = async () => new Response("{}", { status: 200 });
      await expect(listViaWorker(WORKER, TEST_ADMIN_KEY, notTheApi)).rejects.toThrow(/no model listing/);
    });

    it("pages the listing newest first, by the time each manifest key carries; a bad limit or cursor is a 400", async () => {
      const f = fixture();
      const paged: string[] = [];
      for (let i = 0; i < 5; i++) {
        const version = `${f.version}-p${i}`;
        const createdAt = new Date(Date.UTC(2030, 0, 1 + i)).toISOString();
        // as `npm run seed` stores one (scripts/seed/kv-entries.ts)
        await env.OPENTIME_KV.put(
          kvKeys.manifest(version),
          JSON.stringify({ ...JSON.parse(f.manifestJson), version, createdAt }),
          { metadata: { createdAt } },
        );
        await env.OPENTIME_KV.put(kvKeys.catalog(version), f.catalogJson);
        await env.OPENTIME_KV.put(kvKeys.onnx(version), base64ToBytes(f.onnxBase64));
        paged.unshift(version);
      }
      // the seeded base version has no metadata (an earlier release's): its manifest is read for its time, older
      const shown: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await listViaWorker(WORKER, TEST_ADMIN_KEY, viaWorker, { limit: 2, cursor });
        expect(page.versions.every((v) => v.check === "ok")).toBe(true);
        shown.push(page.versions.map((v) => v.version));
        cursor = page.cursor ?? undefined;
      } while (cursor);
      expect(shown).toEqual([paged.slice(0, 2), paged.slice(2, 4), [paged[4], f.version]]);
      for (const query of ["limit=0", "limit=51", "limit=x", "cursor=not-a-cursor"]) {
        const res = await send(`/v1/admin/models?${query}`, { headers: ADMIN_HEADERS });
        expect(res.status, query).toBe(400);
        expect(await res.json(), query).toMatchObject({ error: { code: "BAD_REQUEST" } });
      }
      // a client's first-page template (`?cursor=`) and no query at all: the first page, the default 20
      const first = await send("/v1/admin/models?cursor=", { headers: ADMIN_HEADERS });
      expect(((await first.json()) as { versions: unknown[] }).versions).toHaveLength(6);
    });

    it("checks the address and the key before a seed writes anything", async () => {
      await expect(checkAdminAccess(WORKER, TEST_ADMIN_KEY, viaWorker)).resolves.toBeUndefined();
      await expect(checkAdminAccess(WORKER, "wrong-key", viaWorker)).rejects.toThrow(/refused the admin key \(401/);
      const notTheApi: typeof fetch = async () => new Response("<html>hello</html>", { status: 200 });
      await expect(checkAdminAccess(WORKER, TEST_ADMIN_KEY, notTheApi)).rejects.toThrow(/not as an opentime Worker/);
      // the key never crosses a network in clear; a Worker on this machine may be plain http and take .dev.vars' key
      expect(() => workerUrl("http://shop.example")).toThrow(/https only/);
      expect(workerUrl("https://shop.example/some/path")).toEqual({ base: "https://shop.example", local: false });
      expect(workerUrl("http://127.0.0.1:8787")).toEqual({ base: "http://127.0.0.1:8787", local: true });
      expect(() => workerUrl("")).toThrow(/not a URL/);
    });
  });
});
