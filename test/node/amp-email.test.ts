/** The recommendations email: its AMP part validates as AMP4EMAIL (official validator, offline). */
import { beforeAll, describe, expect, it } from "vitest";
import { emailLinks } from "../../core/email-template";
import { AMP_BASE_PLACEHOLDER, ampBase, demoEmail } from "../../scripts/demo/demo-email";
import { renderTemplate } from "../../scripts/email/render-email";
import { gmailLint, validateAmpEmail, validatorEnginePath } from "./support/amp-validator";

const TOKEN = "eyJ1IjoiYSJ9.sig";
const input = {
  headline: "Picked for you",
  count: 6,
  shopUrl: "https://shop.example/",
  shopName: "Shop & Co <3",
  ...emailLinks({ baseUrl: "https://opentime.example.com/", token: TOKEN, layout: "row" }),
};

describe("recommendations email", () => {
  beforeAll(() => {
    validatorEnginePath();
  }, 300_000);

  it("AMP part validates as AMP4EMAIL and passes Gmail's extra rules", async () => {
    const { amp } = await renderTemplate(input);
    const res = await validateAmpEmail(amp);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
    expect(gmailLint(amp)).toEqual([]);
    expect(amp).toContain(`src="https://opentime.example.com/v1/amp/recs?t=${TOKEN}&amp;n=6"`);
    expect(amp).toContain("{{title}}");
    expect(amp).toContain(`action-xhr="https://opentime.example.com/v1/amp/preferences?t=${TOKEN}"`);
  });

  it("the email npm start writes: its AMP part validates as written (https), the other parts point at the local Worker", async () => {
    const email = await demoEmail({
      localBase: "http://127.0.0.1:8787",
      ampBase: ampBase(undefined).base,
      token: TOKEN,
    });
    const res = await validateAmpEmail(email.amp);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
    expect(email.amp).toContain(`src="${AMP_BASE_PLACEHOLDER}/v1/amp/recs?t=${TOKEN}&amp;n=6"`);
    expect(email.html).toContain("http://127.0.0.1:8787/v1/img/");
    expect(ampBase("https://abc.trycloudflare.com/x")).toEqual({ base: "https://abc.trycloudflare.com", note: null });
    expect(ampBase("http://127.0.0.1:8787").base).toBe(AMP_BASE_PLACEHOLDER);
    // the local http base would not validate: the reason the AMP part gets its own
    const local = await demoEmail({
      localBase: "http://127.0.0.1:8787",
      ampBase: "http://127.0.0.1:8787",
      token: TOKEN,
    });
    expect((await validateAmpEmail(local.amp)).status).toBe("FAIL");
  });

  it("the validator really rejects what AMP4EMAIL forbids (control)", async () => {
    const { amp } = await renderTemplate({ ...input, recsUrl: "http://insecure.example/recs" });
    const broken = amp.replace("</body>", '<img src="https://x.example/a.png"></body>');
    const res = await validateAmpEmail(broken);
    expect(res.status).toBe("FAIL");
    expect(res.errors.map((e) => e.code)).toContain("DISALLOWED_TAG");
  });

  it("HTML part: open-time images (retina, shown at 1x) each linked to its own click URL; text part links them", async () => {
    const { html, text } = await renderTemplate(input);
    for (const i of [0, 1, 2]) {
      expect(html).toContain(
        `<a href="https://opentime.example.com/v1/c/${TOKEN}/row-${i}" style="display:block;text-decoration:none"><img src="https://opentime.example.com/v1/img/${TOKEN}/row-${i}@2x.png" width="200" height="300"`,
      );
      expect(text).toContain(`- https://opentime.example.com/v1/c/${TOKEN}/row-${i}`);
    }
    expect(html).toContain("Shop &amp; Co &lt;3");
    expect(text).toContain("Shop & Co <3");
  });

  it("the grid layout is two rows of two", async () => {
    const { html } = await renderTemplate({
      ...input,
      ...emailLinks({ baseUrl: "https://o.example", token: TOKEN, layout: "grid" }),
    });
    expect(html.match(/<tr>\s*<td width="300"/g)?.length).toBe(2);
    expect(html.match(/grid-\d@2x\.png/g)).toEqual([
      "grid-0@2x.png",
      "grid-1@2x.png",
      "grid-2@2x.png",
      "grid-3@2x.png",
    ]);
  });
});
