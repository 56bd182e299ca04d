/**
 * The embedded demo shop: a seeded generator of products, customers with latent tastes, and a year of
 * timestamped events (views, carts, purchases, email opens and clicks) with daily and weekly rhythms.
 * Same options, same bytes. Events are streamed per customer (time-ordered within each customer), so
 * memory stays flat up to 1M customers.
 */
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CatalogItem } from "../../core/catalog";
import { Rng, WeightedSampler } from "../lib/rng";
import { ADJECTIVES, DEPARTMENTS, FEATURES } from "./shop-vocabulary";

export const DEMO_GENERATOR_VERSION = 1;

export interface DemoOptions {
  seed: number;
  products: number;
  customers: number;
  /** last instant of the window (ISO); a date alone (`2026-10-31`) is its last second, UTC, as the default */
  end: string;
  /** months of history */
  months: number;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  seed: 7,
  products: 2400,
  customers: 5000,
  end: "2026-10-31T23:59:59Z",
  months: 12,
};

export interface DemoProduct extends CatalogItem {
  department: string;
  description: string;
}

export interface DemoSummary {
  generatorVersion: number;
  options: DemoOptions;
  products: number;
  categories: number;
  customers: number;
  events: number;
  eventsByType: Record<string, number>;
  firstEventTs: number;
  lastEventTs: number;
}

export type EventType = "view" | "cart_add" | "cart_remove" | "purchase" | "email_open" | "email_click";

const HOUR = 3600;
const DAY = 24 * HOUR;
/** Shop-wide hour-of-day rhythm (UTC): lunchtime and evening peaks. */
const DAILY_RHYTHM = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.8, 4, 5, 4.8, 4, 3.8, 4, 4.5, 5.5, 6.5, 7, 6, 4, 2];
/** Day-of-week multipliers, Sunday first. */
const WEEKLY_RHYTHM = [1.35, 0.95, 0.9, 0.95, 1, 1.05, 1.25];

interface Customer {
  id: string;
  department: number;
  taste: WeightedSampler;
  topCategories: number[];
  budget: number;
  activity: number;
  preferredHour: number;
  openRate: number;
  start: number;
  stop: number;
}

export function buildProducts(opts: DemoOptions, rng: Rng): DemoProduct[] {
  const cats = DEPARTMENTS.flatMap((d) => d.categories.map((c) => ({ dept: d, cat: c })));
  const products: DemoProduct[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < opts.products; i++) {
    const { dept, cat } = cats[i % cats.length] as (typeof cats)[number];
    const noun = rng.pick(cat.nouns);
    const material = rng.pick(dept.materials);
    let title = `${rng.pick(ADJECTIVES)} ${cap(material)} ${noun}`;
    for (let n = 2; seen.has(title); n++) title = `${title.replace(/ No\. \d+$/, "")} No. ${n}`;
    seen.add(title);
    const price = Math.max(2, Math.round(cat.price * Math.exp(0.45 * rng.normal()) * 100) / 100);
    const id = `p${String(i + 1).padStart(6, "0")}`;
    products.push({
      id,
      title,
      category: cat.name,
      department: dept.name,
      description: `A ${noun.toLowerCase()} in ${material}, ${rng.pick(FEATURES)}. Part of our ${cat.name.toLowerCase()} range.`,
      price,
      currency: "GBP",
      image: `/demo/img/${id}.png?w={width}&h={height}`,
      url: `/demo/p/${id}`,
    });
  }
  return products;
}

function cap(s: string): string {
  return s.replace(/\b\w/g, (m) => m.toUpperCase());
}

/** Hour-of-week weights for one customer: shop rhythm mixed with a personal peak hour. */
function sessionHourSampler(preferredHour: number): WeightedSampler {
  const w: number[] = [];
  for (let d = 0; d < 7; d++) {
    for (let h = 0; h < 24; h++) {
      const dist = Math.min(Math.abs(h - preferredHour), 24 - Math.abs(h - preferredHour));
      w.push((WEEKLY_RHYTHM[d] as number) * ((DAILY_RHYTHM[h] as number) / 7 + 3 * Math.exp(-(dist * dist) / 4)));
    }
  }
  return new WeightedSampler(w);
}

