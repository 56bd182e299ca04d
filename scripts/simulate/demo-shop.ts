/**
 * The demo shop `npm run simulate` takes its readers' tastes and its products from (`npm run demo`'s customers.csv
 * and products.json in `--demo`). A file that is not there is a shop not made yet: the error says what to run. A
 * file that is there but malformed is named with what is wrong in it (the CSV or JSON parser's message, or the
 * entry and field), never taken for a missing shop.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { fieldPath } from "../../core/field-path";
import type { SimProduct } from "./simulation";

export interface DemoShop {
  customers: { top_categories: string }[];
  products: SimProduct[];
}

const CustomersSchema = z.array(z.object({ top_categories: z.string() })).min(1, "holds no customers");
const ProductsSchema = z
  .array(z.object({ id: z.string().min(1), category: z.string(), price: z.number() }))
  .min(1, "holds no products");

/** Reads the shop in `dir`; throws an Error whose message names the file and the problem. */
export function readDemoShop(dir: string): DemoShop {
  const customersFile = join(dir, "customers.csv");
  const productsFile = join(dir, "products.json");
  const customersText = readShopFile(dir, customersFile);
  const productsText = readShopFile(dir, productsFile);
  let rows: unknown;
  try {
    rows = parse(customersText, { columns: true });
  } catch (e) {
    throw new Error(`${customersFile} is not a readable CSV: ${(e as Error).message}`);
  }
  let items: unknown;
  try {
    items = JSON.parse(productsText);
  } catch (e) {
    throw new Error(`${productsFile} is not valid JSON: ${(e as Error).message}`);
  }
  return {
    customers: checked(customersFile, CustomersSchema, rows, "customer"),
    products: checked(productsFile, ProductsSchema, items, "entry"),
  };
}

function readShopFile(dir: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new Error(
        `no demo shop in ${dir} (no ${file}): run \`npm start\` (or \`npm run demo\`) first, or pass --demo <dir>`,
      );
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** `value` as `schema` has it, else an error naming the file, the first wrong entry and field. */
function checked<S extends z.ZodType>(file: string, schema: S, value: unknown, what: string): z.output<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const issue = res.error.issues[0];
  const [at, ...field] = issue?.path ?? [];
  const where = typeof at === "number" ? `${what} ${at}${field.length ? `: ${fieldPath(field)}` : ""}: ` : "";
  throw new Error(`${file}: ${where}${issue?.message}`);
}
