/**
 * `npm run simulate`'s setup problems end it before any work with `simulate failed: <what, and what to run>`, exit
 * 1, no stack trace: no TOKEN_SECRET or events key (no .dev.vars), no demo shop, no Worker, or one refusing the
 * admin key. A demo shop whose products.json or customers.csv is there but malformed is named with its problem, not
 * reported as missing. A `--url` the keys must not be sent to (plain http to another machine) is refused first,
 * exit 2.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { MIN_SECRET_LENGTH } from "../../core/placeholder-secret";

const root = join(import.meta.dirname, "../..");
// none of the Worker's secrets from the environment running the tests: each case gives its own
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !["TOKEN_SECRET", "EVENTS_API_KEYS", "ADMIN_API_KEY", "ADMIN_API_KEYS"].includes(k),
  ),
);
/** The CLI run in `cwd` (where it looks for .dev.vars, as npm runs it in the repository). */
const simulate = (cwd: string, ...args: string[]) =>
  spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/simulate/cli.ts"), ...args], {
    encoding: "utf8",
    cwd,
    env,
  });
const STACK = /\n\s+at /;

/** A port nothing listens on: one the system gave, closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("npm run simulate: setup problems", () => {
  let bare: string;
  let repo: string;
  let shop: (products: string, customers?: string) => string;
  let url: string;

  beforeAll(async () => {
    bare = mkdtempSync(join(tmpdir(), "ot-sim-bare-"));
    // a checkout after `npm start`: its .dev.vars holds the Worker's secrets
    repo = mkdtempSync(join(tmpdir(), "ot-sim-repo-"));
    writeFileSync(
      join(repo, ".dev.vars"),
      'TOKEN_SECRET="sim-test-secret-0123"\nEVENTS_API_KEYS="sim-events"\nADMIN_API_KEYS="sim-admin"\n',
    );
    let n = 0;
    shop = (
      products,
      customers = "user_id,first_seen,department,top_categories\nc1,2026-01-01,Home,Mugs|Tableware\n",
    ) => {
      const dir = join(repo, `demo-${n++}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "customers.csv"), customers);
      writeFileSync(join(dir, "products.json"), products);
      return dir;
    };
    url = `http://127.0.0.1:${await closedPort()}`;
  });

  it("no .dev.vars and no TOKEN_SECRET: says which is missing and to run npm start, exit 1", () => {
    const r = simulate(bare);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `simulate failed: no TOKEN_SECRET (there is no ${join(bare, ".dev.vars")}): run \`npm start\` once`,
    );
    expect(r.stderr).not.toMatch(STACK);
  });

  it("a TOKEN_SECRET the Worker ignores (shorter than MIN_SECRET_LENGTH characters): says so, exit 1, before anything is asked", () => {
    const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/simulate/cli.ts"), "--url", url], {
      encoding: "utf8",
      cwd: repo,
      env: { ...env, TOKEN_SECRET: "s".repeat(MIN_SECRET_LENGTH - 1) },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `simulate failed: TOKEN_SECRET is shorter than ${MIN_SECRET_LENGTH} characters, which the Worker ignores`,
    );
    expect(r.stderr).not.toMatch(STACK);
  });

  it("no demo shop: where it was looked for and what to run, exit 1", () => {
    const r = simulate(repo, "--demo", "no-such-demo", "--url", url);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "simulate failed: no demo shop in no-such-demo (no no-such-demo/customers.csv): run `npm start` (or `npm run demo`) first",
    );
    expect(r.stderr).not.toMatch(STACK);
  });

  it("a products.json that is not JSON: its path and the parser's error, not a missing shop", () => {
    const dir = shop('[{"id":"p1","category":"Mugs","price":12},');
    const r = simulate(repo, "--demo", dir, "--url", url);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^simulate failed: ${join(dir, "products.json")} is not valid JSON: .*JSON`, "m"),
    );
    expect(r.stderr).not.toContain("no demo shop");
    expect(r.stderr).not.toMatch(STACK);
  });

  it("a products.json of the wrong shape, or a customers.csv without tastes: the file, the entry and the field", () => {
    const priced = shop('[{"id":"p1","category":"Mugs","price":12},{"id":"p2","category":"Mugs","price":"9.50"}]');
    const r = simulate(repo, "--demo", priced, "--url", url);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`simulate failed: ${join(priced, "products.json")}: entry 1: price: `);
    const object = simulate(repo, "--demo", shop('{"items":[]}'), "--url", url);
    expect(object.stderr).toMatch(/products\.json: .*expected array/);
    const tasteless = shop('[{"id":"p1","category":"Mugs","price":12}]', "user_id\nc1\n");
    const csv = simulate(repo, "--demo", tasteless, "--url", url);
    expect(csv.stderr).toContain(`simulate failed: ${join(tasteless, "customers.csv")}: customer 0: top_categories: `);
    for (const x of [r, object, csv]) {
      expect(x.status).toBe(1);
      expect(x.stderr).not.toContain("no demo shop");
      expect(x.stderr).not.toMatch(STACK);
    }
  });

  it("a plain-http --url to another machine is refused before anything is sent, as the other CLIs refuse it", () => {
    const demo = shop('[{"id":"p1","category":"Mugs","price":12}]');
    const r = spawnSync(
      join(root, "node_modules/.bin/tsx"),
      [join(root, "scripts/simulate/cli.ts"), "--demo", demo, "--url", "http://worker.example"],
      { encoding: "utf8", cwd: repo, env: { ...env, ADMIN_API_KEY: "a-deployed-workers-admin-key" } },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--url http://worker.example: https only (plain http only to this machine)");
    expect(r.stderr).not.toContain("no Worker answers");
    const notUrl = simulate(repo, "--demo", demo, "--url", "127.0.0.1:8787");
    expect(notUrl.status).toBe(2);
    expect(notUrl.stderr).toContain("--url 127.0.0.1:8787 is not a URL");
  });

  /**
   * The simulation of ten readers run against a local stand-in for the Worker answering as `answer` does (health
   * answered ok before it): what it asked, its exit status, its stderr and the stand-in's URL.
   */
  async function againstStandIn(answer: (req: IncomingMessage, res: ServerResponse) => void) {
    const asked: string[] = [];
    const server = createHttpServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      res.setHeader("Content-Type", "application/json");
      if (req.url === "/v1/health") return res.end('{"ok":true}');
      answer(req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const worker = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const demo = shop('[{"id":"p1","category":"Mugs","price":12}]');
      const child = spawn(
        join(root, "node_modules/.bin/tsx"),
        [join(root, "scripts/simulate/cli.ts"), "--demo", demo, "--url", worker, "--readers", "10"],
        { cwd: repo, env },
      );
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const status = await new Promise<number | null>((r) => child.on("close", r));
      return { asked, status, stderr, worker };
    } finally {
      server.close();
    }
  }

  it("a Worker that refuses the admin key: says so and what to set, exit 1, before any campaign is stored", async () => {
    const { asked, status, stderr, worker } = await againstStandIn((_, res) => {
      res.statusCode = 401;
      res.end('{"error":{"code":"UNAUTHORIZED","message":"invalid or missing API key"}}');
    });
    expect(status).toBe(1);
    expect(stderr).toContain(`simulate failed: ${worker}/v1/admin/campaigns?limit=1 refused the admin key (401: `);
    expect(stderr).toContain("set ADMIN_API_KEY to one of the Worker's ADMIN_API_KEYS");
    expect(stderr).not.toMatch(STACK);
    expect(asked.filter((a) => a.startsWith("PUT"))).toEqual([]);
  });

  it("a Worker that fails part way (a write refused after the setup): says what failed, exit 1, no stack", async () => {
    const { status, stderr } = await againstStandIn((req, res) => {
      if (req.method === "GET") return res.end('{"ids":[]}');
      res.statusCode = 500;
      res.end('{"error":{"code":"INTERNAL","message":"internal error"}}');
    });
    expect(status).toBe(1);
    expect(stderr).toMatch(/simulate failed: PUT \/v1\/admin\/campaigns\/sim-[^:]+: 500 /);
    expect(stderr).not.toMatch(STACK);
  });

  it("a sound setup gets as far as the Worker: none at --url says so, exit 1", () => {
    const r = simulate(repo, "--demo", shop('[{"id":"p1","category":"Mugs","price":12}]'), "--url", url);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`simulate failed: no Worker answers at ${url}: start one with \`npm start\``);
    expect(r.stderr).not.toMatch(STACK);
  });
});
