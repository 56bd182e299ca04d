/**
 * A shop's CSV file as every reader of the pipeline opens it: gunzipped when its bytes are gzip (whatever its name
 * says), checked to be UTF-8 as it streams, and a failure worded for the person who passed the file (which file, which
 * line, what to do) rather than as the system or zlib names it.
 */
import { isUtf8 } from "node:buffer";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { pipeline, type Readable, Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { parse } from "csv-parse";

/** Whether the file starts with gzip's magic bytes; when it cannot be read, what its name says (the stream then fails). */
function isGzip(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch {
    return path.endsWith(".gz");
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const described = new WeakSet<Error>();

/**
 * `e`'s message as the person who passed `path` needs it, once (pipeline hands one error to every stage); the error
 * itself is kept: its code, its stack. Also for a shop file read whole (`npm run email`'s recipients).
 */
export function describeFailure(path: string, e: NodeJS.ErrnoException): void {
  if (described.has(e)) return;
  described.add(e);
  if (e.code === "ENOENT")
    // npm runs a script in the repository, whatever directory it was typed in: a relative path is read from there
    e.message = `${path}: no such file (ENOENT); a relative path is read from ${process.cwd()}, where npm runs the scripts`;
  else if (e.code === "EISDIR") e.message = `${path} is a directory: pass the CSV file itself (EISDIR)`;
  else if (e.code === "Z_BUF_ERROR")
    e.message = `${path}: the gzip data stops short, the file was cut (a copy or download that did not finish?): copy it again`;
  else if (e.code === "Z_DATA_ERROR") e.message = `${path}: the gzip data is damaged (${e.message})`;
  // the CSV parser's own (an unclosed quote...): it names the line, not the file
  else if (e.code?.startsWith("CSV_")) e.message = `${path}: ${e.message}`;
}

/** Bytes `b` holds up to the last character it holds whole (a multi-byte one cut by the chunk's end waits for the next). */
function wholeCharacters(b: Buffer): number {
  for (let i = b.length - 1; i >= Math.max(0, b.length - 3); i--) {
    const c = b[i] as number;
    if (c < 0x80) return b.length;
    if (c >= 0xc0) {
      const size = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return i + size > b.length ? i : b.length;
    }
  }
  return b.length;
}

/** Index of the first byte of `b` that starts no well-formed UTF-8 character (b.length when none). */
function firstInvalidByte(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const size =
      c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (size === 0 || (size > 1 && !isUtf8(b.subarray(i, i + size)))) return i;
    i += size;
  }
  return b.length;
}

/** The first bytes of a zip archive, an xlsx among them. */
const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** What a file that is not UTF-8 most likely is, from its first bytes, and what to do. */
function notUtf8Advice(head: Buffer): string {
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))
    return 'it is UTF-16 (a spreadsheet\'s "Unicode text"): save it as "CSV UTF-8" instead';
  if (head.subarray(0, 4).equals(ZIP))
    return 'it is a spreadsheet (xlsx) or another zip archive, not CSV text: export it as CSV ("CSV UTF-8")';
  return (
    'save it as UTF-8 (a spreadsheet\'s "CSV UTF-8"), or convert it: iconv -f latin1 -t utf-8 <file> > <file>.utf8.csv ' +
    "(latin1, or the encoding it was written in: windows-1252, windows-1250...)"
  );
}

/**
 * Passes UTF-8 bytes on as they come and fails at the first that are not, naming the line: the CSV parser would
 * read them as U+FFFD, and a latin-1 export's accented titles would reach the emails as "CAF� LANTERN".
 */
