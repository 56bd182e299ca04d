/**
 * `npm run email -- --campaign C --recipients file.csv [--template recs-email] [--out build/emails]
 *   [--base-url https://opentime.shop.example] [--layout row|card|grid] [--esp mailchimp|braze|sfmc]`
 * Writes one MIME message per recipient, or (with --esp) the parts once with merge tags plus a CSV of
 * tokens to upload. Tokens are signed with TOKEN_SECRET (environment, else `.dev.vars`). A template that is not
 * there, or an --out that is no directory, stops it before anything is asked; so does a campaign the Worker has not
 * stored (campaign-client.ts), before a send is recorded under its id.
 * First it asks the Worker at --api-url (default: --base-url) with the admin key (ADMIN_API_KEY, else `.dev.vars`) which recipients must
 * not be mailed (unsubscribed, paused, erased, or held back by their frequency preference: another campaign's
 * send, or a triggered one, too recent for it) and leaves them out, counted by reason; a Worker that cannot be
 * asked stops the build (fail closed) unless `--skip-suppression-check` says to build unchecked. Then, before it
 * writes anything, it records this campaign's send to every recipient it builds for (sends-client.ts: each reader's
 * shard keeps it, and the next campaign's check counts it; this campaign's own never hold its recipients back, so
 * a rebuild or re-run is safe); a send it cannot record stops the build too. `--dry-run` checks and builds but
 * records nothing (a preview: not for sending); `--skip-suppression-check` asks nothing of the Worker about
 * recipients, so records nothing either (offline). Subject lines:
 * the campaign's subject rules and the text part's block copy, asked of the same Worker; `--subject "..."` gives
 * everyone one instead. The recipients' optional `unsubscribe_url` column becomes List-Unsubscribe headers and
 * each footer's Unsubscribe link; without it, opentime's own one-click link (core/unsubscribe-link.ts). In ESP mode
 * the footers link the ESP's own unsubscribe (build-emails.ts ESP_UNSUBSCRIBE_TAGS).
 */

import { z } from "zod";
import { LAYOUT_NAMES, type LayoutName } from "../../core/layouts";
import { DEFAULT_TOKEN_TTL_DAYS } from "../../core/token";
import { cliArgs } from "../lib/cli-args";
import { adminKey, tokenSecret } from "../lib/dev-vars";
import { checkOut } from "../lib/out-dir";
import { tokenTtlDays } from "../lib/token-lifetime";
import {
  BUILD_LIST,
  buildEmails,
  checkOptions,
  ESP_MERGE_TAGS,
  type Esp,
  readRecipients,
  SUBJECT_FIELD,
} from "./build-emails";
import { campaignStored } from "./campaign-client";
import { readTemplates } from "./render-email";
import { recordSends } from "./sends-client";
import { fetchSubjects } from "./subjects-client";
import { fetchSuppressions } from "./suppressions-client";

const USAGE =
  "usage: npm run email -- --campaign <id> --recipients <file.csv> [--template recs-email] [--out build/emails] [--base-url <origin> --shop-url <your shop>] [--layout row|card|grid] [--esp mailchimp|braze|sfmc] [--ttl-days 30] [--from ...] [--subject ...] [--headline ...] [--shop-name ...] [--api-url <origin>] [--skip-suppression-check] [--dry-run]";

