/** A one-line progress display on stderr, only when stderr is a terminal. */
export class Progress {
  private last = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly intervalMs = 250) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  update(text: () => string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.stream.write(`\r\x1b[2K${text()}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}
