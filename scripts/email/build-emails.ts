/**
 * The email builder behind `npm run email`. Two modes:
 * - MIME: one standards-correct `multipart/alternative` message per recipient (text/plain, then
 *   text/x-amp-html, then text/html: AMP before HTML, the richest last), with signed URLs, as `.eml`.
 * - ESP: the three parts written once with the ESP's merge tag in place of the token and the ESP's own
 *   unsubscribe link in their footers, and one CSV of per-recipient tokens to upload as a custom field
 *   (Mailchimp, Braze, Salesforce Marketing Cloud).
 * Either leaves out the recipients the Worker said must not be mailed (`suppressed`: suppressions-client.ts), and
 * counts them by reason. A MIME message whose recipient has no `unsubscribe_url` gets opentime's own one-click
 * unsubscribe link (core/unsubscribe-link.ts) in its List-Unsubscribe header and footers.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parse } from "csv-parse/sync";
import MailComposer from "nodemailer/lib/mail-composer";
import { CampaignIdSchema } from "../../core/campaign";
import { type EmailTemplates, type EmailView, emailLinks, renderEmail } from "../../core/email-template";
import { escapeXml } from "../../core/escape-xml";
import { looksLikeEmail, UserIdSchema } from "../../core/events";
import type { LayoutName } from "../../core/layouts";
import type { SendTimeCopy, SubjectAnswer } from "../../core/subject-request";
import type { SuppressionReason } from "../../core/suppressions";
import { mintToken } from "../../core/token";
import { mintUnsubscribeToken, unsubscribeLink } from "../../core/unsubscribe-link";
import { isLoopbackHost } from "../../core/web-url";
import { describeFailure } from "../data/csv-input";
import { isBareAddress, isOneMailbox } from "./mailbox";
import { readTemplates } from "./render-email";

/**
 * The token field's name in the ESP, and how each ESP writes a per-recipient field into a message. Every field's
 * name (and its escaped twin's, below) is at most 10 letters, digits or `_`: Mailchimp's merge tags are cut at 10,
 * so a longer column would import into a field whose tag the parts do not hold.
 */
export const TOKEN_FIELD = "OT_TOKEN";
/** With subject rules: the subject (the ESP's subject line takes its merge tag) and the preheader fields. */
export const SUBJECT_FIELD = "OT_SUBJECT";
export const PREHEADER_FIELD = "OT_PREHEAD";
/**
 * With block copy: the text part's headline, subline and call-to-action line (`See it: <click URL>`), chosen
 * at send time.
 */
export const COPY_FIELDS = ["OT_HEADLN", "OT_SUBLINE", "OT_CTA"] as const;
export const ESP_MERGE_TAGS = {
  mailchimp: (field: string) => `*|${field.toUpperCase()}|*`,
  braze: (field: string) => `{{custom_attribute.\${${field.toLowerCase()}}}}`,
  sfmc: (field: string) => `%%${field.toLowerCase()}%%`,
} as const;
export type Esp = keyof typeof ESP_MERGE_TAGS;
/**
 * The three ESPs put a merge field's value into a part as it is (no HTML escaping), so words in the HTML and AMP
 * parts (the preheader, block copy that renders catalog titles) come from a column of their own holding them
 * HTML-escaped, `OH_` for `OT_` (`OH_PREHEAD`), beside the plain one the text part takes. Mailchimp's tag for it says `HTML:`,
 * which inserts the value as it is whatever Mailchimp would do with a plain one (never escaped twice). The token
 * needs none: base64url and `.` only.
 */
export const htmlField = (field: string): string => field.replace(/^OT_/, "OH_");
export const ESP_HTML_MERGE_TAGS: Record<Esp, (field: string) => string> = {
  mailchimp: (field) => `*|HTML:${htmlField(field).toUpperCase()}|*`,
  braze: (field) => ESP_MERGE_TAGS.braze(htmlField(field)),
  sfmc: (field) => ESP_MERGE_TAGS.sfmc(htmlField(field)),
};

/**
 * Braze and Marketing Cloud run a template language over the whole message (Braze's merge tag is Liquid;
 * Marketing Cloud's Guide Template Language is mustache), and both read `{{ }}` as their own: every amp-mustache
 * template of the AMP part (`{{title}}`, `{{#items}}`, the form's `{{message}}`) would be sent empty. Liquid's
 * `{% raw %}` keeps a template as written; for Marketing Cloud, Salesforce's own recipe: a comment that moves
 * its delimiters to `{< >}` (it is read, and gone, before the message is sent). Mailchimp's `*|TAG|*` leaves
 * `{{ }}` alone.
 */
