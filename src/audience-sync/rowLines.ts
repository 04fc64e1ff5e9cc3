import { LINES_PER_SCAN, lineFingerprints } from '../snapshot/lineFingerprints';
import { rowFingerprint } from '../snapshot/rowFingerprint';

/*
 * The physical lines of a CSV snapshot as the row index sees them (rowIndex.ts): split on
 * LF only (the tokenizer's line end; a CR before it stays in the line's bytes, so a file
 * turned from LF to CRLF is all new lines, never a wrong match), line 1 the header.
 *
 * A line stands for exactly one record of its own when it holds no quote character (a
 * quote may open a field that runs over several lines) and is not blank (a blank line is
 * no record). From the first line that holds a quote to the end of the file, and a last
 * line without LF, everything is the "tail": read as it is, never matched line by line.
 */

export const LF = 10;
const QUOTE = 34;
const CR = 13;

/** Whether the line buf[pos, nl) (nl its LF) is blank: nothing, or a CR alone, before its LF; a blank line is no record. */
export function isBlankLine(buf: Buffer, pos: number, nl: number): boolean {
  return nl === pos || (nl === pos + 1 && buf[pos] === CR);
}

export interface LineSink {
  /** Line 1 (the header) is buf[start, end), and its LF if it has one. */
  headerLine(buf: Buffer, start: number, end: number): void;
  /**
   * The lines after the header: `count` of them, as the kernel found them. The first starts at
   * buf[pos] and is line `first`; line j's LF is at buf[words[5j]] and words[5j+1..5j+4] are
   * its fingerprint. A line is one record of its own unless it is blank (isBlankLine). One
   * call per batch: a call per line from here, to either sink, cost more than what the sink
   * did with the line.
   */
  lines(buf: Buffer, pos: number, words: Uint32Array, count: number, first: number): void;
  /** The tail begins: bytes from here to the end of the file are passed to `tail`. */
  tail(buf: Buffer, start: number, end: number): void;
}

/** Splits a byte stream into lines (and the tail) for a LineSink, fingerprinting each line that is a record of its own. */
export class LineSplitter {
  private carry: Buffer | null = null;
  private lineNo = 0;
  private inTail = false;
  /** Bytes pushed before the current chunk. */
  private pushed = 0;
  /** Where in the stream byte 0 of the buffer the sink is handed lies. */
  private base = 0;

  constructor(
    private readonly sink: LineSink,
    private readonly seed: number,
  ) {}

  get lines(): number {
    return this.lineNo;
  }

  /** The stream offset of buf[start] for the buf the sink is being handed (valid during a sink call). */
  offset(start: number): number {
    return this.base + start;
  }

  push(chunk: Buffer): void {
    const at = this.pushed;
    this.pushed += chunk.length;
    this.base = at;
    if (this.inTail) {
      if (chunk.length) this.sink.tail(chunk, 0, chunk.length);
      return;
    }
    let buf = chunk;
    if (this.carry) {
      const nl = chunk.indexOf(LF);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      const joined = Buffer.concat([this.carry, chunk.subarray(0, nl + 1)]);
      this.base = at - this.carry.length;
      this.carry = null;
      this.lines1(joined);
      this.base = at;
      if (this.inTail) {
        if (nl + 1 < chunk.length) this.sink.tail(chunk, nl + 1, chunk.length);
        return;
      }
      buf = chunk.subarray(nl + 1);
      this.base = at + nl + 1;
    }
    const rest = this.lines1(buf);
    if (this.inTail) return;
    if (rest < buf.length) this.carry = Buffer.from(buf.subarray(rest));
  }

  /** The end of the input: a last line without LF is the tail. */
  end(): void {
    if (this.carry && this.carry.length) {
      this.base = this.pushed - this.carry.length;
      if (this.lineNo === 0) {
        // A header without LF: a file of one line; no data lines.
        this.lineNo = 1;
        this.sink.headerLine(this.carry, 0, this.carry.length);
      } else if (!this.inTail) {
        this.inTail = true;
        this.sink.tail(this.carry, 0, this.carry.length);
      }
    }
    this.carry = null;
  }

