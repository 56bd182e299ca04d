/**
 * A submitted form (url-encoded, as Gmail's amp-form and a mail provider's one-click unsubscribe send it, or
 * multipart), read with the body's size capped (read-json-body.ts): 413 PAYLOAD_TOO_LARGE over it, 400 BAD_REQUEST
 * for a body that is not a form.
 */
import type { Context } from "hono";
import { ApiError } from "../errors";
import { readBodyBytes } from "./read-json-body";

export async function readForm(c: Context, maxBytes: number): Promise<FormData> {
  const bytes = await readBodyBytes(c, maxBytes);
  const type = c.req.header("Content-Type") ?? "application/x-www-form-urlencoded";
  try {
    return await new Request("https://form.invalid/", {
      method: "POST",
      headers: { "Content-Type": type },
      body: bytes,
    }).formData();
  } catch {
    throw new ApiError(
      "BAD_REQUEST",
      "the body is not a form (application/x-www-form-urlencoded or multipart/form-data)",
    );
  }
}
