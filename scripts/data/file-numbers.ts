/**
 * A shop file's numbers (quantities, prices, weights) read with one decimal mark for the whole file, as the file
 * shows it. A comma-separated file's mark is the point: a comma there separates fields, and in a quoted number groups
 * thousands (`"1,200.00"`, as a US spreadsheet quotes it) or makes no number (`"2,55"`). In a file separated by
 * semicolons or tabs, as spreadsheets write one where the comma is the mark, a cell shows its mark when it can be read
 * one way only (`2,55`, `0,125`, `1.234,56` and `1.234.567` say comma; `2.55`, `1,234.56` say point), and a cell of
 * 1 to 999 then a point or comma and three digits (`1.200`, `1,200`) is read by the mark the rest of the file shows:
 * 1200 beside decimal commas, 1.2 beside decimal points. Where the file shows no mark, or both, such a cell is
 * refused, naming its line, rather than read one way or the other: money misread by a factor of 1000 is not a
 * damaged row, it is a wrong model. Thousands grouped by spaces or apostrophes (`1 234,50`, `1'234.50`) are read in
 * either kind of file, a fraction after them showing the mark.
 */

type Mark = "," | ".";

/**
 * `s` as a number when it is written as one in decimal (an exponent allowed: `1e-05`, as pandas writes a small one),
 * else NaN: Number() also reads `Infinity`, `0x10` and `0b1`, which no export means as a quantity or a price, and an
 * infinite value ends training at its engagement models. A decimal too large for a double (`1e400`) is NaN too.
 */
function decimalNumber(s: string): number {
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(s)) return Number.NaN;
  const n = Number(s);
  return Number.isFinite(n) ? n : Number.NaN;
}

/**
 * Thousands grouped by a space (a no-break, thin or narrow one, as French and Nordic spreadsheets write them:
 * `1 234,50`) or an apostrophe (Swiss: `1'234.50`), the same one between every group, then a fraction after either
 * mark: sign, digits with their groups, the separator, the mark and the fraction.
 */
const SPACED = /^([+-]?)(\d{1,3}([ \u00a0\u2009\u202f'\u2019])\d{3}(?:\3\d{3})*)(?:([.,])(\d+))?$/;

/** A cell whose value depends on the file's mark, and where its value goes once the mark is known. */
interface Pending {
  line: number;
  column: string;
  cell: string;
  /** its value where its separator is the decimal mark (`1.200`: 1.2), and where it groups thousands (1200) */
  decimal: number;
  grouped: number;
  /** its separator */
  mark: Mark;
  set?: (value: number) => void;
}

/** What a cell reads as: a number that needs no mark, or one that waits for the file's (`pending`). */
export interface Reading {
  value: number;
  pending?: Pending;
}

/** Reads a file's numeric cells; `settle` once every row is read, before the values are used. */
export class FileNumbers {
  private readonly comma: boolean;
  private readonly seen: Partial<Record<Mark, { line: number; cell: string }>> = {};
  private readonly pending: Pending[] = [];

  constructor(
    private readonly path: string,
    delimiter: string,
  ) {
    // only where the comma does not separate fields can it be a decimal mark
    this.comma = delimiter !== ",";
  }

  /**
   * The value of `raw` (NaN: empty, or not a plain number, `£2.55`); one that waits for the file's mark is
   * `pending`, its value meanwhile the decimal one (either is above 0, or neither: the row's fate does not wait).
   */
  read(raw: string | undefined, line: number, column: string): Reading {
    const s = (raw ?? "").trim();
    if (!s) return { value: Number.NaN };
    const spaced = SPACED.exec(s);
    if (spaced) {
      const [, sign, groups = "", separator = "", mark, fraction] = spaced;
      const value = Number(`${sign}${groups.replaceAll(separator, "")}${mark ? `.${fraction}` : ""}`);
      if (!mark) return { value };
      // where the comma separates fields it is no decimal mark (a quoted "1 234,50" is no number, as "2,55" is)
      if (!this.comma) return { value: mark === "." ? value : Number.NaN };
      // a fraction after groups of spaces shows the file's mark
      this.seen[mark as Mark] ??= { line, cell: s };
      return { value };
    }
    if (!this.comma) {
      // the point is the mark: a comma groups thousands (a quoted "1,200.00") or makes no number ("2,55")
      const grouped = /^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s);
      return { value: grouped ? Number(s.replaceAll(",", "")) : decimalNumber(s) };
    }
    if (!/[.,]/.test(s)) return { value: decimalNumber(s) };
    const k = s.startsWith("-") ? -1 : 1;
    const d = s.replace(/^[+-]/, "");
    const saw = (mark: Mark, value: number): Reading => {
      this.seen[mark] ??= { line, cell: s };
      return { value: k * value };
    };
    // 1 to 999, then one group of three: a decimal or a thousand, as the file's mark says
    const one = /^([1-9]\d{0,2})([.,])(\d{3})$/.exec(d);
    if (one) {
      const decimal = k * Number(`${one[1]}.${one[3]}`);
      const pending = {
        line,
        column,
        cell: s,
        decimal,
        grouped: k * Number(`${one[1]}${one[3]}`),
        mark: one[2] as Mark,
      };
      return { value: decimal, pending };
    }
    // a decimal comma, or points grouping thousands (a decimal comma after them, or none): the comma is the mark
    if (/^\d+,\d+$/.test(d) || /^\d{1,3}(\.\d{3})+(,\d+)?$/.test(d))
      return saw(",", Number(d.replaceAll(".", "").replace(",", ".")));
    if (/^\d+\.\d+$/.test(d) || /^\d{1,3}(,\d{3})+(\.\d+)?$/.test(d)) return saw(".", Number(d.replaceAll(",", "")));
    return { value: Number.NaN };
  }

  /** A kept row's `reading`: once the file's mark is known (`settle`), a pending value goes through `set`. */
  keep(reading: Reading, set: (value: number) => void): void {
    if (!reading.pending) return;
    reading.pending.set = set;
    this.pending.push(reading.pending);
  }

  /**
   * Gives each kept pending cell its value by the file's mark; refuses the file, naming the first such cell's line,
   * when the file shows no mark, or both.
   */
  settle(): void {
    const first = this.pending[0];
    if (!first) return;
    const { ",": comma, ".": point } = this.seen;
    const mark: Mark | null = comma && !point ? "," : point && !comma ? "." : null;
    if (!mark) {
      const why =
        comma && point
          ? `the file writes both decimal commas (line ${comma.line}: ${comma.cell}) and decimal points (line ${point.line}: ${point.cell})`
          : "no other number in the file shows which is its decimal mark";
      throw new Error(
        `${this.path}: line ${first.line}'s ${first.column} ${first.cell} could be ${first.decimal} or ${first.grouped} ` +
          `(a ${first.mark === "." ? "point" : "comma"} grouping thousands), and ${why}: write numbers with no ` +
          "thousands separator (1200), and one decimal mark for the whole file",
      );
    }
    for (const p of this.pending) p.set?.(p.mark === mark ? p.decimal : p.grouped);
  }
}
