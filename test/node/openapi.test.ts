/** The OpenAPI description (worker/openapi/document.ts) is valid OpenAPI 3.1 and its references resolve. */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../worker/errors";
import { openApiDocument, ROUTES } from "../../worker/openapi/document";

describe("OpenAPI description", () => {
  it("validates against the OpenAPI 3.1 schema, and every $ref resolves", async () => {
    const doc = openApiDocument();
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // and the validator refuses what is wrong: a parameter that does not say where it goes
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, { parameters: { in?: string }[] }>> };
    delete broken.paths["/v1/amp/recs"]?.get?.parameters[0]?.in;
    expect((await new Validator().validate(broken)).valid).toBe(false);
    const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const r of refs) {
      expect(r, r).toMatch(/^#\/components\/schemas\/[A-Za-z0-9]+$/);
      expect(schemas[r.split("/").pop() as string], r).toBeDefined();
    }
  });

  it("describes what a trigger's webhook receives: the body's schema and the signature and delivery headers", () => {
    const doc = openApiDocument() as {
      webhooks?: Record<string, { post: { requestBody: unknown; parameters: { name: string; in: string }[] } }>;
      components: { schemas: Record<string, unknown> };
    };
    const post = doc.webhooks?.triggerDelivery?.post;
    expect(JSON.stringify(post?.requestBody)).toContain("#/components/schemas/TriggerDelivery");
    expect(post?.parameters.map((p) => [p.name, p.in])).toEqual([
      ["Opentime-Signature", "header"],
      ["Opentime-Delivery", "header"],
    ]);
    const body = JSON.stringify(doc.components.schemas.TriggerDelivery);
    for (const field of ["cartAt", "changedAt", "oldPrice", "attempt", "viewed-price-drop"])
      expect(body).toContain(field);
  });

  it("describes request bodies from the schemas the routes validate with (their limits and closed sets)", () => {
    const schemas = (openApiDocument().components as { schemas: Record<string, Record<string, unknown>> }).schemas;
    const text = (name: string) => JSON.stringify(schemas[name]);
    expect(text("Campaign")).toContain('"maxItems":20'); // MAX_BLOCKS
    expect(text("Condition")).toContain('"topProbability"');
    expect(text("TriggersConfig")).toContain('"cart-abandoned"');
    expect(text("CatalogPatch")).toContain('"maxItems":1000'); // MAX_PATCH_ITEMS
    expect(text("Event")).toContain('"cart_add"');
    expect(text("Error")).toContain('"CAMPAIGN_EXISTS"');
    // every write of the admin API has a body (a rollback, which takes nothing, aside)
    const writes = ROUTES.filter(
      (r) =>
        ["put", "patch"].includes(r.method) ||
        (r.method === "post" && r.route.startsWith("/v1/admin/") && r.route !== "/v1/admin/models/rollback"),
    );
    expect(writes.length).toBeGreaterThan(6);
    for (const r of writes) expect(r.body, `${r.method} ${r.route}`).toBeDefined();
  });

  it("lists each error answer's codes under the status worker/errors.ts gives them", () => {
    const misplaced: string[] = [];
    let answers = 0;
    for (const r of ROUTES) {
      for (const [status, answer] of Object.entries(r.responses)) {
        // a coded JSON error, or the one staff page answering its browser with HTML (the dashboard's unknown id)
        const page = r.route === "/dashboard" && answer.media === "text/html";
        if (Number(status) >= 400 && !page) expect(answer.codes, `${r.method} ${r.route} ${status}`).toBeDefined();
        for (const code of answer.codes ?? []) {
          answers++;
          if (ERROR_STATUS[code] !== Number(status)) misplaced.push(`${r.method} ${r.route} ${status} ${code}`);
        }
      }
    }
    expect(answers).toBeGreaterThan(50);
    expect(misplaced).toEqual([]);
  });

  it("says each EVENTS_UNAVAILABLE comes without Retry-After when no EVENTS queue is bound (eventsUnavailable)", () => {
    const answers = ROUTES.flatMap((r) =>
      Object.values(r.responses)
        .filter((a) => a.codes?.includes("EVENTS_UNAVAILABLE"))
        .map((a) => [`${r.method} ${r.route}`, a.description] as const),
    );
    // the events API (public and import), a consent change, the subjects' arms
    expect(answers.length).toBeGreaterThanOrEqual(4);
    for (const [route, description] of answers) expect(description, route).toMatch(/no EVENTS queue is bound/);
    for (const [route, description] of answers) expect(description, route).not.toMatch(/not bound: retry/);
  });

  it("narrows an error answer to its codes, and takes either campaign version where the routes do", () => {
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const triggers503 = doc.paths["/v1/admin/triggers"]?.get?.responses["503"]?.content?.["application/json"];
    expect(JSON.stringify(triggers503)).toContain('"enum":["KV_UNAVAILABLE"]');
    expect(JSON.stringify(doc.components.schemas.CampaignBody)).toContain("#/components/schemas/CampaignV1");
    const body = doc.components.schemas.ExperimentBody as { required?: string[] };
    expect(body.required).not.toContain("v");
    expect(body.required).not.toContain("id");
  });
});
