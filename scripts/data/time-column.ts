/**
 * A file's time column as its readers keep it until every row is seen (the day/month order of its dates is the
 * file's: interaction-log.ts parseTimes, which `parse` is handed): each distinct text once, with the line it was first
 * on, and each row's index into them. A shop's rows share their order's time (the UCI file's 396,337 purchases kept
 * hold 17,166 times), so a million rows keep thousands of strings, not a million, and each text is parsed once. The
 * dates' order comes out as from every row: it is read from the first date showing each order, and the distinct texts
 * keep their first sight's order. The first row whose time cannot be read is named by its text and line.
 */

/** The first row whose time could not be read: the time as the file writes it, and its line. */
export interface UnreadableTime {
  text: string;
  line: number;
}

export class TimeColumn {
  private readonly index = new Map<string, number>();
  private readonly texts: string[] = [];
  private readonly lines: number[] = [];
  private rows = new Int32Array(1024);
  /** rows pushed */
  length = 0;

  /** One row's time as the file writes it, on `line`. */
  push(text: string, line: number): void {
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.texts.length;
      this.index.set(text, i);
      this.texts.push(text);
      this.lines.push(line);
    }
    if (this.length === this.rows.length) {
      const next = new Int32Array(this.rows.length * 2);
      next.set(this.rows);
      this.rows = next;
    }
    this.rows[this.length++] = i;
  }

  /**
   * Every row's unix seconds, `parseAll` reading the distinct texts (NaN where unreadable, or where `readable` refuses
   * what was read), and the first row that is not: its text and line.
   */
  parse(
    parseAll: (texts: readonly string[]) => Float64Array,
    readable: (t: number) => boolean = Number.isFinite,
  ): { times: Float64Array; unreadable?: UnreadableTime } {
    const parsed = parseAll(this.texts).map((t) => (readable(t) ? t : Number.NaN));
    const times = new Float64Array(this.length);
    for (let r = 0; r < this.length; r++) times[r] = parsed[this.rows[r] as number] as number;
    // the first distinct text unreadable is the first row's: a text is kept where it first came
    const first = parsed.findIndex((t) => Number.isNaN(t));
    return {
      times,
      ...(first >= 0 && { unreadable: { text: this.texts[first] as string, line: this.lines[first] as number } }),
    };
  }
}
