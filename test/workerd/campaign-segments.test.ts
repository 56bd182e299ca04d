/**
 * Campaign conditions naming a segment the model lacks (core/campaign-segments.ts), as the Worker answers them:
 * an activation or rollback (admin API, a CLI with --url, the dashboard's buttons) that loses a segment moves and
 * lists the conditions; a campaign saved with a name its model lacks (admin PUT and POST, the preview's editor)
 * is stored and its answer lists them; so is an experiment whose variants do (admin PUT), each variant checked
 * against the model its opens read.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/base64";
import type { MissingSegment } from "../../core/campaign-segments";
import { kvKeys } from "../../core/kv-keys";
import type { ModelManifest } from "../../core/manifest";
import { moveViaWorker } from "../../scripts/lib/worker-admin";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY } from "./fixture";
import {
  ADMIN_HEADERS,
  clearExperimentRegistry,
  clearKv,
  clearModelMover,
  fixture,
  putCampaign,
  seedModel,
  send,
} from "./support/harness";

const names = () => (JSON.parse(fixture().manifestJson) as ModelManifest).segments?.names ?? [];

/** Another stored version, the fixture's parts, its segment model naming `segments`. */
async function copyVersion(name: string, segments: string[]): Promise<string> {
  const f = fixture();
  const version = `${f.version}-${name}`;
  const m = JSON.parse(f.manifestJson) as ModelManifest;
  const manifest = {
    ...m,
    version,
    segments: { ...(m.segments as NonNullable<ModelManifest["segments"]>), names: segments },
  };
  await env.OPENTIME_KV.put(kvKeys.manifest(version), JSON.stringify(manifest));
  await env.OPENTIME_KV.put(kvKeys.catalog(version), f.catalogJson);
  await env.OPENTIME_KV.put(kvKeys.onnx(version), base64ToBytes(f.onnxBase64));
  return version;
}

const bySegment = (segment: string) => ({
  v: 2,
  blocks: [
    {
      id: "vip",
      type: "static",
      title: "VIP",
      image: "https://shop.example/vip.png",
      url: "https://shop.example/vip",
      when: { $and: [{ engagement: { $eq: "high" } }, { segment: { $in: [segment] } }] },
    },
  ],
  default: { id: "picks", type: "recommendations" },
  subjects: {
    rules: [{ id: "loyal", when: { segment: { $eq: segment } }, subject: "Thanks" }],
    default: { subject: "Hi" },
  },
});

