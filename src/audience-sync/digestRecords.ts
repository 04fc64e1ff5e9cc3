/**
 * Digest records: the binary form of the data plane's sorted id sets (spill parts, diff
 * lists, the applied state): each digest as its raw bytes (32 for SHA-256, 16 for MD5),
 * back to back, sorted by byte order, no duplicates. Byte order of the raw digests is the
 * order of their lowercase hex, so a record list turns into the same customer-file lines
 * as the hex list it replaces.
 *
 * Why not the hex lines of digestLists.ts: half the bytes to store, read and copy, and a
 * record is whole 32-bit words, so a comparison is at most 8 word compares instead of up
 * to 64 byte compares (a 1%-churn diff compares mostly equal ids, which is the worst case
 * for a byte loop). Hex lines remain readable (lists written before records; tests).
 */

/** Raw bytes of one digest of a hex width (64 → 32, 32 → 16). */
export function recordWidthOfHex(hexWidth: number): number {
  return hexWidth >>> 1;
}

/**
 * A list's width tells its form: hex lines are odd (64 + "\n" = 65, 33), records even (32, 16).
 * The diff functions take either, so the two forms share one set of set operations.
 */
export function isRecordWidth(w: number): boolean {
  return (w & 1) === 0;
}

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

const HEX_CHARS = Buffer.from('0123456789abcdef', 'latin1');

/** Throws unless `buf` is whole records of width `w`; returns their count. */
export function checkRecords(buf: Uint8Array, w: number): number {
  if (buf.length % w !== 0) throw new RangeError(`a digest record list of ${buf.length} bytes is not whole ${w}-byte records`);
  return buf.length / w;
}

/** 32-bit words over the same memory, or over an aligned copy when `buf` starts off a 4-byte boundary. */
function wordsOf(buf: Buffer): { buf: Buffer; words: Uint32Array } {
  let b = buf;
  if (b.byteOffset % 4 !== 0) {
    b = Buffer.allocUnsafeSlow(buf.length);
    buf.copy(b);
  }
  return { buf: b, words: new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2) };
}

/** A little-endian load of 4 digest bytes, turned into their big-endian (byte order) value. */
export function be(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** Byte order of record i of `a` and record j of `b` (q words each). */
export function cmp(a: Uint32Array, i: number, b: Uint32Array, j: number, q: number): number {
  let x = i * q;
  let y = j * q;
  const end = x + q;
  for (; x < end; x++, y++) {
    const u = a[x]!;
    const v = b[y]!;
    if (u !== v) return be(u) < be(v) ? -1 : 1;
  }
  return 0;
}

function copyRecord(src: Uint32Array, i: number, out: Uint32Array, o: number, q: number): void {
  let x = i * q;
  let y = o * q;
  const end = x + q;
  for (; x < end; ) out[y++] = src[x++]!;
}

/** Byte order of record i of `a` and record j of `b` (both of width w). */
export function compareRecords(a: Buffer, i: number, b: Buffer, j: number, w: number): number {
  return cmp(wordsOf(a).words, i, wordsOf(b).words, j, w >>> 2);
}


/*
 * Scratch memory reused across calls (each function is synchronous and copies its result
 * out before returning). Every fresh buffer counts towards V8's external-memory trigger,
 * which runs a full GC per ~64 MiB allocated: temporaries were half of diff's GC time.
 */
let keyScratch = new Uint32Array(0);
let orderScratch = new Int32Array(0);
let countScratch = new Int32Array(0);
let byteScratch = Buffer.alloc(0);

function sortScratch(n: number): { keys: Uint32Array; order: Int32Array; counts: Int32Array } {
  if (keyScratch.length < n) {
    const size = Math.max(n, keyScratch.length * 2);
    keyScratch = new Uint32Array(size);
    orderScratch = new Int32Array(size);
    countScratch = new Int32Array(size + 1);
  }
  return { keys: keyScratch, order: orderScratch, counts: countScratch };
}

let sortedKeyScratch = new Uint32Array(0);

function bytesFor(n: number): Buffer {
  if (byteScratch.length < n) byteScratch = Buffer.allocUnsafeSlow(Math.max(n, byteScratch.length * 2));
  return byteScratch.subarray(0, n);
}

/** Exactly the first `bytes` of a scratch buffer, in memory of their own. */
function copyOut(src: Buffer, bytes: number): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes);
  src.copy(out, 0, 0, bytes);
  return out;
}