function utf8Only(path: string): Transform {
  let held = Buffer.alloc(0);
  let head: Buffer | null = null;
  let line = 1;
  const refuse = (b: Buffer, at: number) => {
    let n = line;
    for (let i = b.indexOf(0x0a); i >= 0 && i < at; i = b.indexOf(0x0a, i + 1)) n++;
    const byte = (b[at] ?? 0).toString(16).toUpperCase().padStart(2, "0");
    return new Error(`${path}: line ${n} is not UTF-8 text (byte 0x${byte}): ${notUtf8Advice(head ?? b)}`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const b = held.length ? Buffer.concat([held, chunk]) : chunk;
      if (!head) {
        head = Buffer.from(b.subarray(0, 4));
        // a zip archive's header is UTF-8 as far as it goes: its binary data may come after the first chunk
        if (head.equals(ZIP)) return done(new Error(`${path}: ${notUtf8Advice(head)}`));
        // JSON (an event log as JSON lines, an export as one array) is UTF-8 too: the CSV parser would stop at its
        // first quote with "Invalid Opening Quote", which says nothing of the file being JSON
        const first = /^\uFEFF?\s*(\S)/.exec(b.subarray(0, 64).toString())?.[1];
        if (first === "{" || first === "[")
          return done(
            new Error(
              `${path}: it is JSON (JSON lines or an array), not CSV text: export it as CSV with a header line ` +
                "(opentime events, event_id,user_id,type,item_id,ts, are read by train, evaluate and import; train alone also " +
                "reads other columns named with --map user=...,item=...,time=...,type=...)",
            ),
          );
      }
      const whole = wholeCharacters(b);
      const text = b.subarray(0, whole);
      if (!isUtf8(text)) return done(refuse(text, firstInvalidByte(text)));
      for (let i = text.indexOf(0x0a); i >= 0; i = text.indexOf(0x0a, i + 1)) line++;
      held = Buffer.from(b.subarray(whole));
      done(null, text);
    },
    flush(done) {
      // the file ends inside a character
      done(held.length ? refuse(held, 0) : null);
    },
  });
}

/**
 * A CSV file's text (gunzipped when its bytes are gzip, checked to be UTF-8), or what `parser` makes of it. A
 * failure anywhere (a missing file, a directory, a gzip cut short, a line in another encoding) reaches whoever reads
 * the returned stream, as an error naming the file, not as a crash: `pipe` alone would leave it unhandled.
 */
export function openCsv(path: string, parser?: Transform): Readable {
  const raw = createReadStream(path);
  const stages: Transform[] = isGzip(path) ? [createGunzip()] : [];
  for (const s of [raw, ...stages]) s.on("error", (e: NodeJS.ErrnoException) => describeFailure(path, e));
  stages.push(utf8Only(path));
  if (parser) {
    parser.on("error", (e: NodeJS.ErrnoException) => describeFailure(path, e));
    stages.push(parser);
  }
  // pipeline destroys every stage with the first error, so reading the last one rejects with it
  pipeline([raw, ...stages], () => {});
  return stages.at(-1) as Transform;
}

/** A column name as a tool may spell it: `customer_id`, `Customer ID`, `CUSTOMERID` are one name. */
export const looseName = (name: string) => name.toLowerCase().replace(/[\s_-]/g, "");

/**
 * `header` with each name that is one of `wanted` spelled another way (case, spaces, underscores: `invoiceno`,
 * `customer_id`) spelled as `wanted` spells it; a name `header` already holds exactly is left as it is.
 */
export function spelledAs(header: readonly string[], wanted: readonly string[]): string[] {
  const spelled = new Map(wanted.map((c) => [looseName(c), c]));
  return header.map((h) => {
    const w = spelled.get(looseName(h));
    return w === undefined || header.includes(w) ? h : w;
  });
}

/**
 * Refuses a header that names one of the columns a reader uses (`used`) more than once: the CSV parser keeps the last
 * of them, silently (a second `Description`, an export's billing and shipping `CustomerID`).
 */
export function refuseRepeatedColumns(path: string, header: readonly string[], used: readonly string[]): void {
  for (const name of new Set(used)) {
    const at = header.flatMap((h, i) => (h === name ? [i + 1] : []));
    if (at.length > 1)
      throw new Error(
        `${path}: the header names column "${name}" ${at.length} times (columns ${at.join(", ")}), and which one ` +
          "holds it cannot be told: rename or remove the others",
      );
  }
}

/** The field separators a shop's export may use: commas, semicolons (where the decimal mark is a comma), tabs. */
const DELIMITERS = [",", ";", "\t"] as const;

/**
 * The field separator of a CSV whose first line is `header`: the one it holds most often outside quotes (a comma
 * when it holds none). A header names columns, so it holds separators, and no other of these, between its names.
 */
export function delimiterOf(header: string): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (DELIMITERS as readonly string[]).includes(ch)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let best = ",";
  for (const d of DELIMITERS) if ((counts.get(d) ?? 0) > (counts.get(best) ?? 0)) best = d;
  return best;
}

/**
 * The file's field separator, from its first line. A first line `sep=;` (a hint some exports write for Excel, which
 * no other reader takes) is refused, saying to delete it: read as the header, it named the columns `sep=` and ``.
 */
