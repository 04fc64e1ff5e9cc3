/*
 * Many short byte runs (lines) kept in order in a few large buffers. A Buffer each costs a
 * V8 object and a slice of a pool slab per line (ten thousand of them at 1% churn), which
 * outlive a scavenge or two and are then promoted: old-space growth that starts a full
 * collection. Here a line costs a copy.
 */

const CHUNK = 256 << 10;
/** `cur` before the first append: a Buffer from the start, so that every instance has one shape. */
const NONE = Buffer.alloc(0);

export class ByteChunks {
  private done: Buffer[] = [];
  private cur: Buffer = NONE;
  private fill = 0;
  /** Where the bytes not yet taken start in cur. */
  private from = 0;
  /** Bytes appended and not yet taken. */
  pending = 0;

  /** Appends src[start, end), and the byte `last` after it when given (a line's LF). */
  append(src: Buffer, start: number, end: number, last = -1): void {
    // Offsets computed from a Float64Array arrive as doubles: kept as such, the counters
    // below would change this class's shape, and the code optimized for it was thrown away.
    if (end > 0x7fffffff) throw new RangeError('ByteChunks takes bytes from the first 2 GiB of a buffer');
    start |= 0;
    end |= 0;
    const n = end - start + (last >= 0 ? 1 : 0);
    if (this.fill + n > this.cur.length) {
      if (this.fill > this.from) this.done.push(this.cur.subarray(this.from, this.fill));
      this.cur = Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
      this.fill = 0;
      this.from = 0;
    }
    src.copy(this.cur, this.fill, start, end);
    this.fill += end - start;
    if (last >= 0) this.cur[this.fill++] = last;
    this.pending += n;
  }

  /** The bytes appended since the last take, in order (the caller keeps them: they are not written again). */
  take(): Buffer[] {
    const out = this.done;
    this.done = [];
    if (this.fill > this.from) {
      out.push(this.cur.subarray(this.from, this.fill));
      this.from = this.fill;
    }
    this.pending = 0;
    return out;
  }
}
