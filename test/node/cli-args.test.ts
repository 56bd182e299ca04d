/** The scripts' command lines refuse bad options and unreadable files with a message and an exit code, not a stack trace. */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifyToken } from "../../core/token";
import { unsubscribeSecrets } from "../../core/unsubscribe-link";

const root = join(import.meta.dirname, "../..");
const SECRET = "cli-args-test-secret-0123456789abcdef";
const run = (script: string, ...args: string[]) =>
  spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, script), ...args], {
    encoding: "utf8",
    cwd: root,
    env: { ...process.env, TOKEN_SECRET: SECRET },
  });

describe("command lines", () => {
  it("an unknown option or one without its value: the problem and the usage, exit 2", () => {
    const unknown = run("scripts/import/cli.ts", "--bogus");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--bogus'.*\nusage: npm run import -- --data/s);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    const bare = run("scripts/eval/cli.ts", "--data");
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/'--data <value>' argument missing\nusage: npm run evaluate/);
  });

  it("models: a command it does not know, or activate or delete without a version, is named before the usage, exit 2", () => {
    for (const [args, problem] of [
      [[], "name a command: list, activate <version>, rollback or delete <version>"],
      [["bogus"], 'unknown command "bogus": list, activate <version>, rollback or delete <version>'],
      [["activate"], "activate: name the version to activate"],
      [["delete"], "delete: name the version to delete"],
      [["delete", "v1", "v2"], 'delete: unexpected "v2"'],
      [["list", "v1"], 'list: unexpected "v1"'],
    ] as const) {
      const models = run("scripts/models/cli.ts", ...args);
      expect(models.status).toBe(2);
      expect(models.stderr).toBe(
        `${problem}\nusage: npm run models -- list | activate <version> | rollback | delete <version> [--url <worker> | --remote | --persist-to <dir>] [--json]\n`,
      );
    }
  });

  it("a required option left out is named before the usage, exit 2", () => {
    for (const [script, problem] of [
      ["scripts/token.ts", "--user is required: the reader to mint a token for\nusage: npm run token"],
      ["scripts/import/cli.ts", "--data is required: the file to import\nusage: npm run import"],
      ["scripts/eval/cli.ts", "--data is required: the purchase log to evaluate\nusage: npm run evaluate"],
    ] as const) {
      const bare = run(script);
      expect(bare.status).toBe(2);
      expect(bare.stderr.startsWith(problem)).toBe(true);
    }
  });

  it("--help or -h: the usage, exit 0, and nothing done", () => {
    for (const flag of ["--help", "-h"]) {
      const help = run("scripts/token.ts", flag);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/^usage: npm run token -- --user/);
    }
  });

  it("a number or a choice that is not one: which option, why, and the usage, exit 2, before any work", () => {
    const word = run("scripts/eval/cli.ts", "--data", "/nonexistent.csv", "--origins", "three");
    expect(word.status).toBe(2);
    expect(word.stderr).toMatch(/^--origins: expected a whole number\nusage: npm run evaluate/);
    const many = run("scripts/eval/cli.ts", "--data", "/nonexistent.csv", "--origins", "7", "--segments", "hdbscan");
    expect(many.status).toBe(2);
    expect(many.stderr).toMatch(/^--origins: .*<=6\n--segments: .*"kmeans"\|"dbscan"\nusage:/);
    const sci = run("scripts/train/cli.ts", "--factors", "1e3");
    expect(sci.status).toBe(2);
    expect(sci.stderr).toMatch(/^--factors: expected a whole number\nusage: npm run train/);
    const currency = run("scripts/train/cli.ts", "--currency", "EURO");
    expect(currency.status).toBe(2);
    expect(currency.stderr).toMatch(/^--currency: expected an ISO 4217 code.*\nusage: npm run train/);
    expect(run("scripts/train/cli.ts", "--currency", "eur").status).toBe(2);
    // a --map that is not field=column pairs: the command line's fault, before the file is read
    const map = run("scripts/train/cli.ts", "--data", "/nonexistent.csv", "--map", "user=CustomerID,sku=StockCode");
    expect(map.status).toBe(2);
    expect(map.stderr).toMatch(/^--map: unknown --map field "sku"\nusage: npm run train/);
    const ttl = run("scripts/token.ts", "--user", "u1", "--ttl-days", "0");
    expect(ttl.status).toBe(2);
    expect(ttl.stderr).toMatch(/^--ttl-days: Too small: expected number to be >0\nusage: npm run token/);
    for (const r of [word, many, sci, currency, ttl]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a date that is not one: the demo refuses it with the usage, exit 2, before writing anything", () => {
    for (const end of ["garbage", "2026-02-30"]) {
      const bad = run("scripts/demo/cli.ts", "--end", end, "--out", "/nonexistent/demo");
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/^--end: expected a date, YYYY-MM-DD .*\nusage: npm run demo -- /);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("a token may not outlive an erased reader's tombstone (ERASURE_TOMBSTONE_DAYS, 45 unless set)", () => {
    const tombstone = /^--ttl-days: must be shorter than ERASURE_TOMBSTONE_DAYS \((\d+)\): an erased reader's token/;
    const long = run("scripts/token.ts", "--user", "u1", "--ttl-days", "45");
    expect(long.status).toBe(2);
    expect(long.stderr).toMatch(tombstone);
    expect(tombstone.exec(long.stderr)?.[1]).toBe("45");
    expect(run("scripts/token.ts", "--user", "u1", "--ttl-days", "44.5").status).toBe(0);
    // nor be minted expired: a life under a minute rounded to none
    const brief = run("scripts/token.ts", "--user", "u1", "--ttl-days", "0.000001");
    expect(brief.status).toBe(2);
    expect(brief.stderr).toMatch(/^--ttl-days: must be at least a minute/);
    expect(run("scripts/token.ts", "--user", "u1", "--ttl-days", "0.001").status).toBe(0);
    const email = run(
      "scripts/email/cli.ts",
      "--campaign",
      "demo",
      "--recipients",
      "/nonexistent.csv",
      "--ttl-days",
      "365",
    );
    expect(email.status).toBe(2);
    expect(email.stderr).toMatch(tombstone);
    // a Worker whose tombstones stand longer: the same setting here allows longer tokens
    const raised = spawnSync(
      join(root, "node_modules/.bin/tsx"),
      [join(root, "scripts/token.ts"), "--user", "u1", "--ttl-days", "365"],
      { encoding: "utf8", cwd: root, env: { ...process.env, TOKEN_SECRET: SECRET, ERASURE_TOMBSTONE_DAYS: "400" } },
    );
    expect(raised.stderr).toBe("");
    expect(raised.status).toBe(0);
  });

  it("numbers given well reach the run as numbers", async () => {
    const before = Math.floor(Date.now() / 1000);
    const ok = run("scripts/token.ts", "--user", "u1", "--ttl-days", "0.5");
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const verified = await verifyToken([SECRET], ok.stdout.trim(), before);
    if (!verified.ok) throw new Error(verified.reason);
    // half a day from when it was minted
    expect(verified.claims.e - before).toBeGreaterThanOrEqual(43_200);
    expect(verified.claims.e - before).toBeLessThan(43_200 + 60);
  });

  it("--unsubscribe mints the send's one-click unsubscribe token: the link's own key, two years, no email's", async () => {
    const before = Math.floor(Date.now() / 1000);
    const out = run("scripts/token.ts", "--user", "u1", "--campaign", "spring", "--unsubscribe");
    expect([out.status, out.stderr]).toEqual([0, ""]);
    const t = out.stdout.trim();
    expect(await verifyToken([SECRET], t, before)).toEqual({ ok: false, reason: "bad-signature" });
    const verified = await verifyToken(await unsubscribeSecrets([SECRET]), t, before);
    if (!verified.ok) throw new Error(verified.reason);
    expect(verified.claims).toMatchObject({ u: "u1", c: "spring" });
    expect(verified.claims.e - before).toBeGreaterThanOrEqual(730 * 86_400);
  });

  it("a data file that is not there: the command's failure line, where a relative path is read from, exit 1", () => {
    const missing = run("scripts/train/cli.ts", "--data", "/nonexistent/purchases.csv.gz", "--out", "/nonexistent/out");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^train failed: \/nonexistent\/purchases.csv.gz: no such file \(ENOENT\)/m);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    // typed in another directory, `npm run train -- --data orders.csv` reads orders.csv in the repository: it says so
    const relative = run("scripts/train/cli.ts", "--data", "no-such-orders.csv", "--out", "/nonexistent/out");
    expect(relative.status).toBe(1);
    expect(relative.stderr).toContain(
      `train failed: no-such-orders.csv: no such file (ENOENT); a relative path is read from ${root}, where npm runs the scripts\n`,
    );
  });

  it("an --out that is a file: said before any work (it was EEXIST or ENOTDIR once everything was computed), exit 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-cli-out-"));
    const file = join(dir, "evaluation.json");
    writeFileSync(file, "{}");
    // the data file is not read: the --out is refused first
    const evaluate = run("scripts/eval/cli.ts", "--data", "/nonexistent/purchases.csv", "--out", file);
    expect(evaluate.status).toBe(1);
    expect(evaluate.stderr).toBe(
      `evaluate failed: --out ${file}: not a directory (a file of that name exists); name a directory, made if missing\n`,
    );
    const train = run("scripts/train/cli.ts", "--data", "/nonexistent/purchases.csv", "--out", join(file, "models"));
    expect(train.status).toBe(1);
    expect(train.stderr).toBe(
      `train failed: --out ${join(file, "models")}: not a directory (a part of the path is a file); name a directory, made if missing\n`,
    );
  });

  it("import: a data file it cannot read is the file's problem (exit 1), not one that rerunning resumes", () => {
    const missing = run("scripts/import/cli.ts", "--data", "/nonexistent/orders.csv", "--key", "k");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(
      /^import failed: \/nonexistent\/orders.csv: no such file \(ENOENT\); a relative path is read from .*\n$/,
    );
  });

  it("import: a --url that is not a Worker's address, or plain http off this machine, is refused before the key is sent", () => {
    const data = join(mkdtempSync(join(tmpdir(), "ot-import-url-")), "events.csv");
    writeFileSync(data, "event_id,user_id,type,item_id,ts\ne1,u1,view,i1,1700000000\n");
    const clear = run("scripts/import/cli.ts", "--data", data, "--url", "http://shop.example", "--key", "k");
    expect(clear.status).toBe(2);
    expect(clear.stderr).toMatch(/^--url http:\/\/shop.example: https only/);
    const word = run("scripts/import/cli.ts", "--data", data, "--url", "localhost:8787", "--key", "k");
    expect(word.status).toBe(2);
    expect(word.stderr).toMatch(/^--url localhost:8787 is not a URL|https only/);
  });

  it("import with no Worker at --url: says so at once, not after a quarter of a minute of retries", () => {
    const data = join(mkdtempSync(join(tmpdir(), "ot-import-down-")), "events.csv");
    writeFileSync(data, "event_id,user_id,type,item_id,ts\ne1,u1,view,i1,1700000000\n");
    // port 9 (discard) on loopback: nothing listens there
    const started = Date.now();
    const down = run("scripts/import/cli.ts", "--data", data, "--url", "http://127.0.0.1:9", "--key", "k");
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(
      /^import failed: could not reach http:\/\/127\.0\.0\.1:9\/.*is the Worker running there\?/m,
    );
    expect(down.stderr).not.toMatch(/rerun/);
    // the retries would take 15.5 s (0.5 s doubling, five times) besides the start: the bound is as wide as that lets
    // it be, for a loaded machine where tsx's start alone takes seconds
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("email with no Worker to ask for the subjects: names --api-url and --subject, exit 1", () => {
    const csv = join(mkdtempSync(join(tmpdir(), "ot-email-down-")), "recipients.csv");
    writeFileSync(csv, "user_id,email\nc0000042,jane@example.com\n");
    // a deployed Worker's base URL, its subjects asked of port 9 (discard) on loopback: nothing listens there
    const down = spawnSync(
      join(root, "node_modules/.bin/tsx"),
      [
        join(root, "scripts/email/cli.ts"),
        "--campaign",
        "spring",
        "--recipients",
        csv,
        "--base-url",
        "https://opentime.shop.example",
        "--shop-url",
        "https://shop.example/",
        "--api-url",
        "http://127.0.0.1:9",
        // the subjects' request alone: the recipients' check comes first otherwise (email-suppressions.test.ts)
        "--skip-suppression-check",
      ],
      { encoding: "utf8", cwd: root, env: { ...process.env, TOKEN_SECRET: SECRET, ADMIN_API_KEY: "k".repeat(16) } },
    );
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(
      /^could not reach http:\/\/127\.0\.0\.1:9\/v1\/admin\/subjects .*is the Worker running there\? --api-url .*--subject/m,
    );
  });

  it("seed before any training: says to train first, not ENOENT on models/latest.json", () => {
    const fresh = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/seed/cli.ts")], {
      encoding: "utf8",
      cwd: mkdtempSync(join(tmpdir(), "ot-fresh-clone-")),
    });
    expect(fresh.status).toBe(1);
    expect(fresh.stderr).toMatch(
      /^seed failed: no trained model: run `npm run train` first, or pass --model models\/<version>\n$/,
    );
  });

  it("seed --model naming no trained model: says what to pass, not ENOENT on its manifest", () => {
    const wrong = run("scripts/seed/cli.ts", "--model", "/nonexistent/als-typo");
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(
      /^seed failed: \/nonexistent\/als-typo holds no trained model \(no manifest.json\): pass a directory npm run train wrote, models\/<version>/,
    );
  });

  it("build: an option it does not take is refused (exit 2); wrangler failing is one line, exit 1", () => {
    // an npx first on PATH that fails as wrangler would, so nothing is bundled or downloaded
    const bin = mkdtempSync(join(tmpdir(), "ot-fake-npx-"));
    writeFileSync(join(bin, "npx"), "#!/bin/sh\necho '[ERROR] Could not resolve \"./missing\"' >&2\nexit 1\n");
    chmodSync(join(bin, "npx"), 0o755);
    const build = (...args: string[]) =>
      spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/build.ts"), ...args], {
        encoding: "utf8",
        cwd: root,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
    const unknown = build("--outdir", "elsewhere");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--outdir'.*\nusage: npm run build\n$/s);
    const failed = build();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^build failed: wrangler deploy --dry-run failed:\n\[ERROR\] Could not resolve/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
  });
  it("fuzz: a --routes name the suite does not know is refused with the names it knows, exit 2, before anything runs", () => {
    for (const routes of ["imgae", "image,clik", "", "image,"]) {
      // spawnSync's timeout: were it let through, the run would train a model and start workerd for minutes
      const fuzz = spawnSync(
        join(root, "node_modules/.bin/tsx"),
        [join(root, "scripts/fuzz/cli.ts"), "--runs", "1", "--routes", routes],
        { encoding: "utf8", cwd: root, timeout: 30_000 },
      );
      expect(fuzz.status, routes).toBe(2);
      expect(fuzz.stderr).toContain("--routes: no route");
      expect(fuzz.stderr).toContain("name some of campaigns,amp-recs,amp-preferences,image,click");
      expect(fuzz.stdout).not.toContain("fuzz: 1 requests");
    }
  });
  it("models and seed: --remote with --persist-to is refused, exit 2, rather than writing the real namespace", () => {
    for (const args of [
      ["scripts/models/cli.ts", "activate", "v1", "--remote", "--persist-to", "local-state"],
      ["scripts/models/cli.ts", "rollback", "--persist-to", "local-state", "--remote"],
      ["scripts/seed/cli.ts", "--model", "models/v1", "--remote", "--persist-to", "local-state"],
    ] as const) {
      const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, args[0]), ...args.slice(1)], {
        encoding: "utf8",
        cwd: mkdtempSync(join(tmpdir(), "ot-kv-place-")),
        timeout: 60_000,
      });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(
        "--remote writes the real namespace and --persist-to local-state names a local state: give one of them\n",
      );
    }
  });
});
