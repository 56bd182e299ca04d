/**
 * `npm run amp-check`: what the builder writes passes (a message's AMP part, and each ESP's part as the ESP sends
 * it), an edited template's mistake fails naming its line, a message without an AMP part fails, the HTML part is
 * skipped with a note, and a file that cannot be read stops the run.
 */
import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validatorEnginePath } from "../../scripts/email/amp-validator";
import { buildEmails, type Esp } from "../../scripts/email/build-emails";
import { builderSetup } from "./support/email-options";

function ampCheck(...files: string[]): { status: number | null; out: string } {
  const r = spawnSync("npx", ["tsx", "scripts/email/amp-check.ts", ...files], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let dir = "";
let message = "";
let ampParts: string[] = [];
let htmlPart = "";

beforeAll(async () => {
  validatorEnginePath();
  const setup = await builderSetup("user_id,email\nc0000042,bob@example.com\n", "opentime-amp-check-");
  dir = setup.dir;
  message = (await buildEmails(setup.options)).files[0] as string;
  for (const esp of ["mailchimp", "braze", "sfmc"] as Esp[]) {
    const outDir = join(dir, esp);
    await buildEmails({ ...setup.options, esp, outDir });
    const files = await readdir(outDir);
    ampParts.push(...files.filter((f) => f.endsWith(".amp.html")).map((f) => join(outDir, f)));
    htmlPart ||= join(outDir, files.find((f) => f.endsWith(".html") && !f.endsWith(".amp.html")) as string);
  }
  ampParts = ampParts.sort();
}, 300_000);

describe("npm run amp-check", () => {
  it("passes what the builder writes: the message's AMP part and each ESP's part as the ESP sends it", () => {
    expect(ampParts).toHaveLength(3);
    const { status, out } = ampCheck(message, ...ampParts, htmlPart);
    expect(out).toContain(`${message}: PASS`);
    for (const esp of ["braze", "mailchimp", "sfmc"]) expect(out).toMatch(new RegExp(`PASS .*as ${esp} sends it`));
    expect(out).toContain(`${htmlPart}: skipped, not an AMP document`);
    expect(status).toBe(0);
  });

  it("fails an edited template's mistakes, naming the line, and Gmail's own rules", async () => {
    const amp = await readFile(ampParts[1] as string, "utf8");
    const broken = join(dir, "broken.amp.html");
    await writeFile(
      broken,
      amp
        .replace(/<body([^>]*)>/, '$&\n<img src="https://shop.example/a.png" alt="">')
        .replace("<style amp-custom>", "<style amp-custom>p{color:red !important}"),
    );
    const { status, out } = ampCheck(broken, message);
    expect(out).toContain(`${broken}: FAIL`);
    expect(out).toMatch(/line \d+, column \d+: The tag 'img' is disallowed\. \(DISALLOWED_TAG\)/);
    expect(out).toContain("Gmail: !important in CSS");
    expect(out).toContain(`${message}: PASS`);
    expect(out).toContain("1 of 2 failed");
    expect(status).toBe(1);
  });

  it("fails a message that has no AMP part", async () => {
    const plain = join(dir, "plain.eml");
    await writeFile(plain, "From: a@shop.example\r\nTo: b@example.com\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
    const { status, out } = ampCheck(plain);
    expect(out).toContain(`${plain}: FAIL no text/x-amp-html part`);
    expect(status).toBe(1);
  });

  it("stops on a file it cannot read, or when no file is an AMP document", () => {
    const missing = ampCheck(join(dir, "nope.eml"));
    expect(missing.out).toMatch(/nope\.eml: cannot be read \(ENOENT\)/);
    expect(missing.status).toBe(2);
    const onlyHtml = ampCheck(htmlPart);
    expect(onlyHtml.out).toContain("none of the files is an AMP document or a message");
    expect(onlyHtml.status).toBe(2);
  });
});
