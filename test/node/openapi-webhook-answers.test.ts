/**
 * The webhook's answers in the OpenAPI description (worker/openapi/document.ts) are said from the policy that
 * judges them (core/triggers.ts RETRIED_4XX, RETRY_AFTER_STATUSES, WEBHOOK_TIMEOUT_MS): with that policy changed
 * (mocked here), the description changes with it.
 */
import { describe, expect, it, vi } from "vitest";
import { openApiDocument } from "../../worker/openapi/document";

vi.mock("../../core/triggers", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../core/triggers")>()),
  RETRIED_4XX: new Set([429, 401, 418]),
  RETRY_AFTER_STATUSES: new Set([418, 429, 502, 503]),
  WEBHOOK_TIMEOUT_MS: 7_500,
}));

describe("the trigger webhook's answers", () => {
  it("list the retried 4xx, those waited for by their Retry-After, and the timeout, from the policy", () => {
    const doc = openApiDocument() as {
      webhooks: Record<string, { post: { responses: Record<string, { description: string }> } }>;
    };
    const answers = doc.webhooks.triggerDelivery?.post.responses;
    expect(answers?.["4XX"]?.description).toBe(
      "refused, given up at once; but 401, 418 and 429 are retried (418 and 429 after its Retry-After)",
    );
    expect(answers?.["5XX"]?.description).toBe(
      "retried (502 and 503 after its Retry-After); so are a redirect and no answer within 7.5 s",
    );
  });
});
