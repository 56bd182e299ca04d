/**
 * The scripts' command lines: node's parseArgs, then an optional zod schema over the options that must be numbers or
 * one of a list. A bad option (unknown, missing its value, not a number, out of range) ends the run with what was
 * wrong and the usage line, exit code 2, instead of a stack trace or a NaN that flows into the run; `--help` prints
 * the usage line, exit code 0. Also a
 * Worker's `--url` (worker-url.ts), checked the same way, and the KV a command writes (`--remote` or `--persist-to`).
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { z } from "zod";
import { type WorkerUrl, workerUrl } from "./worker-url";

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;
/** the schema's options as it outputs them, every other option as parseArgs gave it */
type Checked<T extends ParseArgsConfig, S extends z.ZodObject> = Omit<Parsed<T>, "values"> & {
  values: Omit<Parsed<T>["values"], keyof z.output<S>> & z.output<S>;
};

export function cliArgs<T extends ParseArgsConfig>(usage: string, config: T): Parsed<T>;
export function cliArgs<T extends ParseArgsConfig, S extends z.ZodObject>(
  usage: string,
  config: T,
  schema: S,
): Checked<T, S>;
export function cliArgs<T extends ParseArgsConfig, S extends z.ZodObject>(usage: string, config: T, schema?: S) {
  // `--help` or `-h` anywhere: the usage line, exit 0 (not "Unknown option '--help'"), unless the CLI declares its own
  const args = config.args ?? process.argv.slice(2);
  if (!("help" in (config.options ?? {})) && (args.includes("--help") || args.includes("-h"))) {
    console.log(usage);
    process.exit(0);
  }
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    return refuse((e as Error).message, usage);
  }
  if (!schema) return parsed;
  const checked = schema.safeParse({ ...parsed.values });
  if (!checked.success)
    return refuse(checked.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n"), usage);
  return { ...parsed, values: { ...parsed.values, ...checked.data } };
}

function refuse(problem: string, usage: string): never {
  console.error(`${problem}\n${usage}`);
  process.exit(2);
}

/** An option that is a whole number from `min` to `max` (digits only: no "1e3", "0x10" or empty string). */
export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, "expected a whole number")
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/** Bounds of a decimal option: at least (`gte`) or above (`gt`), at most (`lte`) or below (`lt`). */
export interface DecimalBounds {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

/** An option that is a decimal number within `bounds`. */
export const decimal = ({ gt, gte, lt, lte }: DecimalBounds) => {
  let n = z.number();
  if (gt !== undefined) n = n.gt(gt);
  if (gte !== undefined) n = n.gte(gte);
  if (lt !== undefined) n = n.lt(lt);
  if (lte !== undefined) n = n.lte(lte);
  return z
    .string()
    .regex(/^-?(\d+(\.\d*)?|\.\d+)$/, "expected a number")
    .transform(Number)
    .pipe(n);
};

/** workerUrl for a CLI's `--url` (absent: null): what is wrong, then exit 2. */
export function workerUrlOrExit(raw: string | undefined): WorkerUrl | null {
  if (raw === undefined) return null;
  try {
    return workerUrl(raw);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
}

/**
 * `--remote` and `--persist-to` together (the seed's and the models CLI's KV): refused, exit 2. wrangler would take
 * the real namespace and drop the directory, so a command meant for a local state would write production KV.
 */
export function kvPlaceOrExit(remote: boolean, persistTo: string | undefined): void {
  if (!remote || persistTo === undefined) return;
  console.error(
    `--remote writes the real namespace and --persist-to ${persistTo} names a local state: give one of them`,
  );
  process.exit(2);
}