/** Several record lists as one (a sort's input), in scratch memory: valid until the next call of this module. */
export function concatRecords(pieces: readonly Buffer[]): Buffer {
  if (pieces.length === 1) return pieces[0]!;
  let n = 0;
  for (const p of pieces) n += p.length;
  const out = bytesFor(n);
  let at = 0;
  for (const p of pieces) at += p.copy(out, at);
  return out;
}

/** Above this many records in one bucket the bucket is sorted by comparison (digests that are not uniform). */
const SMALL_BUCKET = 48;

/**
 * The byte order of n records of q words. Digests are uniform, so a bucket sort on their
 * first 4 bytes puts about one record in each of n buckets (counted, then placed: linear),
 * and each bucket is put in order by insertion (by comparison when one is large: inputs
 * that are not uniform stay O(n log n)). Returns scratch views, valid until the next call of this
 * module: `order` (record numbers) and `keys` (each one's first 4 bytes as a big-endian
 * number, in that order). The insertion and the callers' duplicate checks compare those
 * keys, placed beside the order, instead of reading records scattered over the input: that
 * made the sort a quarter faster (3M digests in 768 shard lists, alternating in one process:
 * 172-198 ms against 229-280 ms).
 */
export function orderRecords(words: Uint32Array, n: number, q: number): { order: Int32Array; keys: Uint32Array } {
  const { keys: first, order, counts } = sortScratch(n);
  if (sortedKeyScratch.length < n) sortedKeyScratch = new Uint32Array(Math.max(n, sortedKeyScratch.length * 2));
  const keys = sortedKeyScratch;
  let min = 0xffffffff;
  let max = 0;
  for (let i = 0, a = 0; i < n; i++, a += q) {
    const k = be(words[a]!);
    first[i] = k;
    if (k < min) min = k;
    if (k > max) max = k;
  }
  // (k - min) * scale < n: truncated, a bucket number.
  const scale = n / (max - min + 1);
  counts.fill(0, 0, n + 1);
  let largest = 0;
  for (let i = 0; i < n; i++) {
    const c = ++counts[(((first[i]! - min) * scale) | 0) + 1]!;
    if (c > largest) largest = c;
  }
  for (let b = 0; b < n; b++) counts[b + 1]! += counts[b]!;
  // Placing moves each bucket's start to its end: afterwards bucket b is [counts[b-1], counts[b]).
  for (let i = 0; i < n; i++) {
    const k = first[i]!;
    const p = counts[((k - min) * scale) | 0]!++;
    order[p] = i;
    keys[p] = k;
  }
  if (largest <= SMALL_BUCKET) {
    // One insertion pass over all: a smaller key is always in an earlier bucket, so no record
    // moves past its bucket's start, and most records (the only one in theirs) do not move.
    for (let i = 1; i < n; i++) {
      const k = keys[i]!;
      if (keys[i - 1]! < k) continue;
      const x = order[i]!;
      let j = i - 1;
      for (; j >= 0; j--) {
        const kj = keys[j]!;
        if (kj < k || (kj === k && cmp(words, order[j]!, words, x, q) <= 0)) break;
        keys[j + 1] = kj;
        order[j + 1] = order[j]!;
      }
      keys[j + 1] = k;
      order[j + 1] = x;
    }
    return { order, keys };
  }
  let s = 0;
  for (let b = 0; b < n; b++) {
    const e = counts[b]!;
    if (e - s > 1) {
      const sorted = Array.from(order.subarray(s, e)).sort((x, y) => (first[x] !== first[y] ? (first[x]! < first[y]! ? -1 : 1) : cmp(words, x, words, y, q)));
      for (let i = s; i < e; i++) {
        const x = sorted[i - s]!;
        order[i] = x;
        keys[i] = first[x]!;
      }
    }
    s = e;
  }
  return { order, keys };
}

