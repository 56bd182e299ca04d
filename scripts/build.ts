/**
 * `npm run build`: bundles the Worker exactly as `wrangler deploy` would (`--dry-run --outdir dist`) and
 * reports raw and gzipped sizes against Cloudflare's Worker size limits (compressed: 3 MB Free, 10 MB Paid).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { cliArgs } from "./lib/cli-args";

export const LIMITS_GZIP_BYTES = { free: 3 * 1024 * 1024, paid: 10 * 1024 * 1024 };

export interface BundleSize {
  files: { file: string; bytes: number; gzipBytes: number }[];
  totalBytes: number;
  totalGzipBytes: number;
  fitsFree: boolean;
  fitsPaid: boolean;
}

export function buildBundle(outdir = "dist"): BundleSize {
  const res = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${res.stderr || res.stdout}`);
  const files = readdirSync(outdir)
    .filter((f) => statSync(join(outdir, f)).isFile() && !f.endsWith(".map") && f !== "README.md")
    .map((f) => {
      const bytes = readFileSync(join(outdir, f));
      return { file: f, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    });
  const totalGzipBytes = files.reduce((a, f) => a + f.gzipBytes, 0);
  return {
    files,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    totalGzipBytes,
    fitsFree: totalGzipBytes <= LIMITS_GZIP_BYTES.free,
    fitsPaid: totalGzipBytes <= LIMITS_GZIP_BYTES.paid,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // no options: anything given is a mistake, said with the usage (exit 2), not ignored
  cliArgs("usage: npm run build", { options: {} });
  try {
    const size = buildBundle();
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;
    for (const f of size.files)
      console.log(`${f.file.padEnd(48)} ${mb(f.bytes).padStart(10)}  gzip ${mb(f.gzipBytes).padStart(9)}`);
    console.log(
      `total ${mb(size.totalBytes)}, gzip ${mb(size.totalGzipBytes)}: ${size.fitsFree ? "fits" : "exceeds"} the Free plan's 3 MB, ${
        size.fitsPaid ? "fits" : "exceeds"
      } the Paid plan's 10 MB`,
    );
  } catch (e) {
    console.error(`build failed: ${(e as Error).message}`);
    process.exit(1);
  }
}
