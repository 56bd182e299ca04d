/**
 * `npm run email` leaves out whom opentime knows must not be mailed: the builder writes nothing for a recipient
 * the Worker named (MIME and ESP alike) and counts them by reason; the client asks POST /v1/admin/suppressions in
 * batches, naming the campaign (so the Worker can answer `frequency` without counting the campaign's own sends),
 * and fails closed (a Worker that cannot be reached, refuses or answers what it cannot read builds nothing); the
 * CLI records the campaign's send to exactly the recipients it builds for (POST /v1/admin/sends) before it writes
 * anything, builds nothing when that fails, records nothing with --dry-run or --skip-suppression-check, and prints
 * counts by reason and never an id or an address. The Worker's side of the answer is
 * tested in workerd (test/workerd/suppressions.test.ts); here a stand-in speaks the same contract (the core
 * schemas), as the builder's tests stand in for the subject lines' answer too.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { SendsRequestSchema, type SuppressionReason, SuppressionsRequestSchema } from "../../core/suppressions";
import { buildEmails } from "../../scripts/email/build-emails";
import { recordSends, SendsNotRecorded } from "../../scripts/email/sends-client";
import { fetchSuppressions, SuppressionCheckFailed } from "../../scripts/email/suppressions-client";
import { builderSetup, BUILDER_SECRET as SECRET } from "./support/email-options";

const KEY = "admin-key-for-the-stand-in-0123456789";

function setup(csv: string) {
  return builderSetup(csv, "opentime-suppress-");
}

/**
 * A stand-in for the Worker's routes: it checks requests as the routes do, answers the check from `known` and
 * records the sends it is given (or answers `sendsAnswer`).
 */
/** The messages a build wrote in `dir` (its list of them aside), in name order. */
async function messagesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(".eml")).sort();
}

function standIn(
  known: Record<string, SuppressionReason>,
  answer?: (users: string[]) => { status: number; body: string },
  sendsAnswer?: (users: string[]) => { status: number; body: string },
  /** readers the recording holds back (their shard's state changed since the check), with why */
  heldAtRecord: Record<string, SuppressionReason> = {},
  /** the subject lines' answer in place of one subject-less line each */
  subjectsAnswer?: () => { status: number; body: string },
) {
  const batches: string[][] = [];
  const campaigns: (string | undefined)[] = [];
  const sends: { campaign: string; users: string[] }[] = [];
  const subjectAsks: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const reply = (status: number, text: string) => {
        // a passing failure, to be sent again at once (the builder sends a 503 or 429 again after its Retry-After)
        const passing = status === 503 || status === 429;
        res.writeHead(status, { "Content-Type": "application/json", ...(passing && { "Retry-After": "0" }) });
        res.end(text);
      };
      if (req.headers.authorization !== `Bearer ${KEY}`) return reply(401, '{"error":{"code":"UNAUTHORIZED"}}');
      if (req.method === "POST" && req.url === "/v1/admin/sends") {
        const record = SendsRequestSchema.safeParse(JSON.parse(body));
        if (!record.success) return reply(400, '{"error":{"code":"BAD_REQUEST"}}');
        if (sendsAnswer) {
          const a = sendsAnswer(record.data.users);
          if (a.status !== 200) return reply(a.status, a.body);
        }
        sends.push(record.data);
        const held = record.data.users.flatMap((user) => {
          const reason = heldAtRecord[user];
          return reason ? [{ user, reason }] : [];
        });
        return reply(
          200,
          JSON.stringify({ campaign: record.data.campaign, recorded: record.data.users.length - held.length, held }),
        );
      }
      if (req.method === "POST" && req.url === "/v1/admin/subjects") {
        const ask = JSON.parse(body) as { campaign: string; users: string[] };
        subjectAsks.push(ask);
        if (subjectsAnswer) {
          const a = subjectsAnswer();
          return reply(a.status, a.body);
        }
        const subjects = ask.users.map((user) => ({
          user,
          subject: null,
          preheader: null,
          rule: null,
          why: "",
          copy: null,
        }));
        return reply(200, JSON.stringify({ campaign: ask.campaign, subjects }));
      }
      if (req.method !== "POST" || req.url !== "/v1/admin/suppressions") return reply(404, '{"error":{}}');
      const parsed = SuppressionsRequestSchema.safeParse(JSON.parse(body));
      if (!parsed.success) return reply(400, '{"error":{"code":"BAD_REQUEST"}}');
      batches.push(parsed.data.users);
      campaigns.push(parsed.data.campaign);
      if (answer) {
        const a = answer(parsed.data.users);
        return reply(a.status, a.body);
      }
      const suppressed = parsed.data.users.flatMap((user) => {
        const reason = known[user];
        return reason ? [{ user, reason }] : [];
      });
      reply(200, JSON.stringify({ checked: parsed.data.users.length, suppressed }));
    });
  });
  return { server, batches, campaigns, sends, subjectAsks };
}