export async function csvDelimiter(path: string): Promise<string> {
  const header = await readHeaderLine(path);
  const hint = /^\uFEFF?\s*"?sep=(.?)"?\s*$/i.exec(header);
  if (hint)
    throw new Error(
      `${path}: its first line, ${JSON.stringify(header.replace(/^\uFEFF/, "").trim())}, tells Excel the field ` +
        "separator and is no header: delete that line, so the file begins with its header (the separator is read " +
        "from the header itself)",
    );
  return delimiterOf(header);
}

/**
 * A CSV's rows as records keyed by its header, as every reader of a shop's file takes them: its separator read from
 * its first line (commas, semicolons or tabs), a byte-order mark (a spreadsheet's UTF-8 CSV) and spaces around the
 * header names no part of them (`names` may rename them further), empty lines skipped, a short row kept; each with
 * the line of the file it ends on (for a message that names it) and whether it had more fields than the header.
 */
export async function* csvLines(
  path: string,
  names: (header: string[]) => string[] = (h) => h,
): AsyncGenerator<{ record: Record<string, string>; line: number; longer: boolean }> {
  const rows = openCsv(path, shopCsvParser(await csvDelimiter(path), names)) as AsyncIterable<ParsedRow>;
  for await (const { record, info, longer } of rows) yield { record, line: info.lines, longer };
}

/**
 * A record as shopCsvParser gives it, with the line of the file it ends on, and whether it had more fields than the
 * header (`longer`: a field holding the separator, unquoted; its fields past that one are in the wrong columns).
 */
export interface ParsedRow {
  record: Record<string, string>;
  info: ParserInfo;
  longer: boolean;
}

/** What csv-parse tells of each record: its line, how many fields it had, and them all when not the header's count. */
interface ParserInfo {
  lines: number;
  index: number;
  /** empty lines skipped so far (the file's lines all the same) */
  empty_lines: number;
  error?: { record?: string[] };
}

/**
 * The CSV parser every reader of a shop's file uses: records keyed by the header (`columns` names it, from its names
 * trimmed), each with its line (ParsedRow); empty lines, and lines of separators or spaces alone (a spreadsheet's
 * rows past its data, `;;;;;;;`), skipped rather than counted as rows lacking a customer; a short row kept; a quote
 * inside a field that does not start with one (`12" PLATE`, inches) read as the character it is. A quoted field may
 * hold line breaks (a description on two lines); a quote left open is refused, naming the line it opened on: one the
 * file never closes, and one that reads lines of the file into one record up to the next quote (refuseSwallowedLines).
 * Each record's line is the file's line it ends on, a CRLF inside a field counted once, as an editor shows it.
 */
export function shopCsvParser(delimiter: string, columns: (header: string[]) => string[]) {
  let names: string[] = [];
  let header = false;
  // the line the last record ended on, and the empty lines skipped up to then: the next record begins on the line
  // after it, past the empty lines skipped since
  let ended = 1;
  let emptyBefore = 0;
  // csv-parse counts a CRLF inside a quoted field as two lines (a record's own CRLF as one): the line breaks it
  // counted twice so far, taken off the line it gives
  let twice = 0;
  const parser = parse({
    columns: (h: string[]) => {
      names = columns(h.map((n) => n.trim()));
      header = true;
      return names;
    },
    delimiter,
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
    bom: true,
    info: true,
    on_record: (row: Omit<ParsedRow, "longer">): ParsedRow | null => {
      const begins = ended + 1 + (row.info.empty_lines - emptyBefore);
      let lines = row.info.lines - twice;
      // csv-parse gives every field, those past the header's too, when their count is not the header's
      const all = row.info.error?.record;
      // longer: a field past the header's that holds something (a row ending in a separator the header lacks, its
      // extra fields empty, is read as its header says)
      const longer = (all ?? []).slice(names.length).some((v) => v.trim() !== "");
      if (lines > begins) {
        // a record over several lines, its fields holding the line breaks
        const fields = all ?? names.map((n) => row.record[n] ?? "");
        const crlf = fields.reduce((n, f) => n + (f.match(/\r\n/g)?.length ?? 0), 0);
        twice += crlf;
        lines -= crlf;
        if (lines > begins) refuseSwallowedLines(fields, names, delimiter, begins, lines, longer);
      }
      ended = lines;
      emptyBefore = row.info.empty_lines;
      if (!Object.values(row.record).some((v) => v.trim())) return null;
      return { ...row, info: { ...row.info, lines }, longer };
    },
  });
  parser.on("error", (e: NodeJS.ErrnoException & { empty_lines?: number }) => {
    if (e.code !== "CSV_QUOTE_NOT_CLOSED") return;
    // csv-parse names the line the file ends on; the quote opened on the line its record begins on
    const opened = header ? ended + 1 + ((e.empty_lines ?? emptyBefore) - emptyBefore) : 1 + (e.empty_lines ?? 0);
    e.message =
      `a quote opened on line ${opened} is never closed: the file ends inside it, every line from there read as one ` +
      `field; ${QUOTE_ADVICE}`;
  });
  return parser;
}

