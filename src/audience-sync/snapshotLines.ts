import { ByteChunks } from './byteChunks';
import { ENTRY_HEAD, TABLE_WORDS, checkEntry } from './rowIndex';
import type { EntryVisitor } from './rowIndexLayers';
import { LineSplitter, compareFp, isBlankLine, sortFingerprints, type LineSink } from './rowLines';

/*
 * The two hot loops of a delta prepare (snapshotDelta.ts): the pass that fingerprints each of
 * the snapshot's lines, and the merge of those fingerprints with the index. They are classes
 * at module level, not closures made per prepare: V8 optimized each new closure anew (compiled
 * again on its helper threads, interpreted meanwhile), every sync.
 */

/** A line that is new and one record of its own (fingerprinted). */
export const NEW_SINGLE = 1;
/** A line that is new and no record of its own (a blank line). */
export const NEW_OTHER = 2;

/** The base index does not fit this snapshot (another header): not an error, the full path. */
export class DeltaNotApplicable extends Error {}

/** Pass 1's sink: each line's fingerprint, into per-range buckets, and where each line starts. */
export class SnapshotLines implements LineSink {
  /**
   * Per fingerprint range (top byte), records of 5 words (fingerprint, line): appended in
   * sequence, then each range sorted within the CPU's caches (one sort of the whole array
   * missed the cache on nearly every record, and so did the merge reading it in that order).
   */
  readonly buckets = new Array<Uint32Array | undefined>(256);
  readonly bucketFill = new Int32Array(256);
  private readonly perRange: number;
  /** Lines fingerprinted. */
  n = 0;
  /** Per line: NEW_SINGLE, NEW_OTHER or 0 (kept, or the header). */
  fresh: Uint8Array;
  /**
   * Where each line starts in the snapshot, and after the last line where the tail (or the
   * end) does: the new lines are read again by position, not by splitting the file again.
   */
  starts: Uint32Array | Float64Array;
  /** Where the tail starts (-1: none). */
  tailAt = -1;
  headerOk = false;
  readonly splitter: LineSplitter;

  /** `guess`: lines expected; `size`: the snapshot's bytes. */
  constructor(
    private readonly header: Buffer,
    private readonly seed: number,
    guess: number,
    size: number,
  ) {
    this.perRange = 5 * Math.max(64, Math.ceil((guess / 256) * 1.1));
    this.fresh = new Uint8Array(guess + 2);
    this.starts = size < 2 ** 32 ? new Uint32Array(guess + 2) : new Float64Array(guess + 2);
    this.splitter = new LineSplitter(this, seed);
  }

  headerLine(buf: Buffer, start: number, end: number): void {
    this.starts[1] = this.splitter.offset(start);
    this.headerOk = buf.subarray(start, end).equals(this.header);
    if (!this.headerOk) throw new DeltaNotApplicable('the header differs from the indexed one');
  }

  lines(buf: Buffer, pos: number, words: Uint32Array, count: number, first: number): void {
    if (first + count >= this.starts.length) this.growStarts(first + count);
    const { starts, buckets, bucketFill } = this;
    const base = this.splitter.offset(0);
    let singles = 0;
    for (let j = 0, o = 0, line = first; j < count; j++, o += 5, line++) {
      const nl = words[o]!;
      starts[line] = base + pos;
      if (isBlankLine(buf, pos, nl)) this.markNew(line, NEW_OTHER);
      else {
        const f0 = words[o + 1]!;
        const r = f0 >>> 24;
        let b = buckets[r];
        const at = bucketFill[r]!;
        if (!b || at + 5 > b.length) b = this.growBucket(r);
        b[at] = f0;
        b[at + 1] = words[o + 2]!;
        b[at + 2] = words[o + 3]!;
        b[at + 3] = words[o + 4]!;
        b[at + 4] = line;
        bucketFill[r] = at + 5;
        singles++;
      }
      pos = nl + 1;
    }
    this.n += singles;
  }

