import { be, checkRecords, cmp, moveRecord, orderRecords } from './digestRecords';

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

// How often each unique record occurred, reused across calls (each call copies its result out).
let timeScratch = new Uint32Array(0);

/** Sorts records of width w (digestRecords.orderRecords), drops duplicates and counts them. */
export function sortCountRecords(input: Buffer, w: number): CountedRecords {
  const n = checkRecords(input, w);
  if (n === 0) return { unique: input, counts: null };
  const q = w >>> 2;
  const words = wordsOf(input);
  const { order, keys } = orderRecords(words, n, q);
  if (timeScratch.length < n) timeScratch = new Uint32Array(Math.max(n, timeScratch.length * 2));
  const times = timeScratch;
  const out = Buffer.allocUnsafeSlow(input.length);
  const ow = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let dup = false;
  let written = 0;
  for (let i = 0; i < n; i++) {
    const x = order[i]!;
    // Duplicates end up next to each other, and only a record with the last one's key can be one.
    if (i > 0 && keys[i] === keys[i - 1] && cmp(words, x, ow, written - 1, q) === 0) {
      times[written - 1]!++;
      dup = true;
      continue;
    }
    moveRecord(ow, written * q, words, x * q, q);
    times[written++] = 1;
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