const SFMC_DELIMITERS = "<!-- {{={< >}=}} -->";
const KEEP_CLIENT_TEMPLATES: Record<Esp, (amp: string) => string> = {
  mailchimp: (amp) => amp,
  braze: (amp) =>
    amp.replace(
      /(<template\b[^>]*\btype="amp-mustache"[^>]*>)([\s\S]*?)(<\/template>)/g,
      "$1{% raw %}$2{% endraw %}$3",
    ),
  sfmc: (amp) => amp.replace(/<body\b[^>]*>/, `$&${SFMC_DELIMITERS}`),
};

/**
 * Each ESP's own unsubscribe link, which ESP mode puts in every part's footer where a MIME message links the
 * recipient's `unsubscribe_url` or opentime's one-click link: the ESP fills it per recipient, takes the unsubscribe
 * itself and adds its own List-Unsubscribe headers. Mailchimp: the `*|UNSUB|*` merge tag (a campaign without it gets
 * an extra footer of Mailchimp's); Braze: its `${unsubscribe_url}` attribute in Liquid; Marketing Cloud: the
 * unsubscribe centre's personalization string.
 */
export const ESP_UNSUBSCRIBE_TAGS: Record<Esp, string> = {
  mailchimp: "*|UNSUB|*",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze Liquid syntax, not a JS template
  braze: "{{${unsubscribe_url}}}",
  sfmc: "%%unsub_center_url%%",
};

/** Each ESP's merge tags of opentime's fields (ESP_MERGE_TAGS and ESP_HTML_MERGE_TAGS: `OT_` and `OH_` ones). */
const ESP_TAG_PATTERNS: Record<Esp, RegExp> = {
  mailchimp: /\*\|(?:HTML:)?O[TH]_[A-Z0-9_]+\|\*/g,
  braze: /\{\{custom_attribute\.\$\{o[th]_[a-z0-9_]+\}\}\}/g,
  sfmc: /%%o[th]_[a-z0-9_]+%%/g,
};
/** What KEEP_CLIENT_TEMPLATES added for each ESP's template language, read away as that language reads it. */
const READ_AWAY: Record<Esp, (part: string) => string> = {
  mailchimp: (part) => part,
  braze: (part) => part.replace(/\{% (?:raw|endraw) %\}/g, ""),
  sfmc: (part) => part.replace(SFMC_DELIMITERS, ""),
};

/** The ESP whose merge tags a part holds, or null (`npm run amp-check`). */
export function espOfPart(part: string): Esp | null {
  return (Object.keys(ESP_TAG_PATTERNS) as Esp[]).find((esp) => part.search(ESP_TAG_PATTERNS[esp]) >= 0) ?? null;
}

/**
 * An ESP's part as the ESP sends it, for checking (`npm run amp-check`): each merge tag of opentime's filled with
 * `value`, the ESP's unsubscribe link with an https URL ending in it.
 */
export function asTheEspSends(esp: Esp, part: string, value: string): string {
  const filled = part
    .replace(ESP_TAG_PATTERNS[esp], value)
    .replaceAll(ESP_UNSUBSCRIBE_TAGS[esp], `https://unsubscribe.example/${value}`);
  return READ_AWAY[esp](filled);
}

export interface Recipient {
  userId: string;
  email: string | null;
  /** the shop's own unsubscribe link for this recipient (`unsubscribe_url` column): https: or mailto: */
  unsubscribeUrl: string | null;
}

/**
 * The longest unsubscribe URL a message carries: `List-Unsubscribe` holds it on one line of its own (` <url>`), and
 * RFC 5322 allows 998 characters a line (a longer one is cut or refused on the way; nodemailer folds only at spaces).
 */
export const MAX_UNSUBSCRIBE_URL = 995;

/**
 * An unsubscribe URL as `List-Unsubscribe` (RFC 2369) carries it between `<` and `>` and the parts link it:
 * https: (one-click, RFC 8058) or mailto:, nothing that would end the header's brackets or the line, in ASCII (a
 * header of other characters is written as RFC 2047 encoded words, `=?UTF-8?Q?...?=`, which no mail provider
 * reads as a URL: one with them, `/abmelden/müller`, is written as the URL parser serializes it,
 * `/abmelden/m%C3%BCller`), and short enough for the header's line (MAX_UNSUBSCRIBE_URL). Else why not.
 */
