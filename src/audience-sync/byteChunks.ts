/*
 * Many short byte runs (lines) kept in order in a few large buffers. A Buffer each costs a
 * V8 object and a slice of a pool slab per line (ten thousand of them at 1% churn), which
 * outlive a scavenge or two and are then promoted: old-space growth that starts a full
 * collection. Here a line costs a copy.
 */

const CHUNK = 256 << 10;

export class ByteChunks {
  private readonly done: Buffer[] = [];
  private cur: Buffer | null = null;
  private fill = 0;
  /** Bytes appended so far. */
  bytes = 0;

  /** Appends src[start, end), and `last` after it when given (a line's LF). */
  append(src: Buffer, start: number, end: number, last = -1): void {
    const n = end - start + (last >= 0 ? 1 : 0);
    if (!this.cur || this.fill + n > this.cur.length) {
      if (this.cur) this.done.push(this.cur.subarray(0, this.fill));
      this.cur = Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
      this.fill = 0;
    }
    src.copy(this.cur, this.fill, start, end);
    this.fill += end - start;
    if (last >= 0) this.cur[this.fill++] = last;
    this.bytes += n;
  }

  /** The bytes appended, in order, in chunks (kept by the caller: nothing is reused). */
  chunks(): Buffer[] {
    return this.cur && this.fill > 0 ? [...this.done, this.cur.subarray(0, this.fill)] : [...this.done];
  }
}
