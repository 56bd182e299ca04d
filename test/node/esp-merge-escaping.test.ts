/**
 * ESP mode's merge values in the HTML and AMP parts: Mailchimp, Braze and Marketing Cloud put a CSV cell into a
 * part as it is (simulated here exactly so: each merge tag replaced by its cell), so a preheader or block copy
 * holding `<`, `&` or `"` must reach those parts HTML-escaped, and the text part as it was written.
 */
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { buildEmails, ESP_MERGE_TAGS, ESP_UNSUBSCRIBE_TAGS, type Esp } from "../../scripts/email/build-emails";
import { builderSetup } from "./support/email-options";

const HOSTILE = 'Tom & Jerry <b>"50%"</b>';
const ESCAPED = "Tom &amp; Jerry &lt;b&gt;&quot;50%&quot;&lt;/b&gt;";

/**
 * A template set whose HTML and AMP parts also show the block copy's headline (the shipped one shows it in the
 * text part only): what a shop's own template may do.
 */
async function templatesWithCopy(dir: string): Promise<string> {
  const own = join(dir, "templates");
  await mkdir(own);
  const read = (ext: string) => readFile(join("amp-templates", `recs-email${ext}`), "utf8");
  const headline = '[[#blockHeadline]]<p class="copy">[[blockHeadline]]</p>[[/blockHeadline]]';
  await writeFile(join(own, "recs-email.html"), (await read(".html")).replace(/<\/h1>/, `</h1>${headline}`));
  await writeFile(join(own, "recs-email.amp.html"), (await read(".amp.html")).replace(/<\/h1>/, `</h1>${headline}`));
  await writeFile(join(own, "recs-email.txt"), await read(".txt"));
  return own;
}

async function build(esp: Esp, templateDir?: string) {
  const { options } = await builderSetup("user_id\nc0000002\n", "opentime-esp-escape-");
  const copy = { block: "buyers", headline: HOSTILE, subline: "Fresh & new", cta: "See it" };
  const result = await buildEmails({
    ...options,
    ...(templateDir && { templateDir }),
    esp,
    subjects: new Map([["c0000002", { subject: "Hi", preheader: HOSTILE, copy }]]),
  });
  const part = (ext: string) => readFile(result.files.find((f) => f.endsWith(`.${esp}.${ext}`)) as string, "utf8");
  const [row] = parse(await readFile(result.files.at(-1) as string, "utf8"), { columns: true }) as Record<
    string,
    string
  >[];
  return { amp: await part("amp.html"), html: await part("html"), text: await part("txt"), row: row ?? {} };
}

/**
 * What the ESP sends of a part: every merge tag replaced by its CSV cell, as it is (Mailchimp's HTML: too), and its
 * own unsubscribe link by the recipient's.
 */
function substitute(esp: Esp, part: string, row: Record<string, string>): string {
  let out = part.replaceAll(ESP_UNSUBSCRIBE_TAGS[esp], "https://esp.example/unsubscribe/1");
  for (const [column, cell] of Object.entries(row)) {
    const tags = esp === "mailchimp" ? [`*|${column}|*`, `*|HTML:${column}|*`] : [ESP_MERGE_TAGS[esp](column)];
    for (const tag of tags) out = out.replaceAll(tag, cell);
  }
  return out;
}

/** The hidden preheader's text in an HTML part, entities decoded as a mail client decodes them. */
function preheaderText(html: string): string {
  const raw = /mso-hide:all">([\s\S]*?)(?:&#847;|<\/div>)/.exec(html)?.[1] ?? "";
  return raw
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&");
}

const LEFT_OVER = /\*\|[A-Z:_]+\|\*|%%ot_\w+%%|custom_attribute/;

describe("ESP merge values in the HTML and AMP parts", () => {
  for (const esp of Object.keys(ESP_MERGE_TAGS) as Esp[]) {
    it(`${esp}: a preheader with < & " renders as text in the HTML part, and stays as written in the text part`, async () => {
      const { html, text, row } = await build(esp);
      const sentHtml = substitute(esp, html, row);
      const sentText = substitute(esp, text, row);
      expect(sentHtml).not.toMatch(LEFT_OVER);
      expect(sentHtml).not.toContain("<b>");
      expect(sentHtml).toContain(ESCAPED);
      expect(preheaderText(sentHtml)).toBe(HOSTILE);
      expect(sentText.split("\n")[0]).toBe(HOSTILE);
      expect(sentText).toContain(`\n${HOSTILE}\n`); // the block copy's headline, in the text part
    });

    it(`${esp}: every merge field's name is at most 10 letters, digits or _ (Mailchimp cuts its merge tags at 10)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "opentime-esp-names-"));
      const { row } = await build(esp, await templatesWithCopy(dir));
      const fields = Object.keys(row).filter((c) => c !== "user_id" && c !== "email");
      // the token, subject, preheader and its escaped twin, the three copy lines and the headline's escaped twin
      expect(fields).toHaveLength(8);
      for (const f of fields) expect(f).toMatch(/^[A-Za-z0-9_]{1,10}$/);
    });

    it(`${esp}: block copy a template shows in the HTML and AMP parts renders as text there`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "opentime-esp-templates-"));
      const { amp, html, text, row } = await build(esp, await templatesWithCopy(dir));
      for (const part of [substitute(esp, html, row), substitute(esp, amp, row)]) {
        expect(part).not.toMatch(LEFT_OVER);
        expect(part).not.toContain("<b>");
        expect(part).toContain(`<p class="copy">${ESCAPED}</p>`);
      }
      expect(substitute(esp, text, row)).toContain(`\n${HOSTILE}\n`);
    });
  }
});
