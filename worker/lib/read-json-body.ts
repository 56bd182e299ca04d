/**
 * The one way routes read a JSON body: the declared and the real size are both capped (a body without
 * Content-Length is streamed and cut at the cap, never buffered whole), it must be UTF-8 and JSON (a compressed one is
 * refused saying so), nesting at most MAX_JSON_NESTING levels (counted before the parse: lib/json-nesting.ts).
 * Errors are ApiErrors: 413 PAYLOAD_TOO_LARGE, 400 INVALID_JSON (and, through a schema, 400 BAD_REQUEST).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors";
import { MAX_JSON_NESTING, nestsDeeper } from "./json-nesting";
import { readCapped } from "./read-capped";
import { invalidInput } from "./zod-issues";

export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new ApiError("PAYLOAD_TOO_LARGE", `the body is over ${maxBytes} bytes`);
  const declared = c.req.header("Content-Length");
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array(0);
  const bytes = await readCapped(stream, maxBytes);
  if (!bytes) throw tooLarge();
  return bytes;
}

export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const bytes = await readBodyBytes(c, maxBytes);
  // a compressed body is not inflated (its size after would escape the cap): one that does not read as JSON says
  // so, rather than "not UTF-8" (one a proxy inflated on the way, its header left, reads as it is)
  const encoding = c.req.header("Content-Encoding")?.trim().toLowerCase();
  const refuse = (plain: string) =>
    encoding && encoding !== "identity"
      ? new ApiError(
          "INVALID_JSON",
          `the body is compressed (Content-Encoding: ${encoding.slice(0, 32)}): send it uncompressed`,
        )
      : new ApiError("INVALID_JSON", plain);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw refuse("the body is not UTF-8");
  }
  // nesting is counted before the parse, whose cost per level is far above a byte's (lib/json-nesting.ts)
  if (nestsDeeper(bytes)) throw refuse(`the body is nested deeper than ${MAX_JSON_NESTING} arrays or objects`);
  try {
    return JSON.parse(text);
  } catch {
    throw refuse("the body is not JSON");
  }
}

/** A JSON body validated by `schema`: 400 BAD_REQUEST naming each bad field's path otherwise. */
export async function readValidBody<T extends z.ZodType>(c: Context, schema: T, maxBytes: number): Promise<z.infer<T>> {
  const input = await readJsonBody(c, maxBytes);
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "", { input });
  return parsed.data;
}