/** What to do about a quote left open (a field's own quote written alone, an inch mark the most likely). */
const QUOTE_ADVICE =
  'a quote inside a quoted field is written twice ("BAG 12""" for BAG 12"), or the field is left unquoted (BAG 12"): ' +
  "fix the file and run again";

/** Line breaks in `s`, as the file's lines are counted (CRLF, LF or CR alone: one each). */
const lineBreaks = (s: string) => s.match(/\r\n|\r|\n/g)?.length ?? 0;

/**
 * Refuses a record read over lines `begins` to `ends` that is lines of the file read into one, not a quoted field
 * holding a line break: a quote that opened a field and did not close it (an inch mark, `"BAG 12""`), whose field ran
 * on over the lines after it up to the next quote in the file. Kept, or dropped as one row, it would take those lines
 * with it unsaid. Told by the record being longer than the header, or a field over several lines whose lines after
 * its first read as whole rows (as many separators as a row has): two of them, or one in a file of four columns or
 * more. A note written over lines with a comma or two in them reads as a row only in a narrow file, where one such
 * line is not enough (`id,note` with `"a, b\nc, d"` is a note, not a row swallowed).
 */
function refuseSwallowedLines(
  fields: readonly string[],
  names: readonly string[],
  delimiter: string,
  begins: number,
  ends: number,
  longer: boolean,
): void {
  const separators = (s: string) => s.split(delimiter).length - 1;
  const row = Math.max(1, names.length - 1);
  // the field's lines after its first that read as whole rows
  const rowLines = (f: string) =>
    f
      .split(/\r\n|\r|\n/)
      .slice(1)
      .filter((line) => separators(line) >= row).length;
  const enough = names.length >= 4 ? 1 : 2;
  let at = fields.findIndex((f) => lineBreaks(f) > 0 && rowLines(f) >= enough);
  if (at < 0 && longer) at = fields.findIndex((f) => lineBreaks(f) > 0);
  if (at < 0) return;
  // the field's quote opened on the line its record begins on, past the line breaks of the fields before it
  const opened = begins + fields.slice(0, at).reduce((n, f) => n + lineBreaks(f), 0);
  const column = names[at]
    ? `column ${names[at]}`
    : `field ${at + 1}${at < names.length ? "" : `, past the header's ${names.length}`}`;
  const e: NodeJS.ErrnoException = new Error(
    `a quote opened on line ${opened} closes on line ${ends}, reading the ${ends - begins + 1} lines from ${begins} ` +
      `to ${ends} as one record (${column}${longer ? ", more fields than the header" : ""}): the field quoted on line ` +
      `${opened} does not close there, most likely for a quote in it meant as a character (an inch mark, BAG 12"); ` +
      QUOTE_ADVICE,
  );
  // csv-parse's own code prefix: describeFailure names the file
  e.code = "CSV_QUOTE_SPANS_LINES";
  throw e;
}

/** A header line is shorter than this; past it, what was read stands for the line (a file of one line, or binary). */
const MAX_HEADER_LINE = 64 * 1024;

/**
 * The first line of a CSV (plain or gzip), ended by LF, CRLF or CR alone (an old Mac export), reading no further than
 * needed and never more than MAX_HEADER_LINE characters.
 */
export async function readHeaderLine(path: string): Promise<string> {
  const stream = openCsv(path);
  let buf = "";
  for await (const chunk of stream) {
    buf += (chunk as Buffer).toString();
    const end = buf.search(/[\r\n]/);
    if (end >= 0 || buf.length >= MAX_HEADER_LINE) {
      stream.destroy();
      return end >= 0 ? buf.slice(0, end) : buf.slice(0, MAX_HEADER_LINE);
    }
  }
  return buf;
}

/** The column names of a CSV (plain or gzip): its first record as the CSV parser reads it (quotes and all), trimmed. */
export async function readCsvHeader(path: string): Promise<string[]> {
  const delimiter = await csvDelimiter(path);
  const parser = openCsv(path, parse({ bom: true, delimiter, relax_column_count: true, to_line: 1 }));
  for await (const rec of parser as AsyncIterable<string[]>) {
    parser.destroy();
    return rec.map((h) => h.trim());
  }
  return [];
}
