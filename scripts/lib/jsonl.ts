/**
 * Files of lines (JSON Lines: profiles.jsonl, pools.jsonl) written and read a line at a time, never as one string:
 * a string holds at most ~536.8M characters in Node, so a million readers' profiles (~1.5 KB a line) or pools
 * (~2.5 KB) joined into one, or read back whole, fail with "Invalid string length". `writeLines` writes each line
 * and a "\n" through a write stream (backpressure respected, done once the file is flushed, any error rejects);
 * `readLines` yields a file's lines through node:readline.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Lines are handed to the stream in chunks of about this many characters (fewer, larger writes). */
const CHUNK_CHARS = 1 << 16;

/** Writes `path` (replacing it): every line followed by "\n"; no lines, an empty file. */
export async function writeLines(path: string, lines: Iterable<string> | AsyncIterable<string>): Promise<void> {
  // pipeline waits for the stream's drain between chunks, resolves on its finish, and rejects (the file stream
  // destroyed) when opening or writing fails or `lines` throws
  await pipeline(Readable.from(chunked(lines), { objectMode: false }), createWriteStream(path));
}

async function* chunked(lines: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  let parts: string[] = [];
  let size = 0;
  for await (const line of lines) {
    parts.push(line, "\n");
    size += line.length + 1;
    if (size >= CHUNK_CHARS) {
      yield parts.join("");
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield parts.join("");
}

/** The lines of `path` (UTF-8), without their "\n" ("\r\n" too); a read error rejects the iteration. */
export async function* readLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* lines;
  } finally {
    lines.close();
    input.destroy();
  }
}
