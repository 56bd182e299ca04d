/**
 * What deploys and what runs locally: `wrangler deploy --dry-run` of the repository's own configuration
 * (offline, ~2 s) binds neither DEMO_ROUTES nor PREVIEW_PAGE, so the demo shop and the preview page do not
 * ship; wrangler.toml keeps Workers Logs' invocation logs off and no secret in [vars]; `npm start`'s `.dev.vars`
 * (created, or completed when an older one lacks the line) turns the local routes on.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MIN_SECRET_LENGTH } from "../../core/placeholder-secret";
import { adminKey, ensureDevVars, readDevVars } from "../../scripts/lib/dev-vars";
import { SCHEDULED_CRONS } from "../../worker/scheduled-crons";

const work = mkdtempSync(join(tmpdir(), "ot-deploy-config-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The variables `wrangler deploy --dry-run` lists as the Worker's bindings: a string without its quotes, any other
 * value (`DEMO_ROUTES = true`, a number, an array: the Worker reads those too) as wrangler prints it.
 */
function deployedVars(): Record<string, string> {
  const res = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", join(work, "bundle")], {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  expect(res.status, res.stderr || res.stdout).toBe(0);
  expect(res.stdout).toContain("--dry-run: exiting now.");
  const vars: Record<string, string> = {};
  for (const m of res.stdout.matchAll(/^env\.([A-Z0-9_]+) \((.*)\)\s+Environment Variable\s*$/gm)) {
    const raw = m[2] as string;
    vars[m[1] as string] = /^".*"$/.test(raw) ? raw.slice(1, -1) : raw;
  }
  return vars;
}

describe("wrangler deploy --dry-run of wrangler.toml", () => {
  it("binds neither DEMO_ROUTES nor PREVIEW_PAGE (no demo shop, no preview page in production)", () => {
    const vars = deployedVars();
    // the table was read: the configuration's other variables are there
    expect(vars.EXCLUDE_PURCHASED_DAYS).toBe("30");
    expect(vars.DEMO_ROUTES).toBeUndefined();
    expect(vars.PREVIEW_PAGE).toBeUndefined();
  });
});

describe("what wrangler.toml keeps out of production", () => {
  /** The `key = value` lines of one [table] of wrangler.toml, comments left out. */
  function table(name: string): Record<string, string> {
    const lines = readFileSync("wrangler.toml", "utf8").split("\n");
    const start = lines.findIndex((l) => l.trim() === `[${name}]`);
    expect(start, `[${name}]`).toBeGreaterThanOrEqual(0);
    const out: Record<string, string> = {};
    for (const line of lines.slice(start + 1)) {
      if (/^\s*\[/.test(line)) break;
      const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) out[m[1] as string] = m[2] as string;
    }
    return out;
  }

  it("schedules exactly the Cron Triggers the Worker has a job for (worker/scheduled-crons.ts)", () => {
    const toml = readFileSync("wrangler.toml", "utf8");
    const crons = /^crons\s*=\s*\[(.*)\]\s*$/m.exec(toml)?.[1];
    expect(crons).toBeDefined();
    const listed = [...(crons as string).matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...SCHEDULED_CRONS].sort());
  });

  it("no invocation logs: they record every request's URL, and URLs carry tokens and user ids", () => {
    expect(table("observability.logs").invocation_logs).toBe("false");
  });

  it("no secret in [vars]: they are put with `wrangler secret put` (README, production checklist)", () => {
    const vars = Object.keys(table("vars"));
    expect(vars).toContain("AMP_ALLOWED_SENDERS");
    for (const secret of [
      "TOKEN_SECRET",
      "TOKEN_SECRET_PREVIOUS",
      "EVENTS_API_KEYS",
      "ADMIN_API_KEYS",
      "TRIGGER_WEBHOOK_SECRET",
    ])
      expect(vars).not.toContain(secret);
  });
});

