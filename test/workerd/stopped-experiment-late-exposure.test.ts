/**
 * A stopped experiment's results are called final ("no longer move") only once they cannot move: a reader sent a
 * subject-line test while it ran, whose images Apple Mail prefetched then and who clicks only after the stop, is
 * first exposed by that click, and counted (as an opener and clicker, per reader sent) with a window from the click.
 * The report's attributionEndsAt covers that window, and the page calls nothing final while such a click can still
 * come (exposableUntil) or a window of one can still be open (finalAt).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { type ExperimentReport, reportDecisionTtlDays } from "../../worker/experiments/experiment-report";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import worker from "../../worker/index";
import { TEST_TOKEN_SECRET } from "./fixture";
import { viewOf } from "./support/dashboard-view-of";
import { faultyKv } from "./support/faulty-bindings";
import {
  ADMIN_HEADERS,
  consume,
  fixture,
  flushExperimentStore,
  freshExperimentState,
  putCampaign,
  putExperiment,
  recordingQueue,
  send,
} from "./support/harness";

const CAMPAIGN = "stop-camp";
const DAY = 86_400;
const db = () => env.DB as D1Database;
const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];

async function fetchWith(req: Request, queue: Queue<QueuedEvent>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, { ...env, EVENTS: queue }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The dashboard's note on the stop, for the report as if it were made at `at` (unix seconds). */
function noteAt(report: ExperimentReport, at: number): string {
  const view = viewOf({
    experiments: [report.experiment.id],
    current: report.experiment.id,
    report: { ...report, at: new Date(at * 1000).toISOString() },
  });
  return (view.report as { stoppedNote: string | null }).stoppedNote ?? "";
}

beforeEach(async () => {
  await freshExperimentState();
  await putCampaign(CAMPAIGN, { v: 2, default: { id: "picks", type: "recommendations" } });
});

describe("a stopped subject-line experiment", () => {
  it("counts a reader first exposed by a click after the stop, and calls its results final only once that cannot move them", async () => {
    const variant = (subject: string) => ({
      v: 2,
      default: { id: "picks", type: "recommendations" },
      subjects: { default: { subject } },
    });
    const exp = (status: string) => ({
      campaign: CAMPAIGN,
      attributionDays: 1,
      status,
      variants: [
        { id: "a", weight: 1, content: variant("Subject A") },
        { id: "b", weight: 1, content: variant("Subject B") },
      ],
    });
    expect((await putExperiment("e-late", exp("running"))).status).toBe(200);
    const user = (readers()[3] as Profile).userId;
    // the send: the reader is assigned an arm (a subject line)
    const sent = recordingQueue();
    const res = await fetchWith(
      new Request("https://opentime.test/v1/admin/subjects", {
        method: "POST",
        headers: ADMIN_HEADERS,
        body: JSON.stringify({ campaign: CAMPAIGN, users: [user] }),
      }),
      sent.queue,
    );
    expect(res.status).toBe(200);
    await consume(sent.sent);
    await flushExperimentStore();
    // Apple Mail prefetches the images while it runs: decided under the arm, nobody exposed
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: CAMPAIGN, ttlSeconds: 30 * DAY });
    const pre = recordingQueue();
    const prefetched = await fetchWith(
      new Request(`https://opentime.test/v1/img/${t}/row-0.png`, {
        headers: { "User-Agent": "Mozilla/5.0" },
        cf: { asn: 714, asOrganization: "Apple Inc." },
      } as RequestInit),
      pre.queue,
    );
    expect(prefetched.headers.get("X-Opentime-Fetch")).toBe("apple-mpp");
    await consume(pre.sent);
    // stopped
    expect((await putExperiment("e-late", exp("stopped"))).status).toBe(200);
    resetExperimentCache();
    await new Promise((r) => setTimeout(r, 1100));
    // the reader clicks after the stop
    const clicked = recordingQueue();
    expect((await fetchWith(new Request(`https://opentime.test/v1/c/${t}/row-0`), clicked.queue)).status).toBe(302);
    await consume(clicked.sent);
    await flushExperimentStore();
    const report = (await (
      await send("/v1/admin/experiments/e-late/report", { headers: ADMIN_HEADERS })
    ).json()) as ExperimentReport;
    expect(report.unit).toBe("sent");
    const { stoppedAt, attributionEndsAt, exposableUntil, finalAt } = report.experiment as Required<
      ExperimentReport["experiment"]
    >;
    const exposure = (
      await db().prepare("SELECT at FROM exposures WHERE user = ? AND experiment = 'e-late'").bind(user).all()
    ).results[0] as { at: number } | undefined;
    const profile = (await env.OPENTIME_KV.get(kvKeys.profile(user), "json")) as Profile;
    const window = profile.experiments?.["e-late"];
    // the reader is counted (as an opener, with their click) in the report per reader sent, exposed after the stop
    expect(report.arms.reduce((s, a) => s + a.opened, 0)).toBe(1);
    expect(report.arms.reduce((s, a) => s + a.clickers, 0)).toBe(1);
    expect(exposure?.at).toBeGreaterThan(stoppedAt);
    // attributionEndsAt is the end of the last window counted: the reader's, past the stop's
    expect(window?.until).toBe((exposure?.at ?? 0) + DAY);
    expect(attributionEndsAt).toBe(window?.until);
    // a click on what was prefetched while it ran (its decision kept the campaign's 30 days) can still expose a reader
    expect(exposableUntil).toBe(stoppedAt + 60 + 30 * DAY);
    expect(finalAt).toBe(exposableUntil + DAY);
    // the page: past the stop's window (and the reader's), readers can still come: nothing is called final...
    const later = attributionEndsAt + 3600;
    expect(noteAt(report, later)).toContain("the results can still move");
    expect(noteAt(report, later)).not.toContain("no longer move");
    // ...until no click can expose anyone and the last window of one that did is closed
    expect(noteAt(report, finalAt - 1)).toContain("the results can still move");
    expect(noteAt(report, finalAt)).toContain("the results no longer move");
    // the page as drawn now says the same as the API
    const page = await (await send("/dashboard?experiment=e-late", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain('data-testid="stopped"');
    expect(page).toContain("the results can still move");
  });

  it("takes a campaign it cannot read as keeping its decisions the longest allowed, not the default 30 days", async () => {
    await putCampaign(CAMPAIGN, { v: 2, decisionTtlDays: 90, default: { id: "picks", type: "recommendations" } });
    const stopped = { id: "e-ttl", campaign: CAMPAIGN, status: "stopped", variants: [] } as unknown as Parameters<
      typeof reportDecisionTtlDays
    >[1];
    expect(await reportDecisionTtlDays(env.OPENTIME_KV, stopped)).toBe(90);
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "campaign:" }]);
    // unknown: the report takes the longest (MAX_DECISION_TTL_DAYS), so it calls nothing final too soon
    expect(await reportDecisionTtlDays(f.kv, stopped)).toBeUndefined();
    expect(f.hits).toBeGreaterThan(0);
  });
});