  tail(_buf: Buffer, start: number): void {
    // Read again after the new lines, as it is.
    if (this.tailAt < 0) this.tailAt = this.splitter.offset(start);
  }

  /** After the last push: `size` bytes were pushed. Returns the lines before the tail. */
  end(size: number): number {
    this.splitter.end();
    const lines = this.splitter.lines;
    this.starts[lines + 1] = this.tailAt >= 0 ? this.tailAt : size;
    return lines;
  }

  markNew(line: number, kind: number): void {
    if (line >= this.fresh.length) {
      const f = new Uint8Array(Math.max(line + 1, this.fresh.length * 2));
      f.set(this.fresh);
      this.fresh = f;
    }
    this.fresh[line] = kind;
  }

  /** Room in `starts` for line `upTo` and the one after it. */
  private growStarts(upTo = 0): void {
    const s = this.starts;
    const size = Math.max(2 * s.length, upTo + 2);
    const g = s instanceof Uint32Array ? new Uint32Array(size) : new Float64Array(size);
    g.set(s);
    this.starts = g;
  }

  private growBucket(r: number): Uint32Array {
    const b = this.buckets[r];
    if (!b) {
      const spare = takeBucket(this.perRange);
      if (spare) return (this.buckets[r] = spare);
    }
    const grown = new Uint32Array(b ? b.length * 2 : this.perRange);
    if (b) grown.set(b);
    this.buckets[r] = grown;
    return grown;
  }
}

/*
 * Buckets kept from one prepare for the next, up to POOL_WORDS words. A buffer a prepare holds
 * to its end counts towards V8's trigger of a full collection (external memory allocated since
 * the last one is added to the old generation's size), and a 1M-row snapshot's buckets (23 MiB)
 * were most of a sync's slack: about one full collection more per sync. A bigger index's
 * buckets are not all kept (the cap), and a smaller one's prepare may use bigger buckets.
 */
const POOL_WORDS = 8 << 20;
const pool: Uint32Array[] = [];
let pooled = 0;

function takeBucket(words: number): Uint32Array | undefined {
  while (pool.length > 0) {
    const b = pool.pop()!;
    pooled -= b.length;
    if (b.length >= words) return b;
  }
  return undefined;
}

function keepBucket(b: Uint32Array): void {
  if (pooled + b.length > POOL_WORDS) return;
  pool.push(b);
  pooled += b.length;
}

/**
 * The snapshot's fingerprints (sorted range by range as the merge reaches them, into one reused
 * buffer: no sorted copy of the whole snapshot's) against the index's entries in order: a line
 * in both is kept, a line only in the snapshot is new (marked in `lines.fresh`), an index entry
 * not met again is gone. Equal lines pair one to one.
 */
export class FingerprintMerge implements EntryVisitor {
  private readonly sorted: Uint32Array;
  private p = 0;
  private inRange = 0;
  private nextRange = 0;
  newSingles = 0;
  /** Entries visited. */
  entries = 0;
  /** The gone entries' lines held inline (a layer's, a format 1 base's), each with its LF. */
  readonly goneLines = new ByteChunks();
  /** The fingerprints of the gone entries, in order (a layer's gone list). */
  goneFps = new Uint32Array(1 << 10);
  goneCount = 0;
  /** Gone entries of a table base, whose bytes are read after the walk: offset, length and number among the gone ones (for the fingerprint) each. */
  goneSpans = new Uint32Array(3 << 8);
  spanCount = 0;
  private readonly scratch = new Uint32Array(4);

  constructor(
    private readonly lines: SnapshotLines,
    private readonly seed: number,
  ) {
    let most = 0;
    for (let r = 0; r < 256; r++) most = Math.max(most, lines.bucketFill[r]!);
    this.sorted = new Uint32Array(most);
  }