function unsubscribeUrl(raw: string): { url: string } | { why: string } {
  const refused = { why: "must be an https: or mailto: URL (no spaces, < > or quotes)" };
  if (raw.length > 2000 || /[\s<>"]/.test(raw)) return refused;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refused;
  }
  if (url.protocol !== "https:" && url.protocol !== "mailto:") return refused;
  const ascii = /^[\x21-\x7e]*$/.test(raw) ? raw : url.href;
  if (ascii.length > MAX_UNSUBSCRIBE_URL)
    return {
      why: `is ${ascii.length} characters${ascii === raw ? "" : " as written in a header"}; a List-Unsubscribe line holds at most ${MAX_UNSUBSCRIBE_URL}`,
    };
  return { url: ascii };
}

export interface BuildOptions {
  campaign: string;
  template: string;
  templateDir?: string;
  /** the template's files as already read (the CLI reads them before asking the Worker anything); else read here */
  templates?: EmailTemplates;
  recipientsCsv: string;
  outDir: string;
  baseUrl: string;
  secret: string;
  layout: LayoutName;
  ttlDays: number;
  from: string;
  /** the subject for recipients `subjects` has none for */
  subject: string;
  /** per recipient, from the campaign's subject rules (POST /v1/admin/subjects: subjects-client.ts) */
  subjects?: ReadonlyMap<string, Pick<SubjectAnswer, "subject" | "preheader"> & { copy?: SendTimeCopy | null }>;
  headline: string;
  shopName: string;
  /**
   * the shop's home ("Visit the shop" in every part); required unless the base URL is this machine's Worker,
   * whose root is the demo shop (a deployed Worker's root is no shop: the preview behind a login, or a 404)
   */
  shopUrl?: string;
  /** ESP mode; MIME mode when absent */
  esp?: Esp;
  /**
   * the recipients not to mail, with why (POST /v1/admin/suppressions: suppressions-client.ts); absent: no check
   * was made (`--skip-suppression-check`), and every recipient is written
   */
  suppressed?: ReadonlyMap<string, SuppressionReason>;
  now?: number;
}

export interface BuildResult {
  /** recipients written (those left out are in `skipped`) */
  recipients: number;
  files: string[];
  /** recipients left out, by why (`suppressed`) */
  skipped: Partial<Record<SuppressionReason, number>>;
  /**
   * MIME mode: messages whose List-Unsubscribe is not one-click (RFC 8058: an https link): a mailto:
   * unsubscribe_url, or opentime's link on an http --base-url
   */
  withoutOneClick?: number;
  /**
   * ESP mode: recipients whose unsubscribe_url the files do not carry (the ESP adds its own link and headers), so
   * that a column given for nothing is said, not dropped unseen
   */
  unsubscribeUrlsUnused?: number;
  /** files of the build before in the same directory (named in its BUILD_LIST), removed before this one wrote */
  removed: number;
  /** `.eml` files in the directory that this build did not write and no build listed (from before BUILD_LIST) */
  strayMessages: number;
}

/**
 * The list of the files a build wrote, kept in its directory: the next build there removes them first, so the
 * directory never mixes two builds (an earlier campaign's messages, a reader suppressed since, sent again with
 * `*.eml`). Only files a build listed are removed: anything else in the directory is left where it is.
 */
export const BUILD_LIST = ".opentime-build.json";

/** Removes the files the build before listed in `dir`; how many were there. Names only: never a path out of `dir`. */
async function removePreviousBuild(dir: string): Promise<number> {
  let listed: unknown;
  try {
    listed = JSON.parse(await readFile(join(dir, BUILD_LIST), "utf8"));
  } catch {
    return 0;
  }
  const names = (listed as { files?: unknown } | null)?.files;
  if (!Array.isArray(names)) return 0;
  let removed = 0;
  for (const name of names) {
    if (typeof name !== "string" || name !== basename(name) || name === BUILD_LIST || name === "." || name === "..")
      continue;
    const gone = await rm(join(dir, name)).then(
      () => true,
      () => false,
    );
    if (gone) removed++;
  }
  await rm(join(dir, BUILD_LIST), { force: true });
  return removed;
}

/** Lists the build's files in its directory (BUILD_LIST) and counts the `.eml` files there that are not its own. */
async function listBuild(dir: string, files: readonly string[], campaign: string): Promise<number> {
  const names = files.map((f) => basename(f));
  await writeFile(join(dir, BUILD_LIST), `${JSON.stringify({ campaign, files: names }, null, 1)}\n`);
  const own = new Set(names);
  return (await readdir(dir)).filter((f) => /\.eml$/i.test(f) && !own.has(f)).length;
}

/**
 * Reads `user_id[,email][,unsubscribe_url]` (a header row is required; other columns are ignored).
 */
export async function readRecipients(path: string, needEmail: boolean): Promise<Recipient[]> {
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    describeFailure(path, e);
    throw e;
  });
  let header: string[] = [];
  // each row with where it ends (`info.bytes`) and its text (`raw`, from the end of the row before: the blank lines
  // skipped before it, then the row), so its own first line is named: blank lines make a row index fall short, and
  // the parser's line count takes a quoted \r\n for two
  type Row = { record: Record<string, string>; info: { bytes: number }; raw: string };
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let rows: Row[];
  try {
    rows = parse(body, {
      columns: (names: string[]) => {
        header = names;
        return names;
      },
      skip_empty_lines: true,
      trim: true,
      info: true,
      raw: true,
    }) as Row[];
  } catch (e) {
    // the CSV parser names the line, not the file
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (rows.length === 0) throw new Error(`${path}: no recipients (expected a header row "user_id,email")`);
  // a header without the column (`customer_id,email`) would otherwise read as an empty user_id on every line
  if (!header.includes("user_id"))
    throw new Error(
      `${path}: no user_id column (the header names ${header.join(", ")}): the first line must be "user_id,email" (unsubscribe_url optional)`,
    );
  // a column it reads named twice (a joined export): the parser keeps the last one's value, with no word, so the
  // second email column's address (or user_id's id) would be mailed
  const twice = ["user_id", "email", "unsubscribe_url"].find((c) => header.indexOf(c) !== header.lastIndexOf(c));
  if (twice)
    throw new Error(`${path}: the header names ${twice} twice (${header.join(", ")}): which one is meant? keep one`);
  // a reader listed twice would be sent the email twice (two messages, or two ESP rows with one token)
  const lineOf = new Map<string, number>();
  // lines counted once, forward, as rows come in order
  let scanned = 0;
  let breaks = 0;
  const lineAt = (offset: number) => {
    for (; scanned < offset; scanned++) if (body.charCodeAt(scanned) === 10) breaks++;
    return breaks + 1;
  };
  return rows.map(({ record: row, info, raw: rowText }) => {
    const line = lineAt(info.bytes - rowText.replace(/^[\r\n]+/, "").length);
    const userId = row.user_id ?? "";
    if (!userId) throw new Error(`${path}:${line}: user_id is empty (columns: user_id, email)`);
    const first = lineOf.get(userId);
    if (first !== undefined)
      throw new Error(`${path}:${line}: user_id ${userId} is also on line ${first}; list each recipient once`);
    lineOf.set(userId, line);
    if (looksLikeEmail(userId))
      throw new Error(`${path}:${line}: user_id must be pseudonymous; hash email addresses with a secret salt first`);
    // what the Worker takes as a user id, said here with its line (its refusal would fail the whole batch's check)
    const id = UserIdSchema.safeParse(userId);
    if (!id.success)
      throw new Error(`${path}:${line}: user_id ${JSON.stringify(userId.slice(0, 80))} ${id.error.issues[0]?.message}`);
    const email = row.email || null;
    // one bare address as written, as To: carries it: a look-alike @ (`ann＠example.com`) makes a user id an
    // address, never a To: one, and a second address after a comma or semicolon would be mailed instead
    if (needEmail && (!email || !isBareAddress(email)))
      throw new Error(
        `${path}:${line}: a valid email is needed to write a message${email ? `, got ${JSON.stringify(email.slice(0, 80))}` : ""}`,
      );
    const raw = row.unsubscribe_url || null;
    const unsubscribe = raw === null ? null : unsubscribeUrl(raw);
    if (unsubscribe !== null && "why" in unsubscribe)
      throw new Error(`${path}:${line}: unsubscribe_url ${unsubscribe.why}, got "${(raw as string).slice(0, 80)}"`);
    return { userId, email, unsubscribeUrl: unsubscribe?.url ?? null };
  });
}