const { values } = cliArgs(
  USAGE,
  {
    options: {
      campaign: { type: "string" },
      template: { type: "string", default: "recs-email" },
      recipients: { type: "string" },
      out: { type: "string", default: "build/emails" },
      "base-url": { type: "string", default: process.env.PUBLIC_BASE_URL ?? "http://127.0.0.1:8787" },
      layout: { type: "string", default: "row" },
      esp: { type: "string" },
      "ttl-days": { type: "string", default: String(DEFAULT_TOKEN_TTL_DAYS) },
      from: { type: "string", default: "Demo Shop <newsletter@shop.example>" },
      subject: { type: "string" },
      "api-url": { type: "string" },
      headline: { type: "string", default: "Picked for you" },
      "shop-name": { type: "string", default: "the opentime demo shop" },
      "shop-url": { type: "string" },
      "skip-suppression-check": { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
    },
  },
  z.object({
    layout: z.enum(LAYOUT_NAMES as [LayoutName, ...LayoutName[]]),
    esp: z.enum(Object.keys(ESP_MERGE_TAGS) as [Esp, ...Esp[]]).optional(),
    "ttl-days": tokenTtlDays(),
  }),
);

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

if (!values.campaign || !values.recipients) fail("--campaign and --recipients are required");
const ttlDays = values["ttl-days"];
const baseUrl = values["base-url"] as string;

const DEFAULT_SUBJECT = "Picked for you";

/** Sends this run recorded, while a failure would leave them recorded for mail not written (null: none). */
let recordedUnbuilt: number | null = null;
/** Whether the writing had begun (files of the build may be there). */
let writing = false;

try {
  const options = checkOptions({
    campaign: values.campaign,
    template: values.template as string,
    recipientsCsv: values.recipients,
    outDir: values.out as string,
    baseUrl,
    secret: tokenSecret(),
    layout: values.layout,
    ttlDays,
    from: values.from as string,
    subject: values.subject ?? DEFAULT_SUBJECT,
    headline: values.headline as string,
    shopName: values["shop-name"] as string,
    // required for a real send: a deployed Worker's root is not the shop
    shopUrl: values["shop-url"],
    esp: values.esp,
  });
  const apiUrl = values["api-url"] ?? baseUrl;
  // .dev.vars' key only for a Worker on this machine (adminKey)
  const key = () => adminKey(apiUrl, "--api-url");
  const recipients = (await readRecipients(values.recipients, !values.esp)).map((r) => r.userId);
  // whom not to mail, before anything is built or asked of them (fail closed: SuppressionCheckFailed ends the run)
  const checked = !values["skip-suppression-check"];
  // the Worker is asked about the recipients: the check, or each one's subject line (which records experiment arms)
  const asksWorker = checked || !values.subject;
  // what would stop the build stops it before the Worker is asked anything or a send is recorded: a missing
  // admin key (when the Worker is to be asked), a template that is not there, an --out that is no directory
  if (asksWorker) key();
  const templates = await readTemplates(options.template);
  await checkOut(options.outDir);
  // a campaign the Worker has not stored (most often a misspelt id) stops the build before a send or an experiment
  // arm is recorded under that id, which would hold its readers back from the real campaign; the defaults are one
  // save away. Asked whenever the Worker is asked anything (offline, with one subject for all, nothing is)
  if (asksWorker && (await campaignStored(apiUrl, key(), values.campaign)) === false)
    throw new Error(
      `campaign "${values.campaign}" is not stored on the Worker at ${apiUrl}: nothing was recorded or built. Misspelt? GET /v1/admin/campaigns lists the stored ids. To send it under the defaults (no blocks of your own, no subject rules), store it first: POST /v1/admin/campaigns with {"id":"${values.campaign}","campaign":{}}`,
    );
  const suppressed = checked ? await fetchSuppressions(apiUrl, key(), recipients, values.campaign) : undefined;
  const mailed = recipients.filter((u) => !suppressed?.has(u));
  // this campaign's send to each recipient built for, before anything is written (SendsNotRecorded ends the run):
  // not for a preview, nor offline (unchecked: nothing about the recipients is asked of the Worker)
  const record = checked && !values["dry-run"] && mailed.length > 0;
  const recorded = record ? await recordSends(apiUrl, key(), values.campaign, mailed) : null;
  recordedUnbuilt = recorded?.recorded ?? null;
  // readers their shard held back at the recording (a change since the check) are left out as the check's are
  const leftOut = recorded?.held.size ? new Map([...(suppressed ?? []), ...recorded.held]) : suppressed;
  // the campaign's subject rules, per recipient built for (an experiment records an arm for each, so asked only for
  // those mailed, and recorded only when the build is to be sent), unless one subject is given for all
  const built = recorded?.held.size ? mailed.filter((u) => !recorded.held.has(u)) : mailed;
  const subjects =
    values.subject || built.length === 0
      ? undefined
      : await fetchSubjects(apiUrl, key(), values.campaign, built, !values["dry-run"]);
  writing = true;
  const result = await buildEmails({ ...options, templates, subjects, suppressed: leftOut });
  recordedUnbuilt = null;
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  console.log(
    `${n(result.recipients, "recipient", "recipients")} -> ${n(result.files.length, "file", "files")} in ${values.out}`,
  );
  if (result.removed > 0)
    console.log(`removed the ${n(result.removed, "file", "files")} of the build before in ${values.out}`);
  if (result.strayMessages > 0)
    console.log(
      `note: ${values.out} also holds ${n(result.strayMessages, ".eml file", ".eml files")} this build did not write (from a build before this list existed, or yours): send only the files ${BUILD_LIST} there lists`,
    );
  const skipped = Object.entries(result.skipped);
  if (skipped.length > 0)
    console.log(
      `left out ${skipped.reduce((n, [, k]) => n + k, 0)} of ${recipients.length} recipients opentime knows must not be mailed: ${skipped.map(([why, n]) => `${why} ${n}`).join(", ")}`,
    );
  else if (checked)
    console.log(
      "left out none: no recipient is unsubscribed, paused, erased or held back by their frequency preference in opentime",
    );
  else
    console.log(
      "note: --skip-suppression-check: recipients who unsubscribed, paused or were erased in opentime, or whose frequency preference holds them back, were NOT left out; your list's own suppressions must leave them out. This send was not recorded: later campaigns will not count it against anyone's frequency preference",
    );
  if (recorded !== null)
    console.log(
      `recorded this campaign's send to ${n(recorded.recorded, "recipient", "recipients")} (their frequency preference counts it)`,
    );
  if (recorded?.held.size)
    console.log(
      `held back at the recording, and left out: ${n(recorded.held.size, "recipient", "recipients")} whose state changed since the check (another build's or a trigger's send, an unsubscribe or a pause)`,
    );
  else if (checked && values["dry-run"])
    console.log(
      "note: --dry-run: this send was not recorded; do not send these files (later campaigns would not count it against anyone's frequency preference)",
    );
  if (subjects) {
    const rules = new Map<string, number>();
    for (const s of subjects.values()) rules.set(s.rule ?? "(none)", (rules.get(s.rule ?? "(none)") ?? 0) + 1);
    console.log(`subjects by rule: ${[...rules].map(([r, n]) => `${r} ${n}`).join(", ")}`);
    const blocks = new Map<string, number>();
    for (const s of subjects.values()) if (s.copy) blocks.set(s.copy.block, (blocks.get(s.copy.block) ?? 0) + 1);
    if (blocks.size > 0) console.log(`text part copy by block: ${[...blocks].map(([b, n]) => `${b} ${n}`).join(", ")}`);
  }
  if (values.esp) console.log(`upload ${result.files.at(-1)} and use the merge tag in the parts written next to it`);
  if (values.esp && subjects && [...subjects.values()].some((s) => s.subject !== null))
    console.log(`subject line: the ${ESP_MERGE_TAGS[values.esp](SUBJECT_FIELD)} merge tag (its CSV column)`);
  if (result.withoutOneClick)
    console.log(
      `note: ${n(result.withoutOneClick, "message has", "messages have")} no one-click unsubscribe (List-Unsubscribe-Post, which Gmail and Yahoo ask of bulk senders): a mailto: unsubscribe_url, or opentime's link on a --base-url that is not https`,
    );
  if (result.unsubscribeUrlsUnused)
    console.log(
      `note: the unsubscribe_url of ${result.unsubscribeUrlsUnused} recipients is in no file: in ESP mode each footer links your ESP's own unsubscribe (its merge tag) and the ESP adds its List-Unsubscribe headers (record the unsubscribes it takes with PUT /v1/users/<id>/consent)`,
    );
  if (!baseUrl.startsWith("https://"))
    console.log("note: --base-url is not https; mail clients (and AMP) need a public https origin for a real send");
} catch (e) {
  console.error((e as Error).message);
  // what a failure after the recording leaves: sends recorded for mail not (all) written
  if (recordedUnbuilt !== null)
    console.error(
      `this campaign's send to ${recordedUnbuilt} ${recordedUnbuilt === 1 ? "recipient" : "recipients"} was recorded before it stopped, and ${writing ? "the build did not finish" : "nothing was built"}: run the same build again within 20 hours of this issue's first build (this campaign's own issue never holds back its recipients); given up, they count against those readers' frequency preference until its window ends (30 days at most)`,
    );
  process.exit(1);
}