export async function generateDemo(outDir: string, options: Partial<DemoOptions> = {}): Promise<DemoSummary> {
  const opts: DemoOptions = { ...DEFAULT_DEMO_OPTIONS, ...options };
  if (opts.products < 24 || opts.products > 100_000) throw new Error("--products must be between 24 and 100000");
  if (opts.customers < 1 || opts.customers > 1_000_000) throw new Error("--customers must be between 1 and 1000000");
  // a date alone is the whole day, to its last second (Date.parse would take its first)
  const end = Math.floor(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(opts.end) ? `${opts.end}T23:59:59Z` : opts.end) / 1000);
  if (!Number.isFinite(end)) throw new Error(`--end is not a date: ${opts.end}`);
  const start = end - Math.round(opts.months * 30.44 * DAY);
  await mkdir(outDir, { recursive: true });

  const rng = new Rng(opts.seed);
  const products = buildProducts(opts, rng);
  const categoryNames = [...new Set(products.map((p) => p.category))];
  const deptOfCategory = categoryNames.map((c) => DEPARTMENTS.findIndex((d) => d.categories.some((x) => x.name === c)));
  const byCategory = categoryNames.map(() => [] as number[]);
  products.forEach((p, i) => {
    byCategory[categoryNames.indexOf(p.category)]?.push(i);
  });
  // within-category popularity: Zipf over a random order
  const popularity = new Float64Array(products.length);
  for (const members of byCategory) {
    const order = [...members].sort(() => rng.next() - 0.5);
    order.forEach((p, rank) => {
      popularity[p] = 1 / (rank + 1) ** 0.9;
    });
  }
  const hourSamplers = Array.from({ length: 24 }, (_, h) => sessionHourSampler(h));

  const events = createWriteStream(join(outDir, "events.csv"));
  const customersOut = createWriteStream(join(outDir, "customers.csv"));
  events.write("event_id,user_id,type,item_id,ts,campaign\n");
  customersOut.write("user_id,first_seen,department,top_categories\n");
  const counts: Record<string, number> = {};
  let total = 0;
  let firstTs = Number.POSITIVE_INFINITY;
  let lastTs = 0;
  const write = async (line: string) => {
    if (!events.write(line)) await new Promise<void>((r) => events.once("drain", () => r()));
  };

  // weekly campaigns: Tuesdays 09:00 and Fridays 17:00 UTC
  const campaigns: { id: string; ts: number }[] = [];
  for (let t = start - (start % DAY); t < end; t += DAY) {
    const dow = new Date(t * 1000).getUTCDay();
    if (dow === 2) campaigns.push({ id: `weekly-${new Date(t * 1000).toISOString().slice(0, 10)}`, ts: t + 9 * HOUR });
    if (dow === 5)
      campaigns.push({ id: `weekend-${new Date(t * 1000).toISOString().slice(0, 10)}`, ts: t + 17 * HOUR });
  }

  for (let ci = 0; ci < opts.customers; ci++) {
    const c = makeCustomer(ci, rng, categoryNames.length, deptOfCategory, start, end);
    customersOut.write(
      `${c.id},${new Date(c.start * 1000).toISOString()},${DEPARTMENTS[c.department]?.name},${c.topCategories.map((k) => categoryNames[k]).join("|")}\n`,
    );
    const lines: { ts: number; line: string }[] = [];
    let seq = 0;
    const emit = (type: EventType, ts: number, item: number | null, campaign = "") => {
      lines.push({ ts, line: `,${c.id},${type},${item === null ? "" : products[item]?.id},${ts},${campaign}\n` });
      seq++;
    };
    const pickProduct = (cat: number) => {
      const members = byCategory[cat] as number[];
      let best = members[0] as number;
      let bestW = -1;
      for (let tries = 0; tries < 4; tries++) {
        const p = rng.pick(members);
        const priceFit = Math.exp(-Math.abs(Math.log((products[p] as DemoProduct).price / c.budget)));
        const w = (popularity[p] as number) * (0.3 + priceFit) * rng.next();
        if (w > bestW) {
          bestW = w;
          best = p;
        }
      }
      return best;
    };
    const session = (t0: number, firstItem: number | null) => {
      let t = t0;
      let cat =
        firstItem !== null ? categoryNames.indexOf((products[firstItem] as DemoProduct).category) : c.taste.sample(rng);
      const carted: number[] = [];
      const views = 1 + rng.poisson(2.2);
      for (let v = 0; v < views && t < end; v++) {
        const item = v === 0 && firstItem !== null ? firstItem : pickProduct(cat);
        emit("view", t, item);
        if (rng.next() < 0.18) {
          t += 20 + rng.int(90);
          emit("cart_add", t, item);
          carted.push(item);
        }
        t += 30 + rng.int(150);
        if (rng.next() < 0.3) cat = rng.next() < 0.6 ? c.taste.sample(rng) : sameDepartment(cat, deptOfCategory, rng);
      }
      for (const item of carted) {
        if (t >= end) break;
        const r = rng.next();
        if (r < 0.55) {
          t += 60 + rng.int(300);
          emit("purchase", t, item);
        } else if (r < 0.7) {
          t += 30 + rng.int(120);
          emit("cart_remove", t, item);
        }
      }
    };

    const sessions = rng.poisson(c.activity * ((c.stop - c.start) / (end - start)));
    const hours = hourSamplers[c.preferredHour] as WeightedSampler;
    for (let s = 0; s < sessions; s++) {
      const ts = alignToHourOfWeek(c.start + rng.int(Math.max(1, c.stop - c.start)), hours.sample(rng), rng);
      if (ts >= c.start && ts < end) session(ts, null);
    }
    for (const camp of campaigns) {
      if (camp.ts < c.start || camp.ts > c.stop || rng.next() > c.openRate) continue;
      const delay = hoursUntil(camp.ts, c.preferredHour) * HOUR + rng.int(3 * HOUR) + rng.poisson(1) * DAY;
      const openTs = camp.ts + delay;
      if (openTs >= end) continue;
      emit("email_open", openTs, null, camp.id);
      if (rng.next() < 0.22) {
        const item = pickProduct(c.taste.sample(rng));
        emit("email_click", openTs + 5 + rng.int(60), item, camp.id);
        session(openTs + 10 + rng.int(60), item);
      }
    }
    lines.sort((a, b) => a.ts - b.ts);
    let i = 0;
    for (const l of lines) {
      const type = l.line.split(",")[2] as string;
      counts[type] = (counts[type] ?? 0) + 1;
      firstTs = Math.min(firstTs, l.ts);
      lastTs = Math.max(lastTs, l.ts);
      await write(`${c.id}-${i++}${l.line}`);
    }
    total += seq;
  }
  await new Promise<void>((resolve, reject) => events.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve) => customersOut.end(() => resolve()));
  await writeFile(join(outDir, "products.json"), `${JSON.stringify(products, null, 0)}\n`);
  const summary: DemoSummary = {
    generatorVersion: DEMO_GENERATOR_VERSION,
    options: opts,
    products: products.length,
    categories: categoryNames.length,
    customers: opts.customers,
    events: total,
    eventsByType: Object.fromEntries(Object.entries(counts).sort()),
    firstEventTs: firstTs,
    lastEventTs: lastTs,
  };
  await writeFile(join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

function makeCustomer(
  index: number,
  rng: Rng,
  nCategories: number,
  deptOfCategory: number[],
  start: number,
  end: number,
): Customer {
  const department = rng.int(DEPARTMENTS.length);
  const base = rng.dirichlet(nCategories, 0.12);
  const inDept = deptOfCategory.map((d) => (d === department ? 1 : 0));
  const deptSize = inDept.reduce((a: number, b) => a + b, 0);
  const weights = base.map((w, k) => 0.45 * w + (0.55 * (inDept[k] as number)) / deptSize);
  const topCategories = weights
    .map((w, k) => [w, k] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 3)
    .map(([, k]) => k);
  const span = end - start;
  const first = rng.next() < 0.35 ? start : start + rng.int(Math.floor(span * 0.9));
  const lapsed = rng.next() < 0.2;
  return {
    id: `c${String(index + 1).padStart(7, "0")}`,
    department,
    taste: new WeightedSampler(weights),
    topCategories,
    budget: 40 * Math.exp(0.7 * rng.normal()),
    activity: Math.min(80, 7 * Math.exp(0.8 * rng.normal())),
    preferredHour: new WeightedSampler(DAILY_RHYTHM).sample(rng),
    openRate: Math.min(0.9, rng.gamma(2) * 0.07),
    start: first,
    stop: lapsed ? first + Math.floor((end - first) * rng.next()) : end,
  };
}

function sameDepartment(cat: number, deptOfCategory: number[], rng: Rng): number {
  const d = deptOfCategory[cat];
  const options = deptOfCategory.map((x, k) => (x === d ? k : -1)).filter((k) => k >= 0);
  return rng.pick(options);
}

/** Moves a timestamp to the given hour of week (0 = Sunday 00:00 UTC) in the same week, plus jitter. */
function alignToHourOfWeek(ts: number, hourOfWeek: number, rng: Rng): number {
  const weekStart =
    ts - ((new Date(ts * 1000).getUTCDay() * 24 + new Date(ts * 1000).getUTCHours()) * HOUR + (ts % HOUR));
  return weekStart + hourOfWeek * HOUR + rng.int(HOUR);
}

function hoursUntil(ts: number, hour: number): number {
  const h = new Date(ts * 1000).getUTCHours();
  return (hour - h + 24) % 24;
}