/** The text part's call to action: its words, then where the first slot's click leads. */
function ctaLine(cta: string | null | undefined, links: Pick<EmailView, "slots" | "shopUrl">): string | null {
  return cta ? `${cta}: ${links.slots[0]?.clickUrl ?? links.shopUrl}` : null;
}

function view(
  opts: Built,
  token: string,
  preheader: string | null = null,
  unsubscribeUrl: string | null = null,
  copy: Pick<SendTimeCopy, "headline" | "subline"> & { ctaLine: string | null } = {
    headline: null,
    subline: null,
    ctaLine: null,
  },
): EmailView {
  return {
    preheader,
    unsubscribeUrl,
    headline: opts.headline,
    blockHeadline: copy.headline,
    blockSubline: copy.subline,
    blockCtaLine: copy.ctaLine,
    shopName: opts.shopName,
    shopUrl: opts.shopUrl,
    count: 6,
    ...emailLinks({ baseUrl: opts.baseUrl, token, layout: opts.layout }),
  };
}

/** One message as RFC 5322 bytes (nodemailer's MailComposer), every line ending in CRLF. */
export async function composeMime(
  parts: EmailTemplates,
  headers: { from: string; to: string; subject: string; unsubscribeUrl?: string | null },
): Promise<Buffer> {
  const unsubscribe = headers.unsubscribeUrl;
  const mail = new MailComposer({
    from: headers.from,
    to: headers.to,
    subject: headers.subject,
    // RFC 2369; with an https URL, RFC 8058's one-click POST (what Gmail and Yahoo ask of bulk senders; the
    // sending server's DKIM signature must cover both)
    ...(unsubscribe && {
      headers: {
        "List-Unsubscribe": `<${unsubscribe}>`,
        ...(unsubscribe.startsWith("https:") && { "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" }),
      },
    }),
    text: parts.text,
    amp: parts.amp,
    html: parts.html,
    // every line break CRLF, as RFC 5322 asks: the headers are, but the parts keep the templates' LF as it is, and
    // relays refuse or rewrite bare LF (the SMTP smuggling fixes), breaking a DKIM body hash signed before them
    newline: "windows",
  });
  return mail.compile().build();
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A column of words (subject, preheader, block copy) as the CSV holds it: text that a spreadsheet would run as
 * a formula gets an apostrophe before it, OWASP's guard (block copy renders catalog titles, which the admin API's
 * checks never saw): anything starting with `=` or `@`, and a start of `+` or `-` with a call in it (a function's
 * `(`, DDE's `|` and `!`: `+HYPERLINK(...)` sends the row's token away, `-2+3+cmd|' /C calc'!A0` runs a program).
 * Other `+` and `-` copy is left alone ("-20% today", "+1 new arrival"): the apostrophe would reach the email too.
 */
