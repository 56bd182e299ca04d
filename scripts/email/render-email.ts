/** Reads a template set from amp-templates/ (`<name>.amp.html`, `.html`, `.txt`) and renders it (core/email-template.ts). */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type EmailTemplates, type EmailView, renderEmail } from "../../core/email-template";

export const TEMPLATE_DIR = "amp-templates";
export const DEFAULT_TEMPLATE = "recs-email";

export async function readTemplates(name = DEFAULT_TEMPLATE, dir = TEMPLATE_DIR): Promise<EmailTemplates> {
  const read = (ext: string) =>
    readFile(join(dir, `${name}${ext}`), "utf8").catch(() => {
      throw new Error(
        `template ${name}: missing ${join(dir, `${name}${ext}`)} (a template is three files: .amp.html, .html, .txt)`,
      );
    });
  const [amp, html, text] = await Promise.all([read(".amp.html"), read(".html"), read(".txt")]);
  return { amp, html, text };
}

export async function renderTemplate(
  view: EmailView,
  name = DEFAULT_TEMPLATE,
  dir = TEMPLATE_DIR,
): Promise<EmailTemplates> {
  return renderEmail(await readTemplates(name, dir), view);
}
