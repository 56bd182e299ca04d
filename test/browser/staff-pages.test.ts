/**
 * The staff pages in headless Chromium against the real Worker in workerd with a freshly trained demo model.
 * The preview page, as a developer uses it: the page loads, a user is picked, the HTML part's open-time
 * images decode, and clicking one lands on the product that image showed (with UTM); as a marketer uses it: on a
 * phone, with answers late, lost or never coming, pinned items and block cards said as such, a new campaign by its
 * id, unsaved edits kept across campaigns, one save at a time (also across picking away and back). The dashboard, after a
 * small run of the experiment simulation (`npm run simulate`'s own code, through the Worker's APIs): the
 * Worker's store counted exactly what the simulation did, the page renders its charts, and every number it
 * shows equals the reporting API's; an experiment's Stop button, clicked, stops it and the page says so. Screenshots kept in test-artifacts/ (not committed).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import type { Miniflare } from "miniflare";
import { type Browser, chromium, type Page, type Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Profile } from "../../core/profile";
import {
  BENCH_ADMIN_KEY,
  BENCH_EVENTS_KEY,
  BENCH_SECRET,
  BENCH_SENDER,
  bundleBenchWorker,
  putEntries,
  startWorkerd,
} from "../../scripts/bench/workerd-harness";
import { generateDemo } from "../../scripts/demo/generate";
import { allEntries } from "../../scripts/seed/kv-entries";
import type { SimReader } from "../../scripts/simulate/reader-model";
import { runSimulation, type SimProduct } from "../../scripts/simulate/simulation";
import { trainAndExport } from "../../scripts/train/pipeline";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = "test-artifacts";
let mf: Miniflare;
let browser: Browser;
let origin: string;
let user: string;
/** a second reader the model knows (their email differs from `user`'s) */
let other: string;
const work = mkdtempSync(join(tmpdir(), "ot-browser-"));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  await generateDemo(join(work, "demo"), { products: 480, customers: 800, seed: 5 });
  const model = await trainAndExport({
    data: join(work, "demo/events.csv"),
    catalog: join(work, "demo/products.json"),
    out: join(work, "models"),
    als: { factors: 32, iterations: 8 },
    tune: false,
    goldenUsers: 5,
  });
  [user, other] = readFileSync(join(model.dir, "profiles.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Profile)
    .filter((p) => p.factors !== null)
    .map((p) => p.userId) as [string, string];
  bundleBenchWorker();
  mf = startWorkerd(join(work, "kv"), { port: 0, bindings: { DEMO_ROUTES: "true" } });
  origin = (await mf.ready).origin;
  await putEntries(mf, (await allEntries(model.dir, true)).entries);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await mf?.dispose();
  rmSync(work, { recursive: true, force: true });
});

/**
 * each poll waits on the Worker (the first on a cold isolate: ORT, the model from KV); vitest's default second was
 * too short on a loaded 2-core machine (a CI run failed on the first one)
 */
const POLL = { timeout: 30_000 };

/** A promise and what settles it: a test holds a request until it says so. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { opened, open };
}

/** Picks `campaign` on the preview page and waits for its editor (Save enabled). */
async function pick(page: Page, campaign: string): Promise<void> {
  await page.selectOption("#campaign", campaign);
  await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
}

/** The preview page in a new tab of `width` (a phone's 375, else a desktop's 1280), `campaign` picked. */
async function editing(campaign: string, width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: width < 600 ? 800 : 1000 } });
  await page.goto(`${origin}/`);
  await pick(page, campaign);
  return page;
}

/** A campaign's text with `badge`: what the editor tests type and save. */
const badged = (badge: string) => JSON.stringify({ v: 2, badge, default: { id: "picks", type: "recommendations" } });