function textCell(s: string): string {
  const formula = /^[=@]/.test(s) || (/^[+-]/.test(s) && /[(|!]/.test(s));
  return csvCell(formula ? `'${s}` : s);
}

/**
 * A recipient's message file name, unique among this run's (compared without case: macOS and Windows file systems
 * ignore it): ids that differ only in characters a name cannot hold (`a/b`, `a_b`) or in case would otherwise
 * write one file, each message overwriting the one before.
 */
function fileName(userId: string, taken: Set<string>): string {
  const safe = userId.replace(/[^A-Za-z0-9_.-]/g, "_");
  let name = safe;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${safe}-${n}`;
  taken.add(name.toLowerCase());
  return name;
}

/** Refuses what would build broken emails, each with what to pass instead (before any request is made). */
export function checkOptions(opts: BuildOptions): Built {
  if (!CampaignIdSchema.safeParse(opts.campaign).success)
    throw new Error(`bad campaign id "${opts.campaign}": letters, digits, '_', '.', '-'`);
  if (!/^https?:\/\//.test(opts.baseUrl) || !URL.canParse(opts.baseUrl))
    throw new Error(`--base-url must be an http(s) origin, got "${opts.baseUrl}"`);
  const base = new URL(opts.baseUrl);
  // the Worker's routes are at its root (/v1/...): a path would put every link and image under a URL it does not serve
  if (base.pathname !== "/" || base.search || base.hash || base.username || base.password)
    throw new Error(
      `--base-url must be an http(s) origin, nothing after the host, got "${opts.baseUrl}"; try ${base.origin}`,
    );
  if (opts.shopUrl === undefined && !isLoopbackHost(base.hostname))
    throw new Error(
      `--shop-url is required with --base-url ${base.origin}: "Visit the shop" would lead to the Worker's root, which is not your shop`,
    );
  // MIME mode writes From: (an ESP sets its own): one sender with an address, or the message would go without one
  if (!opts.esp && !isOneMailbox(opts.from))
    throw new Error(
      `--from must be one sender's address, "Shop <newsletter@shop.example>" or newsletter@shop.example, got ${JSON.stringify(opts.from.slice(0, 80))}`,
    );
  const shopUrl = opts.shopUrl ?? `${base.origin}/`;
  if (!/^https?:\/\/[^/]/i.test(shopUrl) || !URL.canParse(shopUrl))
    throw new Error(`--shop-url must be an http(s) URL such as https://shop.example/, got "${shopUrl.slice(0, 80)}"`);
  return { ...opts, shopUrl };
}

