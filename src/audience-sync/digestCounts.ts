import { be, checkRecords, cmp } from './digestRecords';

/*
 * How many rows gave each digest, for the ids the row index path removes (snapshotDelta.ts):
 * an id whose row is gone leaves the audience only when no other row still gives it. Beside
 * each applied-state list of a run with a row index lies its "multi" list: the digests that
 * occur more than once in the snapshot's spill (every digest of the list not in it occurs
 * once), as records of the digest and a u32 little-endian count, sorted by digest.
 */

/** Bytes of one multi-list record for digests of width w. */
export const multiWidth = (w: number): number => w + 4;

export interface CountedRecords {
  /** Sorted unique records. */
  unique: Buffer;
  /** Per unique record, how often it occurred; null when each occurred once. */
  counts: Uint32Array | null;
}


/** Byte order of the q-word records at word offsets ai of a and bi of b. */
export function cmpAt(a: Uint32Array, ai: number, b: Uint32Array, bi: number, q: number): number {
  for (let k = 0; k < q; k++) {
    const u = a[ai + k]!;
    const v = b[bi + k]!;
    if (u !== v) return be(u) < be(v) ? -1 : 1;
  }
  return 0;
}

export function wordsOf(buf: Buffer): Uint32Array {
  const b = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  return new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
}

/*
 * Scratch memory reused across calls (each call copies its results out): a fresh set per
 * shard list made the garbage collector most of a delta diff's time.
 */
let scratchSize = 0;
let keyScratch = new Uint32Array(0);
let orderScratch = new Int32Array(0);
let countScratch = new Int32Array(0);
let timeScratch = new Uint32Array(0);

function scratch(n: number): { keys: Uint32Array; order: Int32Array; counts: Int32Array; times: Uint32Array } {
  if (scratchSize < n) {
    scratchSize = Math.max(n, scratchSize * 2);
    keyScratch = new Uint32Array(scratchSize);
    orderScratch = new Int32Array(scratchSize);
    countScratch = new Int32Array(scratchSize + 1);
    timeScratch = new Uint32Array(scratchSize);
  }
  countScratch.fill(0, 0, n + 1);
  return { keys: keyScratch, order: orderScratch, counts: countScratch, times: timeScratch };
}

/**
 * Sorts records of width w, drops duplicates and counts them: the bucket sort of
 * digestRecords.sortUniqueRecords (uniform digests: about one a bucket, linear), keeping
 * how many times each record occurred.
 */
export function sortCountRecords(input: Buffer, w: number): CountedRecords {
  const n = checkRecords(input, w);
  if (n === 0) return { unique: input, counts: null };
  const q = w >>> 2;
  const words = wordsOf(input);
  const { keys, order, counts, times } = scratch(n);
  let min = 0xffffffff;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const k = be(words[i * q]!);
    keys[i] = k;
    if (k < min) min = k;
    if (k > max) max = k;
  }
  const scale = n / (max - min + 1);
  for (let i = 0; i < n; i++) counts[Math.floor((keys[i]! - min) * scale) + 1]!++;
  for (let b = 0; b < n; b++) counts[b + 1]! += counts[b]!;
  for (let i = 0; i < n; i++) order[counts[Math.floor((keys[i]! - min) * scale)]!++] = i;
  const before = (x: number, y: number): number => (keys[x] !== keys[y] ? (keys[x]! < keys[y]! ? -1 : 1) : cmp(words, x, words, y, q));
  const out = Buffer.allocUnsafeSlow(input.length);
  const ow = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let dup = false;
  let written = 0;
  let s = 0;
  for (let b = 0; b < n; b++) {
    const e = counts[b]!;
    if (e - s > 48) order.set(Array.from(order.subarray(s, e)).sort(before), s);
    else
      for (let i = s + 1; i < e; i++) {
        const x = order[i]!;
        let j = i - 1;
        for (; j >= s && before(order[j]!, x) > 0; j--) order[j + 1] = order[j]!;
        order[j + 1] = x;
      }
    for (let i = s; i < e; i++) {
      const x = order[i]!;
      if (written > 0 && cmp(words, x, ow, written - 1, q) === 0) {
        times[written - 1]!++;
        dup = true;
        continue;
      }
      for (let k = 0; k < q; k++) ow[written * q + k] = words[x * q + k]!;
      times[written++] = 1;
    }
    s = e;
  }
  return { unique: out.subarray(0, written * w), counts: dup ? times.slice(0, written) : null };
}

/** The multi list of counted records: those that occurred more than once, with their count. */
export function multiOf(c: CountedRecords, w: number): Buffer {
  if (!c.counts) return EMPTY;
  const mw = multiWidth(w);
  let k = 0;
  for (let i = 0; i < c.counts.length; i++) if (c.counts[i]! > 1) k++;
  const out = Buffer.allocUnsafeSlow(k * mw);
  let o = 0;
  for (let i = 0; i < c.counts.length; i++)
    if (c.counts[i]! > 1) {
      c.unique.copy(out, o, i * w, i * w + w);
      out.writeUInt32LE(c.counts[i]!, o + w);
      o += mw;
    }
  return out;
}

const EMPTY = Buffer.alloc(0);

/** Throws unless `buf` is a sorted multi list of digests of width w, each count ≥ 2. */
export function checkMulti(buf: Buffer, w: number): number {
  const mw = multiWidth(w);
  if (buf.length % mw !== 0) throw new RangeError(`a multi list of ${buf.length} bytes is not whole ${mw}-byte records`);
  const n = buf.length / mw;
  for (let i = 0; i < n; i++) {
    if (buf.readUInt32LE(i * mw + w) < 2) throw new RangeError('a multi list holds a count below 2');
    if (i > 0 && Buffer.compare(buf.subarray((i - 1) * mw, (i - 1) * mw + w), buf.subarray(i * mw, i * mw + w)) >= 0) throw new RangeError('a multi list is not sorted');
  }
  return n;
}