/** The preview page with a new campaign `id` opened by its id (saving it creates it). */
async function newCampaign(id: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${origin}/`);
  await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
  await page.fill("#campaign-other", id);
  await page.press("#campaign-other", "Enter");
  await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
  return page;
}

/**
 * Holds the page's requests of campaign `id` that `which` picks (given the request and how many came before it, from
 * 1) until `release()`; `sent` settles once one is on its way. The others go through at once.
 */
async function holdRequests(
  page: Page,
  id: string,
  which: (request: Request, n: number) => boolean,
): Promise<{ sent: Promise<void>; release: () => void }> {
  const { opened: held, open: release } = gate();
  const { opened: sent, open: send } = gate();
  let n = 0;
  await page.route(
    (url) => url.pathname === `/v1/preview/campaigns/${id}`,
    async (r) => {
      if (which(r.request(), ++n)) {
        send();
        await held;
      }
      await r.continue();
    },
  );
  return { sent, release };
}

/** Holds the page's saves of campaign `id` until `release()`; `sent` settles once one is on its way. */
const holdSaves = (page: Page, id: string) => holdRequests(page, id, (request) => request.method() === "PUT");

/** The badge of campaign `id` as the Worker holds it. */
async function storedBadge(id: string): Promise<string | undefined> {
  const stored = (await (await fetch(`${origin}/v1/preview/campaigns/${id}`)).json()) as {
    campaign: { badge?: string };
  };
  return stored.campaign.badge;
}

/** The WCAG contrast ratio of an element's text against its own background (both opaque here). */
function contrast(page: Page, selector: string): Promise<number> {
  return page
    .locator(selector)
    .first()
    .evaluate((el) => {
      const style = getComputedStyle(el);
      const luminance = (css: string) => {
        const [r, g, b] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
          const c = Number(v) / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        }) as [number, number, number];
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const [hi, lo] = [luminance(style.color), luminance(style.backgroundColor)].sort((a, b) => b - a) as [
        number,
        number,
      ];
      return (hi + 0.05) / (lo + 0.05);
    });
}

/** What the page's Content-Security-Policy refused, as Chromium reports it on the console. */
function cspRefusals(page: Page): string[] {
  const refused: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) refused.push(m.text());
  });
  return refused;
}

/** Whether a script put into the page, as an injection would, runs (inline scripts run as they are inserted). */
function injectedScriptRuns(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = true";
    document.body.append(script);
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
}

describe("preview page in Chromium", () => {
  it("fits a phone (375 px), labels its editor, and each error says what to do", async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toContain('"default"');
    // one column: nothing wider than the screen (two columns made the page 716 px wide)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // the editor has a name a screen reader says
    expect(await page.getByRole("textbox", { name: /^Campaign/ }).count()).toBe(1);
    // Forget decisions before a user is picked: what to do, not the API's "user: Too small"
    await page.click("#reset");
    await expect.poll(() => page.textContent("#reset-status")).toMatch(/^pick a user first/);
    // what the editor said of one campaign is not left standing under another
    await page.fill("#campaign-json", "[]");
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toMatch(/^BAD_REQUEST: \(root\)/);
    await page.selectOption("#campaign", "demo-live");
    // (loaded: the editor's Save is enabled again)
    await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
    expect(await page.textContent("#save-status")).toBe("");
    // the Worker stopped: said so, with what to do (it was "Failed to fetch")
    await page.route("**/v1/preview/**", (r) => r.abort("connectionrefused"));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status")).toMatch(/^the Worker did not answer: is npm start/);
    await page.selectOption("#user", user);
    await expect.poll(() => page.textContent("#status")).toMatch(/^the Worker did not answer/);
    await page.selectOption("#campaign", "demo");
    await expect.poll(() => page.textContent("#save-status")).toMatch(/^campaign demo not loaded \(pick it again/);
    // an answer that is not JSON (a proxy's error page, a Worker restarting): its status, not a parser's error
    await page.unroute("**/v1/preview/**");
    await page.route("**/v1/preview/**", (r) =>
      r.fulfill({ status: 502, contentType: "text/html", body: "<p>bad gateway</p>" }),
    );
    await page.selectOption("#layout", "card");
    await expect.poll(() => page.textContent("#status")).toMatch(/^the Worker answered 502 .*, not JSON: wait/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("loads, picks a user, decodes the open-time images, and a click lands on the product shown", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const shown = new Map<string, string>();
    page.on("response", (res) => {
      const m = /\/v1\/img\/[^/]+\/(row-\d)(@2x)?\.png$/.exec(new URL(res.url()).pathname);
      if (m) shown.set(m[1] as string, res.headers()["x-opentime-item"] ?? "");
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const refused = cspRefusals(page);

    await page.goto(`${origin}/`);
    await expect.poll(() => page.locator("#user option").count(), POLL).toBeGreaterThan(1);
    await page.selectOption("#user", user);
    await page.waitForSelector('#status[data-images="3/3"]', { timeout: 60_000 });

    // each image is a decoded PNG of the slot's size, drawn at 2x
    const frame = page.frameLocator("#html-frame");
    const sizes = await frame
      .locator("img")
      .evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => [i.naturalWidth, i.naturalHeight]));
    expect(sizes).toEqual([
      [400, 600],
      [400, 600],
      [400, 600],
    ]);
    expect([...shown.keys()].sort()).toEqual(["row-0", "row-1", "row-2"]);
    // the decisions table shows what each image showed
    await expect.poll(() => page.locator("#decisions tr[data-item]").count(), POLL).toBe(3);
    const decided = await page
      .locator("#decisions tr[data-item]")
      .evaluateAll((rows) => rows.map((r) => [(r as HTMLElement).dataset.slot, (r as HTMLElement).dataset.item]));
    expect(Object.fromEntries(decided)).toEqual(Object.fromEntries(shown));
    // why: personalized scores, and the AMP part's static view lists the items
    await expect.poll(() => page.locator("#why tbody tr").count(), POLL).toBe(6);
    expect(await page.locator("#why-meta").textContent()).toContain("personalized");
    // (its template renders the whole answer as amp-list's one item: the cards inside it)
    const amp = page.frameLocator("#amp-frame");
    expect(await amp.locator("[role=listitem]").count()).toBe(1);
    expect(await amp.locator("a.card").count()).toBe(6);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "preview.png"), fullPage: true });

    // click the second image: the iframe follows /v1/c/... to the demo product page of the item it showed
    await frame.locator('a[href*="/row-1"]').click();
    const product = frame.locator("h1[data-product-id]");
    await product.waitFor({ timeout: 30_000 });
    expect(await product.getAttribute("data-product-id")).toBe(shown.get("row-1"));
    const landed = await page
      .frames()
      .find((f) => f.url().includes("/demo/p/"))
      ?.url();
    expect(new URL(landed as string).searchParams.get("utm_content")).toBe("row-1");
    // Forget decisions: the email shown's three, with its token (the preview's own email)
    await page.click("#reset");
    await expect.poll(() => page.textContent("#reset-status"), POLL).toBe("forgot 3 stored decisions");
    expect(errors).toEqual([]);
    // the page, its script, its data and the email's pictures all within its policy; a script put in is not run
    expect(refused).toEqual([]);
    expect(await injectedScriptRuns(page)).toBe(false);
    expect(refused).toHaveLength(1);
    await page.close();
  });

  it("edits a campaign: a bad field is named by its path, a good one is saved and each reader's block shows why", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const refused = cspRefusals(page);
    await page.goto(`${origin}/`);
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toContain('"default"');
    const banner = { id: "banner", type: "static", title: "Welcome back", image: "/demo/img/x.png", url: "/" };
    const campaign = (gte: unknown) => ({
      v: 2,
      policy: "live",
      blocks: [{ ...banner, when: { purchases: { $gte: gte } } }],
      default: { id: "picks", type: "recommendations" },
    });
    await page.fill("#campaign-json", JSON.stringify(campaign("1")));
    await page.click("#save");
    await expect
      .poll(() => page.textContent("#save-status"))
      .toMatch(/^BAD_REQUEST: blocks\[0\]\.when\.purchases\.\$gte: /);
    await page.fill("#campaign-json", JSON.stringify(campaign(1)));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    // the table is drawn again after the save (before it, it shows the campaign as loaded: block `default`)
    const blocks = () =>
      page.locator("#blocks tbody tr").evaluateAll((trs) => trs.map((r) => (r as HTMLElement).dataset.block));
    await expect
      .poll(async () => {
        const all = await blocks();
        return all.length > 0 && all.every((b) => b === "banner" || b === "picks");
      })
      .toBe(true);
    const rows = await page
      .locator("#blocks tbody tr")
      .evaluateAll((trs) =>
        trs.map((r) => [(r as HTMLElement).dataset.block, (r.lastElementChild as HTMLElement).textContent]),
      );
    for (const [block, why] of rows) {
      expect(["banner", "picks"]).toContain(block);
      expect(why).toMatch(
        block === "banner"
          ? /^banner \(blocks\[0\]: purchases=\d+ \$gte 1 ok\)$/
          : /^picks \(default\); skipped banner: purchases=/,
      );
    }
    expect(rows.some(([block]) => block === "banner")).toBe(true);
    // another editor saves meanwhile: this page's next save is refused instead of silently undoing theirs
    const at = `${origin}/v1/preview/campaigns/${await page.inputValue("#campaign")}`;
    const theirs = await fetch(at, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(campaign(2)),
    });
    expect(theirs.status).toBe(200);
    await page.fill("#campaign-json", JSON.stringify(campaign(3)));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toMatch(/^not saved: someone else saved/);
    const kept = (await (await fetch(at)).json()) as { campaign: ReturnType<typeof campaign> };
    expect(kept.campaign.blocks[0]?.when.purchases.$gte).toBe(2);
    // theirs loaded into the editor, the next save goes through
    await page.click("#reload");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("loaded theirs");
    expect(JSON.parse(await page.inputValue("#campaign-json")).blocks[0].when.purchases.$gte).toBe(2);
    await page.fill("#campaign-json", JSON.stringify(campaign(3)));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    expect(
      ((await (await fetch(at)).json()) as { campaign: ReturnType<typeof campaign> }).campaign.blocks[0]?.when.purchases
        .$gte,
    ).toBe(3);
    expect(errors).toEqual([]);
    expect(refused).toEqual([]);
    await page.close();
  });
});

describe("the preview page as a marketer uses it", () => {
  it("on a phone, a why of one long word wraps instead of widening the page", async () => {
    const page = await editing("demo-live", 375);
    // `boughtCategories=[...] $in [Mugs|Lamps|...]`: one word of 150-odd characters in each reader's why
    const many = ["Mugs", "Lamps", "Cushions", "Throws", "Vases", "Candles", "Tableware", "Glassware", "Bedding"];
    await page.fill(
      "#campaign-json",
      JSON.stringify({
        v: 2,
        blocks: [{ id: "home", type: "recommendations", when: { boughtCategories: { $in: many } } }],
        default: { id: "picks", type: "recommendations" },
      }),
    );
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    // (drawn again after the save)
    await expect.poll(() => page.locator("#blocks tbody").textContent(), POLL).toContain("Mugs|Lamps|Cushions");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // wide, the short cells keep their words whole (breaking anywhere made "recommen-dations", "c000-0001")
    await page.setViewportSize({ width: 1280, height: 800 });
    // (the lines the reader id's text takes: one)
    const lines = await page
      .locator("#blocks tbody td")
      .first()
      .evaluate((td) => {
        const range = document.createRange();
        range.selectNodeContents(td);
        return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size;
      });
    expect(lines).toBe(1);
    await page.close();
  });

  it("an earlier pick's late answer never replaces the reader picked since", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // the first reader's email is held until the second's is shown
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const emailOf = (who: string) => (url: URL) =>
      url.pathname === "/v1/preview/email" && url.searchParams.get("user") === who;
    // (set once the page has read that answer's JSON: its own code after it runs in the same task)
    await page.addInitScript((late) => {
      const json = Response.prototype.json;
      Response.prototype.json = async function (this: Response) {
        const body = await json.call(this);
        if (new URL(this.url).searchParams.get("user") === late) (window as { lateRead?: boolean }).lateRead = true;
        return body;
      };
    }, user);
    await page.goto(`${origin}/`);
    await expect.poll(() => page.locator("#user option").count(), POLL).toBeGreaterThan(2);
    await page.route(emailOf(user), async (r) => {
      await held;
      await r.continue();
    });
    type Email = { recs: { items: { id: string }[] } };
    const firstItem = async (res: Promise<{ json: () => Promise<unknown> }>) =>
      ((await (await res).json()) as Email).recs.items[0]?.id as string;
    const late = firstItem(page.waitForResponse((res) => emailOf(user)(new URL(res.url())), { timeout: 90_000 }));
    await page.selectOption("#user", user);
    const second = firstItem(page.waitForResponse((res) => emailOf(other)(new URL(res.url())), POLL));
    await page.selectOption("#user", other);
    const theirs = await second;
    await expect.poll(() => page.textContent("#json"), POLL).toContain(theirs);
    const shown = await page.textContent("#json");
    release();
    // (the two readers' emails differ: else this would prove nothing)
    expect(await late).not.toBe(theirs);
    await page.waitForFunction(() => (window as { lateRead?: boolean }).lateRead === true, null, POLL);
    expect(await page.textContent("#json")).toBe(shown);
    await page.close();
  });

  it("a Worker that never answers is said so, not left at loading…", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.clock.install();
    await page.goto(`${origin}/`);
    await expect.poll(() => page.locator("#user option").count(), POLL).toBeGreaterThan(1);
    // accepted, never answered
    await page.route(
      (url) => url.pathname === "/v1/preview/email",
      () => undefined,
    );
    await page.selectOption("#user", user);
    await expect.poll(() => page.textContent("#status")).toBe("loading…");
    await page.clock.runFor(61_000);
    await expect.poll(() => page.textContent("#status")).toMatch(/^the Worker did not answer within 60 s: check/);
    await page.close();
  });

  it("a pinned item says pinned (not a fallback), and the item rules' counts are shown", async () => {
    const page = await editing("demo-live");
    const products = JSON.parse(readFileSync(join(work, "demo/products.json"), "utf8")) as { id: string }[];
    const pin = (products[products.length - 1] as { id: string }).id;
    await page.fill(
      "#campaign-json",
      JSON.stringify({ v: 2, default: { id: "picks", type: "recommendations", items: { pinned: [pin] } } }),
    );
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    await page.selectOption("#user", user);
    await expect.poll(() => page.locator("#why tbody tr").count(), POLL).toBe(6);
    const first = page.locator("#why tbody tr").first();
    expect(await first.textContent()).toContain(pin);
    expect(await first.locator(".tag").textContent()).toBe("pinned");
    expect(await page.textContent("#why-meta")).toContain("item rules: 1 pinned, 0 excluded");
    // a block's own content (static, product, countdown) is no fallback either
    await page.fill(
      "#campaign-json",
      JSON.stringify({
        v: 2,
        default: { id: "sale", type: "static", title: "Sale", image: `${origin}/x.png`, url: "/" },
      }),
    );
    await page.click("#save");
    await expect.poll(() => page.locator("#why tbody tr .tag").first().textContent(), POLL).toBe("static block");
    await page.close();
  });

  it("builds a new campaign by its id: opened from the keyboard, saved, and a bad id said so", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${origin}/`);
    await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
    await page.fill("#campaign-other", "spring sale");
    await page.press("#campaign-other", "Enter");
    await expect
      .poll(() => page.textContent("#save-status"))
      .toMatch(/^campaign id "spring sale" not opened: an id is/);
    expect(await page.inputValue("#campaign")).toBe("demo");
    await page.fill("#campaign-other", "spring-2027");
    await page.press("#campaign-other", "Enter");
    expect(await page.inputValue("#campaign")).toBe("spring-2027");
    // none stored: the defaults, saved as a create
    await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
    const sale = { v: 2, badge: "Spring", default: { id: "picks", type: "recommendations" } };
    await page.fill("#campaign-json", JSON.stringify(sale));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    const stored = (await (await fetch(`${origin}/v1/preview/campaigns/spring-2027`)).json()) as {
      campaign: { badge?: string };
    };
    expect(stored.campaign.badge).toBe("Spring");
    await page.close();
  });

  it("one save at a time: a second press while the first is on its way is not refused as someone else's edit", async () => {
    const page = await editing("demo-live");
    const { sent, release } = await holdSaves(page, "demo-live");
    await page.fill("#campaign-json", badged("First"));
    await page.click("#save");
    await sent;
    // the marketer edits on and presses again: the button waits for the first save
    await page.fill("#campaign-json", badged("Second"));
    expect(await page.isEnabled("#save")).toBe(false);
    release();
    await expect
      .poll(() => page.textContent("#save-status"), POLL)
      .toBe("saved what you pressed Save on; the edit shown since is not saved yet");
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    expect(await storedBadge("demo-live")).toBe("Second");
    await page.close();
  });

  it("picking another campaign while a save is on its way: back, the save is no unsaved edit, and saving again works", async () => {
    // edited on after pressing Save (`more`) or not: either way the next save is not refused as someone else's
    for (const [id, more] of [
      ["flight-same", false],
      ["flight-more", true],
    ] as const) {
      const page = await newCampaign(id);
      const { sent, release } = await holdSaves(page, id);
      await page.fill("#campaign-json", badged("First"));
      await page.click("#save");
      await sent;
      if (more) await page.fill("#campaign-json", badged("Second"));
      await page.selectOption("#campaign", "demo");
      const landed = page.waitForResponse(
        (r) => r.url().endsWith(`/campaigns/${id}`) && r.request().method() === "PUT",
      );
      release();
      expect((await landed).status()).toBe(200);
      // said of the campaign it saved, by name: not of the one shown
      await expect.poll(() => page.textContent("#save-status"), POLL).toBe(`${id}: saved`);
      await pick(page, id);
      if (more) {
        expect(await page.inputValue("#campaign-json")).toBe(badged("Second"));
        expect(await page.textContent("#save-status")).toBe(
          `your unsaved edit of ${id} is back: Save campaign to keep it`,
        );
      } else {
        expect(JSON.parse(await page.inputValue("#campaign-json")).badge).toBe("First");
        expect(await page.textContent("#save-status")).toBe("");
        await page.fill("#campaign-json", badged("Second"));
      }
      await page.click("#save");
      await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
      expect(await storedBadge(id)).toBe("Second");
      await page.close();
    }
  });

  it("picking another campaign and back while a save is on its way: Save waits for it, and saving again works", async () => {
    const id = "flight-back";
    const page = await newCampaign(id);
    const { sent, release } = await holdSaves(page, id);
    await page.fill("#campaign-json", badged("First"));
    await page.click("#save");
    await sent;
    await pick(page, "demo");
    // back before the save lands: the edit is back, and Save waits for the save on its way
    await page.selectOption("#campaign", id);
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(badged("First"));
    await expect.poll(() => page.textContent("#save-status"), POLL).toContain("is back");
    expect(await page.isEnabled("#save")).toBe(false);
    const landed = page.waitForResponse((r) => r.url().endsWith(`/campaigns/${id}`) && r.request().method() === "PUT");
    release();
    expect((await landed).status()).toBe(200);
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    expect(await page.isEnabled("#save")).toBe(true);
    // the editor holds the campaign on the ETag that save got: the next save is not refused as someone else's
    await page.fill("#campaign-json", badged("Second"));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    expect(await storedBadge(id)).toBe("Second");
    await page.close();
  });

  it("back to a campaign whose load was read before its save landed: the editor holds what was saved", async () => {
    const id = "flight-late";
    const page = await newCampaign(id);
    const { opened: putHeld, open: releasePut } = gate();
    const { opened: putSent, open: sent } = gate();
    const { opened: getHeld, open: releaseGet } = gate();
    const { opened: getRead, open: read } = gate();
    await page.route(
      (url) => url.pathname === `/v1/preview/campaigns/${id}`,
      async (r) => {
        if (r.request().method() === "PUT") {
          sent();
          await putHeld;
          await r.continue();
          return;
        }
        // the load's answer is read from the Worker before the save lands, and reaches the page after it
        const answer = await r.fetch();
        read();
        await getHeld;
        await r.fulfill({ response: answer });
      },
    );
    await page.fill("#campaign-json", badged("First"));
    await page.click("#save");
    await putSent;
    await pick(page, "demo");
    await page.selectOption("#campaign", id);
    await getRead;
    const landed = page.waitForResponse((r) => r.url().endsWith(`/campaigns/${id}`) && r.request().method() === "PUT");
    releasePut();
    expect((await landed).status()).toBe(200);
    releaseGet();
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(badged("First"));
    await expect.poll(() => page.isEnabled("#save"), POLL).toBe(true);
    await page.fill("#campaign-json", badged("Second"));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    expect(await storedBadge(id)).toBe("Second");
    await page.close();
  });

  it("back before a save lands, with the text from before it: once it lands, the editor shows what was saved", async () => {
    const id = "flight-undone";
    const page = await newCampaign(id);
    const before = await page.inputValue("#campaign-json");
    const { sent, release } = await holdSaves(page, id);
    await page.fill("#campaign-json", badged("First"));
    await page.click("#save");
    await sent;
    // the marketer puts the text back as it was (no unsaved edit to keep), picks away and back before the save lands
    await page.fill("#campaign-json", before);
    await pick(page, "demo");
    await page.selectOption("#campaign", id);
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(before);
    const landed = page.waitForResponse((r) => r.url().endsWith(`/campaigns/${id}`) && r.request().method() === "PUT");
    release();
    expect((await landed).status()).toBe(200);
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(badged("First"));
    await expect.poll(() => page.textContent("#save-status"), POLL).toBe("saved");
    await page.close();
  });

  it("'loaded theirs' is said only when their campaign filled the editor, not after another was picked", async () => {
    const id = "reload-away";
    const page = await newCampaign(id);
    // another editor saves it: this page's save is refused, and Reload is offered
    const theirs = await fetch(`${origin}/v1/preview/campaigns/${id}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "If-None-Match": "*" },
      body: badged("Theirs"),
    });
    expect(theirs.status).toBe(200);
    await page.fill("#campaign-json", badged("Mine"));
    await page.click("#save");
    await expect.poll(() => page.textContent("#save-status"), POLL).toMatch(/^not saved: someone else saved/);
    const { release } = await holdRequests(page, id, () => true);
    await page.click("#reload");
    await pick(page, "demo");
    const late = page.waitForResponse((r) => r.url().endsWith(`/campaigns/${id}`));
    release();
    await late;
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    expect(await page.textContent("#save-status")).not.toBe("loaded theirs");
    expect(await page.inputValue("#campaign-json")).not.toContain("Theirs");
    await page.close();
  });

  it("a campaign picked again while its earlier load is on its way: the later load alone fills the editor", async () => {
    const page = await editing("demo-blocks");
    const edit = badged("Kept");
    await page.fill("#campaign-json", edit);
    // the first load back is late: it answers after the second
    const { sent: firstSent, release } = await holdRequests(page, "demo-blocks", (_, n) => n === 1);
    await pick(page, "demo");
    await page.selectOption("#campaign", "demo-blocks");
    await firstSent;
    await pick(page, "demo");
    await page.selectOption("#campaign", "demo-blocks");
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(edit);
    const late = page.waitForResponse((r) => r.url().endsWith("/campaigns/demo-blocks"));
    release();
    await late;
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    expect(await page.inputValue("#campaign-json")).toBe(edit);
    expect(await page.textContent("#save-status")).toBe(
      "your unsaved edit of demo-blocks is back: Save campaign to keep it",
    );
    await page.close();
  });

  it("an unsaved edit survives picking another campaign and back", async () => {
    const page = await editing("demo-blocks");
    const edit = badged("Half done");
    await page.fill("#campaign-json", edit);
    await pick(page, "demo");
    expect(await page.inputValue("#campaign-json")).not.toContain("Half done");
    await page.selectOption("#campaign", "demo-blocks");
    await expect.poll(() => page.inputValue("#campaign-json"), POLL).toBe(edit);
    expect(await page.textContent("#save-status")).toBe(
      "your unsaved edit of demo-blocks is back: Save campaign to keep it",
    );
    await page.close();
  });
});

describe("dashboard in Chromium", () => {
  it("before any experiment: its header's hint is readable and the page fits a phone", async () => {
    for (const width of [1280, 375]) {
      const page = await browser.newPage({ viewport: { width, height: 800 } });
      await page.goto(`${origin}/dashboard`);
      // "no experiments yet: ... or npm run simulate", the command in the dark header (it was white on near-white)
      expect(await page.locator("header code").textContent()).toBe("npm run simulate");
      expect(await contrast(page, "header code")).toBeGreaterThanOrEqual(4.5);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await page.close();
    }
  });

  it("Stop on an experiment's page stops it: the page comes back saying so, with Start in its place", async () => {
    const put = await fetch(`${origin}/v1/admin/experiments/browser-stop`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${BENCH_ADMIN_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        campaign: "browser-stop-camp",
        variants: [
          { id: "picks", weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
          { id: "popular", weight: 1, content: "popular" },
        ],
      }),
    });
    expect(put.status).toBe(200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const refused = cspRefusals(page);
    await page.goto(`${origin}/dashboard?experiment=browser-stop`);
    expect(await page.locator("[data-testid=experiment-controls]").textContent()).toContain(
      "every reader gets campaign browser-stop-camp as it is",
    );
    // the popular arm says why it cannot be shipped; the other has its button, and its verdict beside it
    expect(await page.locator("tr[data-ship=popular]").textContent()).toContain("Not offered");
    expect(await page.getByRole("button", { name: "Ship arm picks" }).count()).toBe(1);
    await Promise.all([
      page.waitForURL(/change=stopped/),
      page.getByRole("button", { name: "Stop", exact: true }).click(),
    ]);
    expect(await page.locator("[data-testid=experiment-message]").textContent()).toMatch(
      /^Stopped\. Readers now get campaign browser-stop-camp as it is/,
    );
    expect(await page.locator("section[data-testid=experiment] h2").textContent()).toContain("(stopped;");
    expect(await page.getByRole("button", { name: "Start", exact: true }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Stop", exact: true }).count()).toBe(0);
    expect(await page.locator("[data-testid=changes]").textContent()).toContain("stopped");
    const stored = (await (
      await fetch(`${origin}/v1/admin/experiments/browser-stop`, {
        headers: { Authorization: `Bearer ${BENCH_ADMIN_KEY}` },
      })
    ).json()) as { experiment: { status: string } };
    expect(stored.experiment.status).toBe("stopped");
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-stopped.png"), fullPage: true });
    expect(refused).toEqual([]);
    await page.close();
  });

  it("shows the simulated experiment's report, its numbers the reporting API's", async () => {
    const products = JSON.parse(readFileSync(join(work, "demo/products.json"), "utf8")) as SimProduct[];
    const customers = parse(readFileSync(join(work, "demo/customers.csv"), "utf8"), { columns: true }) as {
      top_categories: string;
    }[];
    const readers: SimReader[] = Array.from({ length: 2000 }, (_, i) => ({
      id: `browser-sim-${i}`,
      tastes: (customers[i % customers.length]?.top_categories ?? "").split("|"),
    }));
    const sim = await runSimulation({
      send: (path, init) => fetch(`${origin}${path}`, init),
      adminKey: BENCH_ADMIN_KEY,
      eventsKey: BENCH_EVENTS_KEY,
      tokenSecret: BENCH_SECRET,
      sender: BENCH_SENDER,
      readers,
      products,
      seed: 3,
      skew: 0,
      runId: "browser",
      concurrency: 8,
      settleSeconds: 60,
      log: () => undefined,
    });
    expect(sim.reconciled).toBe(true);
    expect(sim.arm_mismatches).toBe(0);
    // each arm served as configured: every personalized open personalized (no model or profile fallback), every
    // control open the popular items, for the experiment's sake
    expect(sim.served).toEqual({
      personalized: { personalized: sim.simulated.personalized?.exposed },
      popular: { "experiment-popular": sim.simulated.popular?.exposed },
    });
    expect(sim.unpersonalized).toBe(0);
    // the drift job, as its Cron Trigger runs it
    const worker = await mf.getWorker();
    await worker.scheduled({ cron: "30 4 * * *", scheduledTime: new Date() });

    const report = (await (
      await fetch(`${origin}/v1/admin/experiments/${sim.experiment}/report`, {
        headers: { Authorization: `Bearer ${BENCH_ADMIN_KEY}` },
      })
    ).json()) as { arms: Record<string, unknown>[] };
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const refused = cspRefusals(page);
    await page.goto(`${origin}/dashboard?experiment=${sim.experiment}`);
    expect(await page.locator("[data-testid=experiment-id]").textContent()).toBe(sim.experiment);
    const cells = await page
      .locator("[data-metric]")
      .evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.metric, (e as HTMLElement).dataset.value]));
    const shown = Object.fromEntries(cells);
    const fields = ["exposed", "clickers", "clicks", "ctr", "buyers", "conversion", "revenuePerExposed"];
    for (const arm of report.arms) {
      for (const f of fields) expect(shown[`${arm.arm}:${f}`]).toBe(String(arm[f] ?? ""));
      const vs = arm.vsControl as Record<
        "ctr" | "conversion" | "revenue",
        { relative: { estimate: number } | null }
      > | null;
      for (const m of ["ctr", "conversion", "revenue"] as const)
        expect(shown[`${arm.arm}:${m}Uplift`]).toBe(String(vs?.[m].relative?.estimate ?? ""));
    }
    // the charts render (SVG, with the uplift's interval drawn), and model health shows the drift run
    expect(await page.locator("section[data-testid=experiment] svg").count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator("svg g[data-row]").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=active-model]").textContent()).not.toBe("");
    expect(await page.locator("[data-testid=drift] tbody tr").count()).toBe(4);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(errors).toEqual([]);
    // charts and forms within the page's policy, which runs no script at all
    expect(refused).toEqual([]);
    expect(await injectedScriptRuns(page)).toBe(false);
    await page.close();
  });
});