describe("npm start's .dev.vars (local development)", () => {
  it("a new one holds the local secrets and DEMO_ROUTES=true", () => {
    const path = join(work, "new.dev.vars");
    const secret = ensureDevVars(path);
    const vars = readDevVars(path);
    expect(vars.TOKEN_SECRET).toBe(secret);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(vars.EVENTS_API_KEYS?.length).toBeGreaterThanOrEqual(32);
    expect(vars.ADMIN_API_KEYS?.length).toBeGreaterThanOrEqual(32);
    expect(vars.TRIGGER_WEBHOOK_SECRET?.length).toBeGreaterThanOrEqual(32);
    expect(vars.DEMO_ROUTES).toBe("true");
  });

  it("an older one (no DEMO_ROUTES, no final newline) keeps its lines and gains what it lacks", () => {
    const path = join(work, "old.dev.vars");
    const old =
      '# mine\nTOKEN_SECRET="kept-secret-0123456789abcdef"\nEVENTS_API_KEYS="e-0123456789abcdef"\nADMIN_API_KEYS="a-0123456789abcdef"';
    writeFileSync(path, old);
    expect(ensureDevVars(path)).toBe("kept-secret-0123456789abcdef");
    const grown = readFileSync(path, "utf8");
    expect(grown).toMatch(new RegExp(`^${old}\nTRIGGER_WEBHOOK_SECRET="[A-Za-z0-9_-]{43}"\nDEMO_ROUTES="true"\n$`));
    ensureDevVars(path); // a second run adds nothing
    expect(readFileSync(path, "utf8")).toBe(grown);
  });

  it("reads it as wrangler does (dotenv: export, single quotes, a comment after the value)", () => {
    const path = join(work, "dotenv.dev.vars");
    writeFileSync(
      path,
      "# mine\nexport ADMIN_API_KEYS='a-key,b-key'\nTOKEN_SECRET=\"with spaces and = sign\" # rotated in May\nEMPTY=\n",
    );
    expect(readDevVars(path)).toEqual({
      ADMIN_API_KEYS: "a-key,b-key",
      TOKEN_SECRET: "with spaces and = sign",
      EMPTY: "",
    });
  });

  it("a developer's own DEMO_ROUTES (even false) is kept", () => {
    const path = join(work, "off.dev.vars");
    writeFileSync(path, 'TOKEN_SECRET="kept-secret-0123456789abcdef"\nDEMO_ROUTES="false"\n');
    ensureDevVars(path);
    expect(readDevVars(path).DEMO_ROUTES).toBe("false");
  });

  it("one copied from .dev.vars.example gets random values for its placeholders, which the Worker ignores", () => {
    const path = join(work, "copied.dev.vars");
    writeFileSync(path, readFileSync(".dev.vars.example", "utf8"));
    const secret = ensureDevVars(path);
    const vars = readDevVars(path);
    for (const k of ["TOKEN_SECRET", "EVENTS_API_KEYS", "ADMIN_API_KEYS", "TRIGGER_WEBHOOK_SECRET"]) {
      expect(vars[k], k).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(readFileSync(path, "utf8").match(new RegExp(`^${k}=`, "gm")), k).toHaveLength(1);
    }
    expect(secret).toBe(vars.TOKEN_SECRET);
    // its comments and other settings stay
    expect(readFileSync(path, "utf8")).toContain("# Copy to .dev.vars");
    expect(vars.DEMO_ROUTES).toBe("true");
    const again = readFileSync(path, "utf8");
    ensureDevVars(path);
    expect(readFileSync(path, "utf8")).toBe(again);
  });

  it("a secret or key list the Worker would ignore whole (too short) is replaced, one it takes in part is kept", () => {
    const path = join(work, "short.dev.vars");
    writeFileSync(
      path,
      'TOKEN_SECRET="dev"\nEVENTS_API_KEYS="e1,e2"\nADMIN_API_KEYS="short,a-0123456789abcdef"\nTRIGGER_WEBHOOK_SECRET="w"\n',
    );
    const logged: string[] = [];
    const secret = ensureDevVars(path, (m) => logged.push(m));
    const vars = readDevVars(path);
    // the demo token npm start prints is signed with a secret the Worker takes
    expect(secret).toBe(vars.TOKEN_SECRET);
    expect(secret.length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    expect(vars.EVENTS_API_KEYS).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(vars.TRIGGER_WEBHOOK_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(vars.ADMIN_API_KEYS).toBe("short,a-0123456789abcdef");
    for (const k of ["TOKEN_SECRET", "EVENTS_API_KEYS", "TRIGGER_WEBHOOK_SECRET"]) {
      expect(readFileSync(path, "utf8").match(new RegExp(`^${k}=`, "gm")), k).toHaveLength(1);
      expect(logged.join("\n")).toContain(k);
    }
    // named, never shown
    expect(logged.join("\n")).not.toContain(secret);
    const again = readFileSync(path, "utf8");
    ensureDevVars(path);
    expect(readFileSync(path, "utf8")).toBe(again);
  });

  it("a key list kept for the one key the Worker takes: the CLIs send that key, not the one it ignores", () => {
    const path = join(work, "mixed.dev.vars");
    // .dev.vars.example copied, and a key of one's own added after its placeholder
    writeFileSync(path, 'ADMIN_API_KEYS="replace-with-another-long-random-key,own-admin-key-0123456789"\n');
    ensureDevVars(path);
    const kept = readDevVars(path).ADMIN_API_KEYS as string;
    expect(kept).toBe("replace-with-another-long-random-key,own-admin-key-0123456789");
    vi.stubEnv("ADMIN_API_KEY", "");
    try {
      vi.stubEnv("ADMIN_API_KEYS", kept);
      expect(adminKey("http://127.0.0.1:8787", "--url")).toBe("own-admin-key-0123456789");
      vi.stubEnv("ADMIN_API_KEYS", "short,a-0123456789abcdef");
      expect(adminKey("http://127.0.0.1:8787", "--url")).toBe("a-0123456789abcdef");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it(".dev.vars.example, for `npm run dev` by hand, turns the local routes on", () => {
    expect(readDevVars(".dev.vars.example").DEMO_ROUTES).toBe("true");
  });
});
