/**
 * Digest lists: the form of every sorted id set the data plane stores and diffs (shards,
 * the applied state, adds and removes): lowercase hex digests of one type, one per line,
 * each line ending in "\n", so every line of a list has the same width (65 bytes for
 * SHA-256, 33 for MD5); sorted by byte order; no duplicates.
 *
 * Lists stay Buffers from storage to storage: as JS strings each id would cost ~100 bytes
 * of heap and the garbage collector most of the diff time (measured: GC and string sorts
 * were 30% of a 300k-row sync); as lines they cost their 65 bytes and sort natively.
 */

/** Lines of `buf` as strings (tests, small lists); a last line without "\n" counts too. */
export function linesOf(buf: Buffer, start = 0, end = buf.length): string[] {
  if (end <= start) return [];
  const out = buf.toString('latin1', start, end).split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/** The stored bytes of a list given as strings. */
export function listBytes(ids: readonly string[]): Buffer {
  if (ids.length === 0) return Buffer.alloc(0);
  return Buffer.from(ids.join('\n') + '\n', 'latin1');
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

/** Byte order of line i of `a` and line j of `b` (digest bytes only; both lines of width w). */
export function compareLines(a: Buffer, i: number, b: Buffer, j: number, w: number): number {
  let x = i * w;
  let y = j * w;
  const end = x + w - 1;
  for (; x < end; x++, y++) {
    const d = a[x]! - b[y]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Throws unless `buf` is whole lines of width `w`, each ending in "\n". */
export function checkLines(buf: Buffer, w: number): number {
  if (buf.length % w !== 0) throw new RangeError(`a digest list of ${buf.length} bytes is not whole ${w}-byte lines`);
  const n = buf.length / w;
  for (let i = w - 1; i < buf.length; i += w) if (buf[i] !== 10) throw new RangeError(`line ${(i + 1) / w} of a digest list is not ${w - 1} characters long`);
  return n;
}

const INDEX_BITS = 2 ** 21;

/**
 * Sorts lines of width `w` and drops duplicates. Each line gets a numeric key of its first
 * 8 hex digits with its index in the low 21 bits, the Float64Array of keys sorts natively,
 * and only lines whose 8-digit prefixes tie (rare: digests are uniform) are compared in
 * full. Lists of 2M lines or more (not a shard of any realistic audience) sort by string.
 */
export function sortUniqueLines(buf: Buffer, w: number): Buffer {
  const n = checkLines(buf, w);
  if (n >= INDEX_BITS) return listBytes([...new Set(linesOf(buf))].sort());
  if (n <= 1) return buf;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let k = 0;
    const o = i * w;
    for (let c = 0; c < 8; c++) {
      const v = HEX[buf[o + c]!]!;
      if (v < 0) throw new RangeError('a digest list holds a line that is not lowercase hex');
      k = k * 16 + v;
    }
    keys[i] = k * INDEX_BITS + i;
  }
  keys.sort();
  const out = Buffer.allocUnsafe(buf.length);
  let written = 0;
  let lastWritten = -1;
  for (let i = 0; i < n; ) {
    const prefix = Math.floor(keys[i]! / INDEX_BITS);
    let j = i + 1;
    while (j < n && Math.floor(keys[j]! / INDEX_BITS) === prefix) j++;
    const idx: number[] = [];
    for (let k = i; k < j; k++) idx.push(keys[k]! - prefix * INDEX_BITS);
    if (idx.length > 1) idx.sort((x, y) => compareLines(buf, x, buf, y, w));
    for (const x of idx) {
      // Duplicates sit next to each other, and only within one prefix group.
      if (lastWritten >= 0 && compareLines(buf, x, out, lastWritten, w) === 0) continue;
      buf.copy(out, written * w, x * w, x * w + w);
      lastWritten = written++;
    }
    // The next prefix differs from this one: no duplicate crosses groups.
    lastWritten = -1;
    i = j;
  }
  return out.subarray(0, written * w);
}

export function isSortedUniqueLines(buf: Buffer, w: number): boolean {
  const n = checkLines(buf, w);
  for (let i = 1; i < n; i++) if (compareLines(buf, i - 1, buf, i, w) >= 0) return false;
  return true;
}

/** Appends lines [from, to) of `src` to `out` at line `o`; returns the new line count. */
function copyRun(src: Buffer, from: number, to: number, out: Buffer, o: number, w: number): number {
  if (to > from) src.copy(out, o * w, from * w, to * w);
  return o + (to - from);
}

/** a − b (sorted unique lists of width w). Runs of kept lines are copied in one call. */
export function minusLines(a: Buffer, b: Buffer, w: number): Buffer {
  const n = a.length / w;
  const m = b.length / w;
  if (n === 0 || m === 0) return a;
  const out = Buffer.allocUnsafe(a.length);
  let o = 0;
  let run = 0;
  let i = 0;
  let j = 0;
  // One comparison a step; kept lines are copied as runs between matches.
  while (i < n && j < m) {
    const c = compareLines(a, i, b, j, w);
    if (c < 0) i++;
    else if (c > 0) j++;
    else {
      o = copyRun(a, run, i, out, o, w);
      run = ++i;
      j++;
    }
  }
  o = copyRun(a, run, n, out, o, w);
  return out.subarray(0, o * w);
}

/** a ∪ b (sorted unique lists of width w). */
export function unionLines(a: Buffer, b: Buffer, w: number): Buffer {
  const n = a.length / w;
  const m = b.length / w;
  if (m === 0) return a;
  if (n === 0) return b;
  const out = Buffer.allocUnsafe(a.length + b.length);
  let o = 0;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const c = compareLines(a, i, b, j, w);
    if (c <= 0) {
      a.copy(out, o++ * w, i * w, i * w + w);
      i++;
      if (c === 0) j++;
    } else {
      b.copy(out, o++ * w, j * w, j * w + w);
      j++;
    }
  }
  o = copyRun(a, i, n, out, o, w);
  o = copyRun(b, j, m, out, o, w);
  return out.subarray(0, o * w);
}
