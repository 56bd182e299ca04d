/**
 * The builder's options the email tests share (scripts/email/build-emails.ts): a recipients file written to a
 * fresh temporary directory, messages to its `out`, the Worker at a deployed origin, a test secret.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BUILDER_SECRET = "builder-test-secret-0123456789abcdef";
export const BUILDER_BASE = "https://opentime.shop.example";

/** A temporary directory holding `recipients.csv` (`csv`), and options that build for it. */
export async function builderSetup(csv: string, prefix = "opentime-email-") {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const recipients = join(dir, "recipients.csv");
  await writeFile(recipients, csv);
  const options = {
    campaign: "spring-sale",
    template: "recs-email",
    recipientsCsv: recipients,
    outDir: join(dir, "out"),
    baseUrl: BUILDER_BASE,
    secret: BUILDER_SECRET,
    layout: "row" as const,
    ttlDays: 30,
    from: "Shop <newsletter@shop.example>",
    subject: "Picked for you",
    headline: "Picked for you",
    shopName: "Shop",
    shopUrl: "https://shop.example/",
  };
  return { dir, recipients, options };
}