  /** Whole lines of buf; returns where the unfinished last line starts. */
  private lines1(buf: Buffer): number {
    const n = buf.length;
    let quote = buf.indexOf(QUOTE);
    if (quote < 0) quote = n;
    let pos = 0;
    if (this.lineNo === 0) {
      const nl = buf.indexOf(LF);
      if (nl < 0) return 0;
      // A quote in the header: the header is still one line as far as the index cares.
      if (quote < nl) {
        const q = buf.indexOf(QUOTE, nl);
        quote = q < 0 ? n : q;
      }
      this.lineNo = 1;
      this.sink.headerLine(buf, 0, nl);
      pos = nl + 1;
    }
    if (pos < quote) {
      // The lines before the first quote, found and fingerprinted by the kernel.
      const k = lineFingerprints();
      k.load(buf, pos, n);
      for (;;) {
        const count = k.scan(quote, this.seed);
        if (count > 0) {
          this.sink.lines(buf, pos, k.words, count, this.lineNo + 1);
          this.lineNo += count;
          pos = k.words[5 * (count - 1)]! + 1;
        }
        if (count < LINES_PER_SCAN) break;
      }
    }
    // What the kernel left: a line without its LF yet, or one holding a quote (the tail).
    if (pos >= n || buf.indexOf(LF, pos) < 0) return pos;
    this.inTail = true;
    this.sink.tail(buf, pos, n);
    return n;
  }
}

/** Fingerprint words of a line (rowFingerprint), at out[o..o+3]. */
export function lineFingerprint(buf: Buffer, start: number, end: number, seed: number, out: Uint32Array, o: number): void {
  rowFingerprint(buf, start, end, seed, out, o);
}

/** Order of 4-word fingerprints a (at ai) and b (at bi): -1, 0, 1 (unsigned, word 0 first). */
export function compareFp(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const SMALL_COUNTS = (1 << 16) + 1;
let countScratch = new Int32Array(0);

/**
 * The order of n fingerprints stored `stride` words apart in `words` (fingerprint first):
 * counted into buckets by their top bits (fingerprints are uniform: about one a bucket),
 * then each bucket by insertion. Linear in n for uniform input.
 */
export function sortFingerprints(words: Uint32Array, stride: number, n: number, skip = 0): Int32Array {
  const order = new Int32Array(n);
  if (n === 0) return order;
  let bits = 4;
  while (bits < 22 && 1 << bits < n) bits++;
  const shift = 32 - bits;
  // `skip` top bits are the same for all (one range of an index): bucket on the bits after them.
  const bucket = (x: number): number => ((x << skip) >>> shift) >>> 0;
  // Small count arrays are reused (this function runs to its end before another call): a
  // churn prepare sorts 256 ranges; a large one is not kept.
  const size = (1 << bits) + 1;
  if (size <= SMALL_COUNTS && countScratch.length < size) countScratch = new Int32Array(SMALL_COUNTS);
  const counts = size <= SMALL_COUNTS ? countScratch : new Int32Array(size);
  counts.fill(0, 0, size);
  for (let i = 0; i < n; i++) counts[bucket(words[i * stride]!) + 1]!++;
  for (let b = 0; b < 1 << bits; b++) counts[b + 1]! += counts[b]!;
  for (let i = 0; i < n; i++) order[counts[bucket(words[i * stride]!)]!++] = i;
  // counts[b] is now the end of bucket b.
  let s = 0;
  for (let b = 0; b < 1 << bits; b++) {
    const e = counts[b]!;
    for (let i = s + 1; i < e; i++) {
      const x = order[i]!;
      let j = i - 1;
      for (; j >= s && compareFp(words, order[j]! * stride, words, x * stride) > 0; j--) order[j + 1] = order[j]!;
      order[j + 1] = x;
    }
    s = e;
  }
  return order;
}
