/**
 * The official AMP validator engine, without its CDN: `amphtml-validator` downloads its engine from
 * cdn.ampproject.org at run time, which a machine with only the npm registry cannot reach; the same engine ships
 * inside the npm tarball of next@15.5.29. It is taken from the registry once (`npm pack`, ~31 MB, cached by npm),
 * checked by sha256 and cached under node_modules/.cache (written whole, then renamed: two runs at once never read
 * half of it). Plus the rules Gmail enforces that the validator passes. Used by `npm run amp-check` and the tests.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import amphtmlValidator from "amphtml-validator";

const SOURCE = "next@15.5.29";
const INNER = "package/dist/compiled/amphtml-validator/validator_wasm.js";
const CACHED = "node_modules/.cache/opentime/validator_wasm.js";
const SHA_PREFIX = "f1f4629a";
const SHA_SUFFIX = "6f26";

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function validatorEnginePath(): string {
  if (existsSync(CACHED)) return CACHED;
  const tmp = mkdtempSync(join(tmpdir(), "amp-validator-"));
  try {
    execFileSync("npm", ["pack", SOURCE, "--silent", "--pack-destination", tmp], { stdio: ["ignore", "pipe", "pipe"] });
    const tgz = join(tmp, "next-15.5.29.tgz");
    execFileSync("tar", ["-xzf", tgz, "-C", tmp, INNER]);
    const engine = join(tmp, INNER);
    const digest = sha256(engine);
    if (!digest.startsWith(SHA_PREFIX) || !digest.endsWith(SHA_SUFFIX))
      throw new Error(`validator engine sha256 ${digest} is not the expected one`);
    mkdirSync(dirname(CACHED), { recursive: true });
    const partial = `${CACHED}.${process.pid}.partial`;
    writeFileSync(partial, readFileSync(engine));
    renameSync(partial, CACHED);
    return CACHED;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface AmpValidation {
  status: string;
  errors: { severity: string; line: number; col: number; message: string; code: string }[];
}

export async function validateAmpEmail(html: string): Promise<AmpValidation> {
  const validator = await amphtmlValidator.getInstance(validatorEnginePath());
  const result = validator.validateString(html, "AMP4EMAIL");
  return { status: result.status, errors: result.errors };
}

/** Rules Gmail enforces that the validator passes (amp-email-protocol notes). */
export function gmailLint(html: string): string[] {
  const problems: string[] = [];
  // actions are written without parentheses too (on="tap:AMP.print"); mustache reads `{{ =<% %>= }}` as `{{=<% %>=}}`
  if (/\bAMP\.(navigateTo|print|goBack)\b/.test(html))
    problems.push("AMP.navigateTo/print/goBack are forbidden by Gmail");
  if (/\{\{\s*=/.test(html)) problems.push("mustache set-delimiter tags are forbidden by Gmail");
  if (/__amp_source_origin/.test(html)) problems.push("__amp_source_origin must not be written in a URL");
  if (Buffer.byteLength(html) > 200_000) problems.push("document over 200,000 bytes");
  const css = /<style amp-custom>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
  if (Buffer.byteLength(css) > 75_000) problems.push("CSS over 75,000 bytes");
  if (/!important/.test(css)) problems.push("!important in CSS");
  return problems;
}
