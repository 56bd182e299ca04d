/**
 * A progress bar on stderr for long commands; when stderr is not a terminal (a log file, CI), a line each time the
 * whole percent moves, so an import of 800 batches writes about a hundred lines, not one per batch.
 */

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  /** the whole percent of the last line written when not a terminal */
  private lastPercent = -1;

  constructor(
    private readonly total: number,
    private readonly label = "",
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  step(message: string, amount = 1): void {
    this.to(this.done + amount, message);
  }

  /** Moves to an absolute count. */
  to(done: number, message: string): void {
    this.done = Math.min(this.total, done);
    const share = this.done / this.total;
    const secs = ((performance.now() - this.started) / 1000).toFixed(0);
    if (this.out.isTTY) {
      const width = 28;
      const filled = Math.round(share * width);
      const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
      this.out.write(`\r\x1b[2K${this.label} ${bar} ${(share * 100).toFixed(0).padStart(3)}% ${secs}s ${message}`);
      if (this.done === this.total) this.out.write("\n");
    } else {
      const percent = Math.floor(share * 100);
      if (percent === this.lastPercent) return;
      this.lastPercent = percent;
      this.out.write(`${this.label} [${String(percent).padStart(3)}%] ${secs}s ${message}\n`);
    }
  }
}