const servers: Server[] = [];
async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const run = promisify(execFile);
/** The CLI, its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", "scripts/email/cli.ts", ...args], {
      encoding: "utf8",
      env: { ...process.env, TOKEN_SECRET: SECRET, ADMIN_API_KEY: KEY },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("the builder leaves out whom it must not mail", () => {
  const csv =
    "user_id,email\nc-ann,ann@example.com\nc-bob,bob@example.com\nc-cyd,cyd@example.com\nc-dee,dee@example.com\n";
  const suppressed = new Map<string, SuppressionReason>([
    ["c-bob", "unsubscribed"],
    ["c-cyd", "paused"],
    ["c-dee", "unsubscribed"],
  ]);

  it("MIME: no message for them, the rest written, counted by reason", async () => {
    const { options } = await setup(csv);
    const result = await buildEmails({ ...options, suppressed });
    expect(result.recipients).toBe(1);
    expect(result.skipped).toEqual({ unsubscribed: 2, paused: 1 });
    expect(await messagesIn(options.outDir)).toEqual(["c-ann.eml"]);
    const raw = await readFile(result.files[0] as string, "utf8");
    expect(raw).toMatch(/^To: ann@example.com$/m);
  });

  it("ESP: no row for them in the CSV the ESP sends to", async () => {
    const { options } = await setup(csv);
    const result = await buildEmails({ ...options, esp: "mailchimp", suppressed });
    const rows = (await readFile(result.files.at(-1) as string, "utf8")).trim().split("\n");
    expect(rows.map((r) => r.split(",")[0])).toEqual(["user_id", "c-ann"]);
    expect(result.skipped).toEqual({ unsubscribed: 2, paused: 1 });
  });

  it("unchecked (no answer given): every recipient is written, as before", async () => {
    const { options } = await setup(csv);
    const result = await buildEmails(options);
    expect(result.recipients).toBe(4);
    expect(result.skipped).toEqual({});
  });
});

describe("asking the Worker: in batches, failing closed", () => {
  it("asks in batches of 500 and gathers every batch's answer", async () => {
    const users = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const { server, batches, campaigns } = standIn({ r3: "erased", r700: "unsubscribed", r1100: "unreadable" });
    const url = await listen(server);
    const got = await fetchSuppressions(url, KEY, [...users, "r3"], "spring-sale");
    expect(batches.map((b) => b.length)).toEqual([500, 500, 200]);
    // each batch names the campaign: the Worker answers `frequency` leaving this campaign's own sends out
    expect(campaigns).toEqual(["spring-sale", "spring-sale", "spring-sale"]);
    expect(Object.fromEntries(got)).toEqual({ r3: "erased", r700: "unsubscribed", r1100: "unreadable" });
  });

  it("a Worker that cannot be reached, refuses, is older than the check or answers what it cannot read: it throws", async () => {
    const closed = await listen(createServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    await expect(fetchSuppressions(closed, KEY, ["a"], "spring-sale")).rejects.toThrow(SuppressionCheckFailed);
    await expect(fetchSuppressions(closed, KEY, ["a"], "spring-sale")).rejects.toThrow(/--skip-suppression-check/);
    // nothing listening: most often the Worker is not running, and the message says how to start it
    await expect(fetchSuppressions(closed, KEY, ["a"], "spring-sale")).rejects.toThrow(
      /\(fetch failed: is the Worker running there\? locally npm run dev; --api-url <origin> names another\)/,
    );
    const cases: [number, string, RegExp][] = [
      [503, '{"error":{"code":"KV_UNAVAILABLE"}}', /503/],
      [404, '{"error":{"code":"NOT_FOUND"}}', /older than the check/],
      [400, '{"error":{"code":"BAD_REQUEST","message":"campaign: unrecognized key"}}', /older than this builder/],
      [200, '{"suppressed":"everyone"}', /does not read/],
      [200, "<html>a proxy's page</html>", /does not read/],
    ];
    for (const [status, body, why] of cases) {
      const url = await listen(standIn({}, () => ({ status, body })).server);
      await expect(fetchSuppressions(url, KEY, ["a"], "spring-sale"), body).rejects.toThrow(why);
    }
    const url = await listen(standIn({}).server);
    await expect(fetchSuppressions(url, "not-the-key", ["a"], "spring-sale")).rejects.toThrow(/401/);
  });
});

describe("recording the campaign's sends: in batches, all or nothing", () => {
  it("records in batches of 500, each naming the campaign, and counts what the Worker recorded", async () => {
    const users = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const { server, sends } = standIn({});
    const url = await listen(server);
    expect(await recordSends(url, KEY, "spring-sale", [...users, "r3"])).toEqual({ recorded: 1200, held: new Map() });
    expect(sends.map((b) => [b.campaign, b.users.length])).toEqual([
      ["spring-sale", 500],
      ["spring-sale", 500],
      ["spring-sale", 200],
    ]);
  });

  it("a batch answered 503 or 429 is sent again after its Retry-After, up to three times", async () => {
    const users = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    let refusals = 2;
    const { server, sends } = standIn({}, undefined, (batch) =>
      batch[0] === "r500" && refusals-- > 0
        ? { status: 503, body: '{"error":{"code":"STATE_UNAVAILABLE"}}' }
        : { status: 200, body: "" },
    );
    const url = await listen(server);
    expect((await recordSends(url, KEY, "spring-sale", users)).recorded).toBe(1200);
    expect(sends.map((b) => b.users[0])).toEqual(["r0", "r500", "r1000"]);
    // the check too (429: KV's rate limit), counted by the requests its stand-in saw
    let asked = 0;
    const limited = standIn({ a: "unsubscribed" }, () =>
      ++asked < 4
        ? { status: 429, body: '{"error":{"code":"KV_UNAVAILABLE"}}' }
        : { status: 200, body: JSON.stringify({ checked: 1, suppressed: [{ user: "a", reason: "unsubscribed" }] }) },
    );
    const got = await fetchSuppressions(await listen(limited.server), KEY, ["a"], "spring-sale");
    expect([...got]).toEqual([["a", "unsubscribed"]]);
    expect(asked).toBe(4);
    // a fifth answer is not waited for: three retries, then the run ends
    asked = 0;
    const down = standIn({}, () => ({ status: 429, body: "{}" }), undefined);
    await expect(fetchSuppressions(await listen(down.server), KEY, ["a"], "spring-sale")).rejects.toThrow(/429/);
    expect(down.batches).toHaveLength(4);
  });

  it("a refusal whose Retry-After is longer than 30 s (KV's daily allowance) or that is not 503 or 429 is not sent again", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? "");
      req.resume();
      const daily = seen.length === 1;
      res.writeHead(daily ? 503 : 400, { "Content-Type": "application/json", ...(daily && { "Retry-After": "3600" }) });
      res.end('{"error":{}}');
    });
    const url = await listen(server);
    await expect(recordSends(url, KEY, "spring-sale", ["a"])).rejects.toThrow(/503/);
    await expect(recordSends(url, KEY, "spring-sale", ["a"])).rejects.toThrow(/400/);
    expect(seen).toHaveLength(2);
  });

  it("the Worker's own 503 without Retry-After (a deploy without the queue) is not sent again; a proxy's is", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? "");
      req.resume();
      if (seen.length === 1) {
        res.writeHead(503, { "Content-Type": "application/json" });
        return res.end('{"error":{"code":"EVENTS_UNAVAILABLE","message":"no EVENTS queue is bound"}}');
      }
      // a page from something in front of the Worker, then the Worker's answer
      if (seen.length === 2) {
        res.writeHead(503, { "Content-Type": "text/html" });
        return res.end("<html>Service Unavailable</html>");
      }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ campaign: "spring-sale", recorded: 1, held: [] }));
    });
    const url = await listen(server);
    await expect(recordSends(url, KEY, "spring-sale", ["a"])).rejects.toThrow(/503: .*EVENTS_UNAVAILABLE/);
    expect(seen).toHaveLength(1);
    expect((await recordSends(url, KEY, "spring-sale", ["a"])).recorded).toBe(1);
    expect(seen).toHaveLength(3);
  });

  it("a batch the Worker does not record: it throws, saying how far it got and that a re-run is safe", async () => {
    const { server } = standIn({}, undefined, (batch) =>
      batch[0] === "r500" ? { status: 503, body: '{"error":{"code":"STATE_UNAVAILABLE"}}' } : { status: 200, body: "" },
    );
    const url = await listen(server);
    const users = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const failed = await recordSends(url, KEY, "spring-sale", users).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SendsNotRecorded);
    expect((failed as Error).message).toMatch(/\(503: .*; 500 of 1200 recorded\): nothing was built/);
    const closed = await listen(createServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    await expect(recordSends(closed, KEY, "spring-sale", ["a"])).rejects.toThrow(/Run the same build again/);
    const old = await listen(standIn({}, undefined, () => ({ status: 404, body: "{}" })).server);
    await expect(recordSends(old, KEY, "spring-sale", ["a"])).rejects.toThrow(/older than the recording/);
  });
});

describe("npm run email: counts by reason, fails closed, or builds unchecked when told", () => {
  const csv = "user_id,email\nc-ann,ann@example.com\nc-bob,bob@example.com\nc-cyd,cyd@example.com\n";

  it("prints how many it left out and why, never who", async () => {
    const { recipients, dir } = await setup(csv);
    const url = await listen(standIn({ "c-bob": "unsubscribed", "c-cyd": "paused" }).server);
    const out = join(dir, "out");
    const res = await cli([
      ...["--campaign", "spring-sale", "--recipients", recipients, "--out", out, "--subject", "Hi"],
      ...["--base-url", "https://opentime.shop.example", "--shop-url", "https://shop.example/", "--api-url", url],
    ]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("1 recipient -> 1 file");
    expect(res.stdout).toContain(
      "left out 2 of 3 recipients opentime knows must not be mailed: unsubscribed 1, paused 1",
    );
    expect(res.stdout).not.toMatch(/c-bob|c-cyd|bob@|cyd@/);
    expect(await messagesIn(out)).toEqual(["c-ann.eml"]);
  });

  const argsFor = (recipients: string, out: string, url: string) => [
    ...["--campaign", "spring-sale", "--recipients", recipients, "--out", out, "--subject", "Hi"],
    ...["--base-url", "https://opentime.shop.example", "--shop-url", "https://shop.example/", "--api-url", url],
  ];

  it("records this campaign's send to exactly the recipients it builds; one held back by frequency is counted", async () => {
    const { recipients, dir } = await setup(csv);
    const { server, sends } = standIn({ "c-bob": "frequency" });
    const out = join(dir, "out");
    const res = await cli(argsFor(recipients, out, await listen(server)));
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("left out 1 of 3 recipients opentime knows must not be mailed: frequency 1");
    expect(sends).toEqual([{ campaign: "spring-sale", users: ["c-ann", "c-cyd"] }]);
    expect(res.stdout).toContain("recorded this campaign's send to 2 recipients");
    expect(res.stdout).not.toMatch(/c-ann|c-bob|c-cyd|@example/);
    expect(await messagesIn(out)).toEqual(["c-ann.eml", "c-cyd.eml"]);
  });

  it("asks subject lines after the recording, for the readers it builds alone; a dry run asks them unrecorded", async () => {
    const { recipients, dir } = await setup(csv);
    const withoutSubject = (out: string, url: string) =>
      argsFor(recipients, out, url).filter((a) => a !== "--subject" && a !== "Hi");
    const real = standIn({ "c-bob": "unsubscribed" }, undefined, undefined, { "c-cyd": "frequency" });
    const res = await cli(withoutSubject(join(dir, "real"), await listen(real.server)));
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    // c-bob left out at the check, c-cyd at the recording: neither is asked for (an experiment would record their arm)
    expect(real.subjectAsks).toEqual([{ campaign: "spring-sale", users: ["c-ann"] }]);
    expect(await messagesIn(join(dir, "real"))).toEqual(["c-ann.eml"]);
    const dry = standIn({});
    const preview = await cli([...withoutSubject(join(dir, "dry"), await listen(dry.server)), "--dry-run"]);
    expect(preview.code).toBe(0);
    expect(dry.sends).toEqual([]);
    expect(dry.subjectAsks).toEqual([{ campaign: "spring-sale", users: ["c-ann", "c-bob", "c-cyd"], record: false }]);
  });

  it("leaves out a reader the recording held back (their state changed since the check), counted, never named", async () => {
    const { recipients, dir } = await setup(csv);
    const { server, sends } = standIn({}, undefined, undefined, { "c-cyd": "frequency" });
    const out = join(dir, "out");
    const res = await cli(argsFor(recipients, out, await listen(server)));
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(sends).toEqual([{ campaign: "spring-sale", users: ["c-ann", "c-bob", "c-cyd"] }]);
    expect(res.stdout).toContain("recorded this campaign's send to 2 recipients");
    expect(res.stdout).toContain("held back at the recording, and left out: 1 recipient");
    expect(res.stdout).toContain("left out 1 of 3 recipients opentime knows must not be mailed: frequency 1");
    expect(res.stdout).not.toMatch(/c-ann|c-bob|c-cyd|@example/);
    expect(await messagesIn(out)).toEqual(["c-ann.eml", "c-bob.eml"]);
  });

  it("sends it cannot record: exit 1, nothing written, the way out named", async () => {
    const { recipients, dir } = await setup(csv);
    const { server } = standIn({}, undefined, () => ({ status: 503, body: '{"error":{"code":"STATE_UNAVAILABLE"}}' }));
    const out = join(dir, "out");
    const res = await cli(argsFor(recipients, out, await listen(server)));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/could not record the campaign's sends.*nothing was built/);
    expect(res.stderr).toMatch(/--dry-run/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it("a failure after the recording (the subject lines) says the sends were recorded, and that a re-run is safe", async () => {
    const { recipients, dir } = await setup(csv);
    const refused = () => ({ status: 500, body: '{"error":{"code":"INTERNAL"}}' });
    const { server, sends } = standIn({}, undefined, undefined, {}, refused);
    const out = join(dir, "out");
    const args = argsFor(recipients, out, await listen(server)).filter((a) => a !== "--subject" && a !== "Hi");
    const res = await cli(args);
    expect(res.code).toBe(1);
    expect(sends).toHaveLength(1);
    expect(res.stderr).toMatch(/subjects answered 500/);
    expect(res.stderr).toContain(
      "this campaign's send to 3 recipients was recorded before it stopped, and nothing was built: run the same build again within 20 hours",
    );
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it("an answer to the subject lines without them is said as one this version does not read, not as a TypeError", async () => {
    const { recipients, dir } = await setup(csv);
    const out = join(dir, "out");
    const odd = standIn({}, undefined, undefined, {}, () => ({ status: 200, body: '{"campaign":"spring-sale"}' }));
    const unread = await cli(
      argsFor(recipients, out, await listen(odd.server)).filter((a) => a !== "--subject" && a !== "Hi"),
    );
    expect(unread.code).toBe(1);
    expect(unread.stderr).toMatch(/subjects answered what this version does not read: \{"campaign":"spring-sale"\}/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it("--dry-run: checked and built, nothing recorded, and it says so; --skip-suppression-check asks nothing", async () => {
    const { recipients, dir } = await setup(csv);
    const { server, sends, batches } = standIn({ "c-bob": "unsubscribed" });
    const url = await listen(server);
    const dry = await cli([...argsFor(recipients, join(dir, "dry"), url), "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(batches).toHaveLength(1);
    expect(dry.stdout).toContain("2 recipients -> 2 files");
    expect(dry.stdout).toMatch(/--dry-run: this send was not recorded; do not send these files/);
    const unchecked = await cli([...argsFor(recipients, join(dir, "unchecked"), url), "--skip-suppression-check"]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toContain("3 recipients -> 3 files");
    expect(unchecked.stdout).toMatch(/This send was not recorded/);
    expect(batches).toHaveLength(1);
    expect(sends).toEqual([]);
  });

  it("a Worker that cannot be asked: exit 1, the way out named, nothing written", async () => {
    const { recipients, dir } = await setup(csv);
    const closed = await listen(createServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const out = join(dir, "out");
    const args = [
      ...["--campaign", "spring-sale", "--recipients", recipients, "--out", out, "--subject", "Hi"],
      ...["--base-url", "https://opentime.shop.example", "--shop-url", "https://shop.example/", "--api-url", closed],
    ];
    const res = await cli(args);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/nothing was built/);
    expect(res.stderr).toMatch(/--skip-suppression-check/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    // told to build unchecked (offline, with one subject): everyone, and a note saying so
    const unchecked = await cli([...args, "--skip-suppression-check"]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toContain("3 recipients -> 3 files");
    expect(unchecked.stdout).toMatch(/--skip-suppression-check: recipients who unsubscribed, paused or were erased/);
  });
});
