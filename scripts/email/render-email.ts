/** Reads a template set from amp-templates/ (`<name>.amp.html`, `.html`, `.txt`) and renders it (core/email-template.ts). */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type EmailTemplates, type EmailView, renderEmail } from "../../core/email-template";

export const TEMPLATE_DIR = "amp-templates";
export const DEFAULT_TEMPLATE = "recs-email";

export async function readTemplates(name = DEFAULT_TEMPLATE, dir = TEMPLATE_DIR): Promise<EmailTemplates> {
  const exts = [".amp.html", ".html", ".txt"] as const;
  const read = await Promise.allSettled(exts.map((ext) => readFile(join(dir, `${name}${ext}`), "utf8")));
  // every file missing is named, in this order, whichever read failed first
  const missing = exts.filter((_, i) => read[i]?.status === "rejected").map((ext) => join(dir, `${name}${ext}`));
  if (missing.length > 0)
    throw new Error(
      `template ${name}: missing ${missing.join(", ")} (a template is three files: .amp.html, .html, .txt)`,
    );
  const [amp, html, text] = read.map((r) => (r as PromiseFulfilledResult<string>).value) as [string, string, string];
  return { amp, html, text };
}

export async function renderTemplate(
  view: EmailView,
  name = DEFAULT_TEMPLATE,
  dir = TEMPLATE_DIR,
): Promise<EmailTemplates> {
  return renderEmail(await readTemplates(name, dir), view);
}