interface MoveAnswer {
  pointer: { version: string };
  campaignSegmentsMissing: MissingSegment[];
  campaignsChecked: { campaigns: number; experiments: number; complete: boolean };
}
const move = async (path: "activate" | "rollback", version?: string) => {
  const res = await send(`/v1/admin/models/${path}`, {
    method: "POST",
    headers: ADMIN_HEADERS,
    ...(version && { body: JSON.stringify({ version }) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as MoveAnswer;
};
/** The dashboard's activate button (a 303 back to the dashboard): the message the page it leads to shows. */
async function dashboardActivate(version: string): Promise<string> {
  const local = "http://127.0.0.1:8787";
  const call = async (request: Request) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  const res = await call(
    new Request(`${local}/dashboard/models/activate`, {
      method: "POST",
      headers: { Origin: local, "Content-Type": "application/x-www-form-urlencoded" },
      body: `version=${encodeURIComponent(version)}`,
    }),
  );
  expect(res.status).toBe(303);
  const page = await (await call(new Request(new URL(res.headers.get("Location") as string, local)))).text();
  const shown = /<p data-testid="model-message"><b>([^<]*)<\/b>/.exec(page)?.[1] ?? "";
  return shown.replace(/&(quot|amp|lt|gt|#39|#x2F|#x3D|#x60);/g, (_, e: string) =>
    e === "quot"
      ? '"'
      : e === "amp"
        ? "&"
        : e === "lt"
          ? "<"
          : e === "gt"
            ? ">"
            : e === "#39"
              ? "'"
              : e === "#x2F"
                ? "/"
                : e === "#x3D"
                  ? "="
                  : "`",
  );
}
const lost = (m: { campaignSegmentsMissing: MissingSegment[] }) =>
  m.campaignSegmentsMissing.map((s) => `${s.campaign} ${s.path} ${s.op} ${s.segment}`);

beforeEach(async () => {
  await clearKv();
  await clearModelMover();
  await seedModel();
});

describe("a model move that loses a segment campaigns name", () => {
  it("moves, and its answer lists each condition naming it (admin API, rollback, CLI with --url)", async () => {
    const [kept, dropped] = names() as [string, string];
    expect(dropped).toBeDefined();
    expect((await putCampaign("spring", bySegment(dropped))).status).toBe(200);
    expect((await putCampaign("plain", bySegment(kept))).status).toBe(200);
    const without = await copyVersion(
      "without",
      names().filter((n) => n !== dropped),
    );
    const moved = await move("activate", without);
    expect(moved.pointer.version).toBe(without);
    expect(lost(moved)).toEqual([
      `spring blocks[0].when.$and[1].segment $in ${dropped}`,
      `spring subjects.rules[0].when.segment $eq ${dropped}`,
    ]);
    expect(moved.campaignsChecked).toEqual({ campaigns: 2, experiments: 0, complete: true });
    // back to a version that has it: nothing lost
    expect(lost(await move("rollback"))).toEqual([]);
    // a CLI with --url reads the same list from the answer
    const viaWorker: typeof fetch = (input, init) => send(new URL(String(input)).pathname, init);
    const cli = await moveViaWorker(
      "https://opentime.test",
      TEST_ADMIN_KEY,
      { kind: "activate", version: without },
      viaWorker,
    );
    expect(lost(cli)).toEqual(lost(moved));
    expect(cli.campaignsChecked?.complete).toBe(true);
  });

  it("says it in the dashboard's message too", async () => {
    const [, dropped] = names() as [string, string];
    await putCampaign("spring", bySegment(dropped));
    const without = await copyVersion(
      "without",
      names().filter((n) => n !== dropped),
    );
    const message = await dashboardActivate(without);
    expect(message).toContain(`Activated ${without}.`);
    expect(message).toContain(
      `WARNING: 2 campaign condition(s) name a segment this model lacks (spring: "${dropped}")`,
    );
  });

  it("cuts a long message between characters, never inside an emoji of a segment name", async () => {
    const without = await copyVersion("without", names());
    // one pad or none: the 300th unit falls on an emoji's first half in one of the two
    for (const pad of ["", "x"]) {
      await putCampaign("spring", bySegment(`${pad}${"😀".repeat(150)}`));
      const message = await dashboardActivate(without);
      expect(message).toContain("WARNING: 2 campaign condition(s)");
      expect(message.isWellFormed()).toBe(true);
    }
  });
});

describe("a campaign saved naming a segment its model lacks", () => {
  it("is stored, and the answer of the admin PUT and POST and the preview's save lists each condition", async () => {
    const [kept] = names() as [string];
    const slip = kept.slice(0, -1);
    const put = await putCampaign("spring", bySegment(slip));
    expect(put.status).toBe(200);
    const answer = (await put.json()) as { id: string; created: boolean; campaignSegmentsMissing: MissingSegment[] };
    expect(answer).toMatchObject({ id: "spring", created: true });
    expect(answer.campaignSegmentsMissing).toEqual([
      {
        campaign: "spring",
        experiment: null,
        path: "blocks[0].when.$and[1].segment",
        op: "$in",
        segment: slip,
        nearest: kept,
        noSegmentModel: false,
      },
      {
        campaign: "spring",
        experiment: null,
        path: "subjects.rules[0].when.segment",
        op: "$eq",
        segment: slip,
        nearest: kept,
        noSegmentModel: false,
      },
    ]);
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("spring"))).toContain(slip);
    // a name the model has: nothing to say
    const fixed = (await (await putCampaign("spring", bySegment(kept))).json()) as { campaignSegmentsMissing: [] };
    expect(fixed.campaignSegmentsMissing).toEqual([]);

    const created = await send("/v1/admin/campaigns", {
      method: "POST",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ id: "autumn", campaign: bySegment(slip) }),
    });
    expect(created.status).toBe(201);
    expect(lost((await created.json()) as MoveAnswer)).toHaveLength(2);

    const ctx = createExecutionContext();
    const preview = await worker.fetch(
      new Request("http://127.0.0.1:8787/v1/preview/campaigns/winter", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(bySegment(slip)),
      }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(preview.status).toBe(200);
    expect(lost((await preview.json()) as MoveAnswer)).toEqual([
      `winter blocks[0].when.$and[1].segment $in ${slip}`,
      `winter subjects.rules[0].when.segment $eq ${slip}`,
    ]);
  });

  it("is checked against the version it is pinned to, not the active one", async () => {
    const [kept] = names() as [string];
    const other = await copyVersion("other", ["Someone else"]);
    const res = await putCampaign("pinned", { ...bySegment(kept), model: other });
    expect(res.status).toBe(200);
    expect(lost((await res.json()) as MoveAnswer)).toEqual([
      `pinned blocks[0].when.$and[1].segment $in ${kept}`,
      `pinned subjects.rules[0].when.segment $eq ${kept}`,
    ]);
  });
});

describe("an experiment saved naming a segment its variants' models lack", () => {
  const putExperiment = (id: string, body: unknown) =>
    send(`/v1/admin/experiments/${id}`, { method: "PUT", headers: ADMIN_HEADERS, body: JSON.stringify(body) });

  it("is stored, and the answer lists each variant's conditions against the model its opens read", async () => {
    await clearExperimentRegistry();
    const [kept] = names() as [string];
    const slip = kept.slice(0, -1);
    const other = await copyVersion("other", ["Someone else"]);
    const body = {
      campaign: "spring",
      variants: [
        { id: "slip", weight: 1, content: bySegment(slip) },
        { id: "control", weight: 1, content: "popular" },
        { id: "fine", weight: 1, content: bySegment(kept) },
        // pinned: checked against that version's names, not the active one's
        { id: "pinned", weight: 1, content: { ...bySegment(kept), model: other } },
      ],
    };
    const res = await putExperiment("spring-test", body);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { id: string; created: boolean; campaignSegmentsMissing: MissingSegment[] };
    expect(answer).toMatchObject({ id: "spring-test", created: true });
    expect(answer.campaignSegmentsMissing[0]).toEqual({
      campaign: "spring",
      experiment: "spring-test",
      path: "variants[0].content.blocks[0].when.$and[1].segment",
      op: "$in",
      segment: slip,
      nearest: kept,
      noSegmentModel: false,
    });
    expect(lost(answer)).toEqual([
      `spring variants[0].content.blocks[0].when.$and[1].segment $in ${slip}`,
      `spring variants[0].content.subjects.rules[0].when.segment $eq ${slip}`,
      `spring variants[3].content.blocks[0].when.$and[1].segment $in ${kept}`,
      `spring variants[3].content.subjects.rules[0].when.segment $eq ${kept}`,
    ]);
    expect((await send("/v1/admin/experiments/spring-test", { headers: ADMIN_HEADERS })).status).toBe(200);

    // stopped, its variants are still what a start serves: listed the same
    const stopped = await putExperiment("spring-test", { ...body, status: "stopped" });
    expect(stopped.status).toBe(200);
    expect(lost((await stopped.json()) as MoveAnswer)).toEqual(lost(answer));
    // every name the model has: nothing to say
    const fixed = await putExperiment("spring-test", { ...body, variants: body.variants.slice(1, 3) });
    expect(((await fixed.json()) as MoveAnswer).campaignSegmentsMissing).toEqual([]);
  });
});