  /** Whether a fingerprint is left: sorted[5p..] (the next range's, sorted, once this one's are used). */
  private more(): boolean {
    if (this.p < this.inRange) return true;
    const { buckets, bucketFill } = this.lines;
    const sorted = this.sorted;
    while (this.nextRange < 256) {
      const r = this.nextRange++;
      const b = buckets[r];
      const m = bucketFill[r]! / 5;
      buckets[r] = undefined;
      if (!b) continue;
      if (m === 0) {
        keepBucket(b);
        continue;
      }
      const order = sortFingerprints(b, 5, m, 8);
      for (let j = 0, k = 0; j < m; j++) {
        const x = 5 * order[j]!;
        sorted[k++] = b[x]!;
        sorted[k++] = b[x + 1]!;
        sorted[k++] = b[x + 2]!;
        sorted[k++] = b[x + 3]!;
        sorted[k++] = b[x + 4]!;
      }
      keepBucket(b);
      this.p = 0;
      this.inRange = m;
      return true;
    }
    return false;
  }

  entry(words: Uint32Array, w: number, inline: Buffer | null, at: number): void {
    let c = -1;
    while ((this.p < this.inRange || this.more()) && (c = compareFp(this.sorted, 5 * this.p, words, w)) < 0) this.fresh(this.sorted[5 * this.p++ + 4]!);
    if (this.p < this.inRange && c === 0) this.p++;
    else this.gone(words, w, inline, at);
    this.entries++;
  }

  /** entry() over a run of a table base's entries, the comparison inline. */
  run(words: Uint32Array, from: number, n: number): void {
    const sorted = this.sorted;
    let q = this.p;
    let end = this.inRange;
    for (let w = from; w < n; w += TABLE_WORDS) {
      let c = 1;
      for (;;) {
        if (q >= end) {
          this.p = q;
          if (!this.more()) break;
          q = this.p;
          end = this.inRange;
        }
        const i = 5 * q;
        let x = sorted[i]!;
        let y = words[w]!;
        if (x === y) {
          // A kept line (nearly every entry): the other words too.
          x = sorted[i + 1]!;
          y = words[w + 1]!;
          if (x === y) {
            x = sorted[i + 2]!;
            y = words[w + 2]!;
            if (x === y) {
              x = sorted[i + 3]!;
              y = words[w + 3]!;
            }
          }
        }
        c = x === y ? 0 : x < y ? -1 : 1;
        if (c >= 0) break;
        this.fresh(sorted[i + 4]!);
        q++;
      }
      if (c === 0) q++;
      else this.gone(words, w, null, 4 * w);
    }
    this.p = q;
    this.entries += (n - from) / TABLE_WORDS;
  }

  /** The fingerprints no entry matched (after the walk). */
  finish(): void {
    while (this.more()) this.fresh(this.sorted[5 * this.p++ + 4]!);
  }

  private fresh(line: number): void {
    this.lines.markNew(line, NEW_SINGLE);
    this.newSingles++;
  }

  /** An index entry no snapshot line matched. */
  private gone(words: Uint32Array, w: number, inline: Buffer | null, at: number): void {
    if (inline) {
      checkEntry(inline, words, w, at, this.seed, this.scratch);
      this.goneLines.append(inline, at + ENTRY_HEAD, at + ENTRY_HEAD + words[w + 4]!, 10);
    } else {
      const k = 3 * this.spanCount++;
      if (k + 3 > this.goneSpans.length) {
        const g = new Uint32Array(this.goneSpans.length * 2);
        g.set(this.goneSpans);
        this.goneSpans = g;
      }
      this.goneSpans[k] = words[w + 4]!;
      this.goneSpans[k + 1] = words[w + 5]!;
      this.goneSpans[k + 2] = this.goneCount;
    }
    const g = 4 * this.goneCount++;
    if (g + 4 > this.goneFps.length) {
      const f = new Uint32Array(this.goneFps.length * 2);
      f.set(this.goneFps);
      this.goneFps = f;
    }
    this.goneFps[g] = words[w]!;
    this.goneFps[g + 1] = words[w + 1]!;
    this.goneFps[g + 2] = words[w + 2]!;
    this.goneFps[g + 3] = words[w + 3]!;
  }
}
