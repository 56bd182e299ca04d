/** The recommendations email: its AMP part validates as AMP4EMAIL (official validator, offline). */
import { beforeAll, describe, expect, it } from "vitest";
import { renderRecsEmail } from "../../scripts/email/render-email";
import { gmailLint, validateAmpEmail, validatorEnginePath } from "./support/amp-validator";

const input = {
  headline: "Picked for you",
  recsUrl: "https://opentime.example.com/v1/amp/recs?t=eyJ1IjoiYSJ9.sig&n=6",
  preferencesUrl: "https://opentime.example.com/v1/amp/preferences?t=eyJ1IjoiYSJ9.sig",
  count: 6,
  shopUrl: "https://shop.example/",
  shopName: "Shop & Co",
  items: [{ title: "Lamp <b>", price: "£10.00", image: "https://shop.example/a.png", url: "https://shop.example/a" }],
};

describe("recommendations email", () => {
  beforeAll(() => {
    validatorEnginePath();
  }, 300_000);

  it("AMP part validates as AMP4EMAIL and passes Gmail's extra rules", async () => {
    const { amp } = await renderRecsEmail(input);
    const res = await validateAmpEmail(amp);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
    expect(gmailLint(amp)).toEqual([]);
    expect(amp).toContain('src="https://opentime.example.com/v1/amp/recs?t=eyJ1IjoiYSJ9.sig&amp;n=6"');
    expect(amp).toContain("{{title}}");
    expect(amp).toContain('action-xhr="https://opentime.example.com/v1/amp/preferences?t=eyJ1IjoiYSJ9.sig"');
  });

  it("the validator really rejects what AMP4EMAIL forbids (control)", async () => {
    const { amp } = await renderRecsEmail({ ...input, recsUrl: "http://insecure.example/recs" });
    const broken = amp.replace("</body>", '<img src="https://x.example/a.png"></body>');
    const res = await validateAmpEmail(broken);
    expect(res.status).toBe("FAIL");
    expect(res.errors.map((e) => e.code)).toContain("DISALLOWED_TAG");
  });

  it("HTML and text parts stand on their own and escape content", async () => {
    const { html, text } = await renderRecsEmail(input);
    expect(html).toContain("Lamp &lt;b&gt;");
    expect(html).toContain('href="https://shop.example/a"');
    expect(text).toContain("- Lamp <b> (£10.00): https://shop.example/a");
    expect(text).toContain("Shop & Co");
  });
});
