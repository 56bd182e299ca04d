/**
 * `npm run amp-check -- <file>...`: checks the AMP part of built emails before they are sent, offline. Gmail and
 * Yahoo drop an AMP part that does not validate as AMP4EMAIL, without a word, and show the HTML part instead: an
 * edited template (amp-templates/) can lose every reader's open-time content that way. Each file is a message
 * (`.eml`, as `npm run email` writes them: its text/x-amp-html part) or an AMP document (any other name, as
 * `--esp` writes `<template>.<esp>.amp.html`; a file that is no AMP document, such as the HTML part beside it, is
 * skipped with a note). An ESP's part is checked as the ESP sends it (asTheEspSends: its merge tags filled).
 * Each is validated by the official AMP validator (amp-validator.ts) and Gmail's own rules on top. Prints each
 * file's result; exit 0 when every file checked passes, 1 when one does not (or a message has no AMP part), 2 when
 * a file cannot be read, none was an AMP document, or the validator cannot be had.
 */
import { readFile } from "node:fs/promises";
import PostalMime from "postal-mime";
import { cliArgs } from "../lib/cli-args";
import { gmailLint, validateAmpEmail, validatorEnginePath } from "./amp-validator";
import { asTheEspSends, espOfPart } from "./build-emails";

const USAGE = "usage: npm run amp-check -- <message.eml | amp.html> [...]";

const { positionals } = cliArgs(USAGE, { options: {}, allowPositionals: true });
if (positionals.length === 0) {
  console.error(`name at least one built email\n${USAGE}`);
  process.exit(2);
}

/** The AMP document a file holds: a message's text/x-amp-html part, or the file itself; null: a message without one. */
async function ampOf(path: string, raw: string): Promise<string | null> {
  if (!/\.eml$/i.test(path)) return raw;
  const parsed = await PostalMime.parse(raw);
  // postal-mime keeps text/x-amp-html among its attachments, decoded
  const part = parsed.attachments.find((a) => a.mimeType === "text/x-amp-html");
  if (!part) return null;
  return typeof part.content === "string" ? part.content : new TextDecoder().decode(part.content);
}

/** What a merge tag is filled with: a value shaped as a token is (base64url and `.`). */
const SAMPLE_VALUE = "sample.value";

/** Whether the document says it is AMP for email (`<html ⚡4email>` or `<html amp4email>`). */
function isAmpEmail(html: string): boolean {
  const tag = /<html\b[^>]*>/i.exec(html)?.[0] ?? "";
  return /\s(?:⚡4email|amp4email)(?=[\s>=])/i.test(tag);
}

try {
  validatorEnginePath();
} catch (e) {
  console.error(
    `the AMP validator's engine could not be had: it is taken once from the npm registry (next@15.5.29, ~31 MB) ` +
      `and kept in node_modules/.cache/opentime/. ${(e as Error).message.split("\n")[0]}`,
  );
  process.exit(2);
}

let failed = 0;
let checked = 0;
for (const path of positionals) {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (e) {
    console.error(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    process.exit(2);
  }
  const found = await ampOf(path, raw);
  if (found === null) {
    checked++;
    failed++;
    console.log(`${path}: FAIL no text/x-amp-html part (the message would have no AMP version)`);
    continue;
  }
  if (!isAmpEmail(found)) {
    console.log(`${path}: skipped, not an AMP document (its <html> has no ⚡4email): name the .amp.html part`);
    continue;
  }
  checked++;
  const esp = espOfPart(found);
  const amp = esp ? asTheEspSends(esp, found, SAMPLE_VALUE) : found;
  const as = esp ? ` as ${esp} sends it, its merge tags filled` : "";
  const result = await validateAmpEmail(amp);
  const errors = result.errors.filter((e) => e.severity === "ERROR");
  const gmail = gmailLint(amp);
  if (result.status === "PASS" && gmail.length === 0) {
    console.log(`${path}: PASS (AMP4EMAIL and Gmail's rules${as})`);
    continue;
  }
  failed++;
  console.log(`${path}: FAIL${as ? ` (${as.trim()})` : ""}`);
  for (const e of errors) console.log(`  line ${e.line}, column ${e.col}: ${e.message} (${e.code})`);
  for (const problem of gmail) console.log(`  Gmail: ${problem}`);
  if (errors.some((e) => e.code === "INVALID_URL_PROTOCOL"))
    console.log("  (AMP fetches only https: build with a public https --base-url for a real send)");
}
if (checked === 0) {
  console.error("none of the files is an AMP document or a message");
  process.exit(2);
}
if (failed > 0) {
  console.log(`${failed} of ${checked} failed: a mail provider would show the HTML part instead`);
  process.exit(1);
}