/**
 * Copies the q-word record at word z of `from` to word y of `to`. The two digest widths are
 * straight-line word moves: a third of the time of the loop where records are copied by the
 * million (measured in ShardBuffer.addRecords).
 */
export function moveRecord(to: Uint32Array, y: number, from: Uint32Array, z: number, q: number): void {
  if (q === 8) {
    to[y] = from[z]!;
    to[y + 1] = from[z + 1]!;
    to[y + 2] = from[z + 2]!;
    to[y + 3] = from[z + 3]!;
    to[y + 4] = from[z + 4]!;
    to[y + 5] = from[z + 5]!;
    to[y + 6] = from[z + 6]!;
    to[y + 7] = from[z + 7]!;
  } else if (q === 4) {
    to[y] = from[z]!;
    to[y + 1] = from[z + 1]!;
    to[y + 2] = from[z + 2]!;
    to[y + 3] = from[z + 3]!;
  } else for (let end = z + q; z < end; ) to[y++] = from[z++]!;
}

/** Sorts records of width `w` (orderRecords) and drops duplicates. */
export function sortUniqueRecords(input: Buffer, w: number): Buffer {
  const n = checkRecords(input, w);
  if (n <= 1) return input.buffer === byteScratch.buffer ? copyOut(input, input.length) : input;
  const q = w >>> 2;
  const { words } = wordsOf(input);
  const { order, keys } = orderRecords(words, n, q);
  const out = Buffer.allocUnsafeSlow(input.length);
  const ow = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let written = 0;
  for (let i = 0; i < n; i++) {
    const x = order[i]!;
    // Duplicates end up next to each other, and only a record with the last one's key can be one.
    if (i > 0 && keys[i] === keys[i - 1] && cmp(words, x, ow, written - 1, q) === 0) continue;
    moveRecord(ow, written++ * q, words, x * q, q);
  }
  return out.subarray(0, written * w);
}

/**
 * Whether `buf` is whole records of width w in strictly increasing byte order. Every stored
 * applied-state list is checked when a diff reads it (3M records at 1M rows, each sync):
 * digests are uniform, so two neighbours almost always differ in their first 4 bytes, read
 * big-endian once each (a DataView load is one byte-swapping load); only an equal prefix
 * compares the rest. A third of the time of a word-by-word compare of every pair (measured).
 */
export function isSortedUniqueRecords(buf: Buffer, w: number): boolean {
  const n = checkRecords(buf, w);
  if (n < 2) return true;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let prev = dv.getUint32(0, false);
  for (let i = 1, o = w; i < n; i++, o += w) {
    const cur = dv.getUint32(o, false);
    if (cur > prev) {
      prev = cur;
      continue;
    }
    if (cur < prev) return false;
    for (let k = 4; ; k += 4) {
      if (k >= w) return false;
      const u = dv.getUint32(o - w + k, false);
      const v = dv.getUint32(o + k, false);
      if (u !== v) {
        if (u > v) return false;
        break;
      }
    }
  }
  return true;
}

/** a − b (sorted unique record lists of width w). Runs of kept records are copied in one call. */
export function minusRecords(a: Buffer, b: Buffer, w: number): Buffer {
  const n = checkRecords(a, w);
  const m = checkRecords(b, w);
  if (n === 0 || m === 0) return a;
  const q = w >>> 2;
  const A = wordsOf(a);
  const bw = wordsOf(b).words;
  const aw = A.words;
  // The result is often far smaller than `a` (a churn's adds): built in scratch, copied out at its size.
  const out = bytesFor(a.length);
  let o = 0;
  let run = 0;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const c = cmp(aw, i, bw, j, q);
    if (c < 0) i++;
    else if (c > 0) j++;
    else {
      if (i > run) A.buf.copy(out, o * w, run * w, i * w);
      o += i - run;
      run = ++i;
      j++;
    }
  }
  if (n > run) A.buf.copy(out, o * w, run * w, n * w);
  o += n - run;
  return o === n ? a : copyOut(out, o * w);
}

