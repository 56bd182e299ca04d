/** A progress bar on stderr for long commands (a line per step when stderr is not a terminal). */

export class Progress {
  private done = 0;
  private readonly started = performance.now();

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
      this.out.write(`${this.label} [${(share * 100).toFixed(0).padStart(3)}%] ${secs}s ${message}\n`);
    }
  }
}