/** The options once checked: the shop's link decided. */
export type Built = BuildOptions & { shopUrl: string };

/** The recipients to write, and those left out counted by why (ids only: never printed). */
export function withoutSuppressed(
  recipients: readonly Recipient[],
  suppressed: ReadonlyMap<string, SuppressionReason> | undefined,
): { kept: Recipient[]; skipped: Partial<Record<SuppressionReason, number>> } {
  const skipped: Partial<Record<SuppressionReason, number>> = {};
  const kept = recipients.filter((r) => {
    const reason = suppressed?.get(r.userId);
    if (reason) skipped[reason] = (skipped[reason] ?? 0) + 1;
    return !reason;
  });
  return { kept, skipped };
}

export async function buildEmails(options: BuildOptions): Promise<BuildResult> {
  const opts = checkOptions(options);
  const { kept: recipients, skipped } = withoutSuppressed(
    await readRecipients(opts.recipientsCsv, !opts.esp),
    opts.suppressed,
  );
  const templates = opts.templates ?? (await readTemplates(opts.template, opts.templateDir));
  await mkdir(opts.outDir, { recursive: true });
  const removed = await removePreviousBuild(opts.outDir);
  const ttlSeconds = Math.round(opts.ttlDays * 86400);
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const mint = (user: string) => mintToken(opts.secret, { user, campaign: opts.campaign, ttlSeconds, now });
  // the recipient's own unsubscribe link, else opentime's: one-click on the Worker, signed for this send
  const unsubscribeOf = async (r: Recipient) =>
    r.unsubscribeUrl ??
    unsubscribeLink(
      opts.baseUrl,
      await mintUnsubscribeToken(opts.secret, { user: r.userId, campaign: opts.campaign, ttlSeconds, now }),
    );
  const files: string[] = [];
  const writeBuild = async (): Promise<Omit<BuildResult, "removed" | "strayMessages">> => {
    if (opts.esp) {
      const esp = opts.esp;
      const tag = ESP_MERGE_TAGS[esp](TOKEN_FIELD);
      // the footers' link: the ESP's own unsubscribe, which it fills per recipient
      const unsubscribe = ESP_UNSUBSCRIBE_TAGS[esp];
      // columns for subjects only when the campaign has subject rules (some recipient got one)
      const withSubjects = [...(opts.subjects?.values() ?? [])].some((c) => c.subject !== null);
      // columns for the text part's copy only when the campaign has block copy (some recipient got some)
      const withCopy = [...(opts.subjects?.values() ?? [])].some((c) => c.copy);
      // the preheader's filler only when no recipient's preheader is empty (it would blank their inbox preview)
      const padPreheader = recipients.every((r) => Boolean(opts.subjects?.get(r.userId)?.preheader));
      // the parts with the given merge tags: the plain columns' for the text part, the escaped ones' for the others
      const renderWith = (of: (field: string) => string) => {
        const [headline, subline, cta] = COPY_FIELDS.map(of);
        const copyTags = withCopy
          ? { headline: headline ?? null, subline: subline ?? null, ctaLine: cta ?? null }
          : undefined;
        const preheaderTag = withSubjects ? of(PREHEADER_FIELD) : null;
        return renderEmail(templates, { ...view(opts, tag, preheaderTag, unsubscribe, copyTags), padPreheader });
      };
      const htmlTag = ESP_HTML_MERGE_TAGS[esp];
      const [plain, escaped] = [renderWith(ESP_MERGE_TAGS[esp]), renderWith(htmlTag)];
      const parts = { amp: KEEP_CLIENT_TEMPLATES[esp](escaped.amp), html: escaped.html, text: plain.text };
      // an escaped column for each field whose merge tag the HTML or AMP part holds (the template says which)
      const htmlFields = [PREHEADER_FIELD, ...COPY_FIELDS].filter(
        (f) => parts.html.includes(htmlTag(f)) || parts.amp.includes(htmlTag(f)),
      );
      for (const [ext, body] of [
        ["amp.html", parts.amp],
        ["html", parts.html],
        ["txt", parts.text],
      ] as const) {
        const file = join(opts.outDir, `${opts.template}.${esp}.${ext}`);
        await writeFile(file, body);
        files.push(file);
      }
      const name = (f: string) => (esp === "mailchimp" ? f : f.toLowerCase());
      // the columns of words: subject and preheader with subject rules, the copy with block copy
      const wordFields = [...(withSubjects ? [SUBJECT_FIELD, PREHEADER_FIELD] : []), ...(withCopy ? COPY_FIELDS : [])];
      const header = [
        "user_id",
        "email",
        name(TOKEN_FIELD),
        ...wordFields.map(name),
        ...htmlFields.map((f) => name(htmlField(f))),
      ];
      const lines = [header.join(",")];
      for (const r of recipients) {
        const chosen = opts.subjects?.get(r.userId);
        const token = await mint(r.userId);
        // the call to action's column holds its whole line (the recipient's own click URL), so a recipient
        // without one gets an empty line, not a dangling ": <url>"
        const links = { shopUrl: opts.shopUrl, ...emailLinks({ baseUrl: opts.baseUrl, token, layout: opts.layout }) };
        const words: Record<string, string> = {
          [SUBJECT_FIELD]: chosen?.subject ?? opts.subject,
          [PREHEADER_FIELD]: chosen?.preheader ?? "",
          [COPY_FIELDS[0]]: chosen?.copy?.headline ?? "",
          [COPY_FIELDS[1]]: chosen?.copy?.subline ?? "",
          [COPY_FIELDS[2]]: ctaLine(chosen?.copy?.cta, links) ?? "",
        };
        const extra = wordFields.map((f) => words[f] ?? "");
        // the escaped columns: the same words, as HTML text
        extra.push(...htmlFields.map((f) => escapeXml(words[f] ?? "")));
        lines.push([...[r.userId, r.email ?? "", token].map(csvCell), ...extra.map(textCell)].join(","));
      }
      const csv = join(opts.outDir, `recipients.${esp}.csv`);
      await writeFile(csv, `${lines.join("\n")}\n`);
      files.push(csv);
      const unsubscribeUrlsUnused = recipients.filter((r) => r.unsubscribeUrl !== null).length;
      return { recipients: recipients.length, files, skipped, unsubscribeUrlsUnused };
    }

    const taken = new Set<string>();
    let withoutOneClick = 0;
    for (const r of recipients) {
      const chosen = opts.subjects?.get(r.userId);
      const token = await mint(r.userId);
      const links = { shopUrl: opts.shopUrl, ...emailLinks({ baseUrl: opts.baseUrl, token, layout: opts.layout }) };
      const copy = {
        headline: chosen?.copy?.headline ?? null,
        subline: chosen?.copy?.subline ?? null,
        ctaLine: ctaLine(chosen?.copy?.cta, links),
      };
      const unsubscribe = await unsubscribeOf(r);
      if (!unsubscribe.startsWith("https:")) withoutOneClick++;
      const parts = renderEmail(templates, view(opts, token, chosen?.preheader ?? null, unsubscribe, copy));
      const subject = chosen?.subject ?? opts.subject;
      const mime = await composeMime(parts, {
        from: opts.from,
        to: r.email as string,
        subject,
        unsubscribeUrl: unsubscribe,
      });
      const file = join(opts.outDir, `${fileName(r.userId, taken)}.eml`);
      await writeFile(file, mime);
      files.push(file);
    }
    return { recipients: recipients.length, files, skipped, withoutOneClick };
  };
  let built: Omit<BuildResult, "removed" | "strayMessages">;
  let strayMessages = 0;
  try {
    built = await writeBuild();
  } finally {
    // listed even when the build stopped part way: the next one removes what this one wrote
    strayMessages = await listBuild(opts.outDir, files, opts.campaign);
  }
  return { ...built, removed, strayMessages };
}