/** a ∪ b (sorted unique record lists of width w). */
export function unionRecords(a: Buffer, b: Buffer, w: number): Buffer {
  const n = checkRecords(a, w);
  const m = checkRecords(b, w);
  if (m === 0) return a;
  if (n === 0) return b;
  const q = w >>> 2;
  const A = wordsOf(a);
  const B = wordsOf(b);
  const out = Buffer.allocUnsafeSlow(a.length + b.length);
  const ow = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let o = 0;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const c = cmp(A.words, i, B.words, j, q);
    if (c <= 0) {
      copyRecord(A.words, i++, ow, o++, q);
      if (c === 0) j++;
    } else copyRecord(B.words, j++, ow, o++, q);
  }
  if (i < n) A.buf.copy(out, o * w, i * w, n * w);
  o += n - i;
  if (j < m) B.buf.copy(out, o * w, j * w, m * w);
  o += m - j;
  return out.subarray(0, o * w);
}

/**
 * Hex lines ("digest\n", width `lineWidth`) as records: how lists written before records
 * are read. Throws on a line that is not lowercase hex of the right length.
 */
export function recordsOfHexLines(lines: Buffer, lineWidth: number): Buffer {
  if (lines.length % lineWidth !== 0) throw new RangeError(`a digest list of ${lines.length} bytes is not whole ${lineWidth}-byte lines`);
  const n = lines.length / lineWidth;
  const w = (lineWidth - 1) >>> 1;
  const out = Buffer.allocUnsafeSlow(n * w);
  for (let i = 0; i < n; i++) {
    let x = i * lineWidth;
    if (lines[x + lineWidth - 1] !== 10) throw new RangeError(`line ${i + 1} of a digest list is not ${lineWidth - 1} characters long`);
    let o = i * w;
    const end = o + w;
    for (; o < end; x += 2) {
      const hi = HEX_VALUE[lines[x]!]!;
      const lo = HEX_VALUE[lines[x + 1]!]!;
      if ((hi | lo) < 0) throw new RangeError('a digest list holds a line that is not lowercase hex');
      out[o++] = (hi << 4) | lo;
    }
  }
  return out;
}

/**
 * The 4 hex characters of 2 digest bytes read as one little-endian 16-bit word, as a
 * little-endian 32-bit word: a line is written 4 characters a store (a third of the time
 * of a character at a time, measured).
 */
const HEX_QUAD = new Uint32Array(65536);
for (let v = 0; v < 65536; v++) {
  const lo = v & 255;
  const hi = v >>> 8;
  HEX_QUAD[v] = (HEX_CHARS[lo >>> 4]! | (HEX_CHARS[lo & 15]! << 8) | (HEX_CHARS[hi >>> 4]! << 16) | (HEX_CHARS[hi & 15]! << 24)) >>> 0;
}

/** Records as hex lines: the bytes customer files carry (lowercase hex, one digest a line). */
export function hexLinesOfRecords(records: Buffer, w: number): Buffer {
  const n = checkRecords(records, w);
  const out = Buffer.allocUnsafe(n * (2 * w + 1));
  const src = records.byteOffset % 2 === 0 ? records : Buffer.from(records);
  const pairs = new Uint16Array(src.buffer, src.byteOffset, src.length >>> 1);
  // Lines are 65 (or 33) bytes: every other one starts at an odd address, which a DataView allows.
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  const h = w >>> 1;
  let o = 0;
  for (let i = 0; i < n; i++) {
    let x = i * h;
    const end = x + h;
    for (; x < end; x++, o += 4) dv.setUint32(o, HEX_QUAD[pairs[x]!]!, true);
    out[o++] = 10;
  }
  return out;
}

/** Records of hex digest strings (tests, small lists). */
export function recordBytes(hexIds: readonly string[]): Buffer {
  return Buffer.concat(hexIds.map((h) => Buffer.from(h, 'hex')));
}

/** Records as hex strings (tests, small lists). */
export function recordsOf(buf: Buffer, w: number): string[] {
  const n = checkRecords(buf, w);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(buf.toString('hex', i * w, (i + 1) * w));
  return out;
}
