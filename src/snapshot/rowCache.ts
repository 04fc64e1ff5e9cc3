import { createHash } from 'node:crypto';

/**
 * Row cache: what the reader made of a CSV row last time, keyed by the row's fingerprint,
 * so an unchanged row of the next snapshot skips the identifier rules and SHA-256.
 *
 * The fingerprint is the first 128 bits of SHA-256 of the row's raw bytes (without its line
 * end), computed by the same WebAssembly kernel, a thousand rows a call. Two different rows
 * share a fingerprint with probability about n² / 2^129 for n distinct rows ever compared
 * (10^7 rows: ~10^-25), and finding such a pair on purpose costs ~2^64 SHA-256 evaluations:
 * a collision is not a practical way to corrupt an audience.
 *
 * What a row means depends on more than its bytes: the header (which column is which), the
 * delimiter, the column mapping, the identifier rules and their inputs (defaultCountry,
 * phoneFormat, context, the ttsync and libphonenumber-js versions). All of that is the
 * cache's `key` and `header`: a cache made under anything else is not used at all.
 *
 * Only rows whose every value was accepted, passed through as a digest, or empty are
 * cached (one digest per type at most): rows with a rejected value or a row reject are read
 * again each time, so the rejects file is rebuilt exactly. Rows the reader's scanner did
 * not hand over (quoted fields, a row cut by a piece boundary) are never looked up.
 *
 * Stored form (version 1), all little-endian: the 16 bytes "ttsync-rowcache\n", u32 format
 * version, u32 length of a JSON meta object ({ key, header, delimiter, types, widths,
 * count }), the JSON, zero padding to 4 bytes, then `count` entries of `entryBytes`:
 * 16 bytes fingerprint, per type 1 byte kind (0 none, 1 hashed, 2 prehashed) and 1 byte
 * count of empty values, padding to 4, then per type its raw digest (32 bytes SHA-256,
 * 16 MD5; zeros when none). Anything else (another version, a different key, a short
 * file) reads as no cache: the slow path, never an error.
 */

export const ROW_CACHE_FORMAT = 1;
const MAGIC = Buffer.from('ttsync-rowcache\n', 'latin1');

export interface RowCacheMeta {
  key: string;
  /** The CSV header's column names, as the reader saw them. */
  header: string[];
  delimiter: string;
  types: string[];
  /** Raw digest bytes per type (32 SHA-256, 16 MD5). */
  widths: number[];
}

/** Bytes of one entry for these digest widths. */
export function entryBytes(widths: readonly number[]): number {
  const head = 16 + ((2 * widths.length + 3) & ~3);
  return head + widths.reduce((a, b) => a + b, 0);
}

/** A key naming everything besides the header that decides what a row becomes. */
export function rowCacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ rowCache: ROW_CACHE_FORMAT, parts })).digest('hex');
}

/** Fingerprint words of a row from its SHA-256 hex (8 little-endian u32 words of hex characters). */
export function fingerprintOfHex(words: Uint32Array, at: number, out: Uint32Array, o: number): void {
  for (let j = 0; j < 4; j++) out[o + j] = (nibbles(words[at + 2 * j]!) | (nibbles(words[at + 2 * j + 1]!) << 4)) >>> 0;
}

/** The 4 hex characters of a word as 4 nibble values, one per byte ('0'-'9' → 0-9, 'a'-'f' → 10-15). */
function nibbles(w: number): number {
  return (w & 0x0f0f0f0f) + ((w >>> 6) & 0x01010101) * 9;
}

/** Entries of a cache in memory, found through an open-addressing table on the fingerprint. */
export class RowCache {
  readonly entryBytes: number;
  /** Offset of each type's digest within an entry. */
  readonly digestAt: number[];
  /** The entries as 32-bit words. */
  readonly words: Uint32Array;
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(
    readonly meta: RowCacheMeta,
    /** `count` entries back to back (4-byte aligned). */
    readonly data: Buffer,
    readonly count: number,
  ) {
    this.entryBytes = entryBytes(meta.widths);
    this.digestAt = [];
    let at = 16 + ((2 * meta.widths.length + 3) & ~3);
    for (const w of meta.widths) {
      this.digestAt.push(at);
      at += w;
    }
    if (data.byteOffset % 4 !== 0 || data.length < count * this.entryBytes) throw new RangeError('row cache entries are not aligned or are cut short');
    this.words = new Uint32Array(data.buffer, data.byteOffset, (count * this.entryBytes) >>> 2);
    let size = 1024;
    while (size < count * 2) size *= 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    const q = this.entryBytes >>> 2;
    // A fingerprint stored twice (a row repeated in one snapshot) is found at its first entry.
    for (let i = 0; i < count; i++) {
      const x = i * q;
      let s = this.words[x]! & this.mask;
      while (this.table[s]! >= 0) s = (s + 1) & this.mask;
      this.table[s] = i;
    }
  }

  /** The entry with this fingerprint, or -1. */
  find(a: number, b: number, c: number, d: number): number {
    const w = this.words;
    const q = this.entryBytes >>> 2;
    for (let s = a & this.mask; ; s = (s + 1) & this.mask) {
      const i = this.table[s]!;
      if (i < 0) return -1;
      const x = i * q;
      if (w[x] === a && w[x + 1] === b && w[x + 2] === c && w[x + 3] === d) return i;
    }
  }

  /**
   * The entry with this fingerprint, trying entry `guess` first: a snapshot mostly repeats
   * the last one's rows in the same order, and the cache keeps that order, so the next row
   * is usually the next entry (read in sequence, where a table probe is a cache miss).
   */
  findFrom(guess: number, a: number, b: number, c: number, d: number): number {
    if (guess < this.count) {
      const w = this.words;
      const x = guess * (this.entryBytes >>> 2);
      if (w[x] === a && w[x + 1] === b && w[x + 2] === c && w[x + 3] === d) return guess;
    }
    return this.find(a, b, c, d);
  }

  /** 0 no digest, 1 hashed, 2 prehashed. */
  kind(i: number, t: number): number {
    return this.data[i * this.entryBytes + 16 + 2 * t]!;
  }

  empties(i: number, t: number): number {
    return this.data[i * this.entryBytes + 17 + 2 * t]!;
  }

  /** Reads a stored cache; null when it is absent, another version, made under another key, or damaged. */
  static parse(buf: Buffer, key: string): RowCache | null {
    if (buf.length < 24 || !buf.subarray(0, 16).equals(MAGIC)) return null;
    if (buf.readUInt32LE(16) !== ROW_CACHE_FORMAT) return null;
    const metaLen = buf.readUInt32LE(20);
    if (24 + metaLen > buf.length) return null;
    let meta: RowCacheMeta & { count: number };
    try {
      meta = JSON.parse(buf.toString('utf8', 24, 24 + metaLen)) as RowCacheMeta & { count: number };
    } catch {
      return null;
    }
    if (meta.key !== key || !Array.isArray(meta.header) || !Array.isArray(meta.widths) || !Number.isSafeInteger(meta.count)) return null;
    const start = (24 + metaLen + 3) & ~3;
    const size = entryBytes(meta.widths);
    if (buf.length !== start + meta.count * size) return null;
    // Entries need 4-byte alignment in memory: a Buffer from a pool may not have it.
    let data = buf.subarray(start);
    if (data.byteOffset % 4 !== 0) {
      const copy = Buffer.allocUnsafeSlow(data.length);
      data.copy(copy);
      data = copy;
    }
    return new RowCache({ key: meta.key, header: meta.header, delimiter: meta.delimiter, types: meta.types, widths: meta.widths }, data, meta.count);
  }
}

/** Collects the entries of the next cache: the rows seen again, then the rows read this time. */
export class RowCacheBuilder {
  readonly entryBytes: number;
  private chunks: Buffer[] = [];
  private cur: Buffer;
  private curWords: Uint32Array = new Uint32Array(0);
  private fill = 0;
  count = 0;
  /** More rows than maxRows: nothing will be written. */
  overflow = false;

  constructor(
    readonly widths: readonly number[],
    readonly maxRows: number,
  ) {
    this.entryBytes = entryBytes(widths);
    this.cur = Buffer.alloc(0);
  }

  /** Room for one entry (zeroed); returns its buffer and offset, or null past maxRows. */
  next(): { buf: Buffer; words: Uint32Array; at: number } | null {
    if (this.overflow) return null;
    if (this.count >= this.maxRows) {
      this.overflow = true;
      this.chunks = [];
      return null;
    }
    if (this.fill + this.entryBytes > this.cur.length) {
      if (this.fill > 0) this.chunks.push(this.cur.subarray(0, this.fill));
      this.cur = Buffer.alloc(Math.max(this.entryBytes, 4096 * this.entryBytes));
      this.curWords = new Uint32Array(this.cur.buffer, this.cur.byteOffset, this.cur.length >>> 2);
      this.fill = 0;
    }
    const at = this.fill;
    this.fill += this.entryBytes;
    this.count++;
    return { buf: this.cur, words: this.curWords, at };
  }

  clear(): void {
    this.chunks = [];
    this.cur = Buffer.alloc(0);
    this.curWords = new Uint32Array(0);
    this.fill = 0;
  }

  /** The stored form: the rows `seen` of `old` (entries copied as they are), then the new ones. */
  serialize(meta: RowCacheMeta, old: RowCache | null, seen: Uint8Array | null): Buffer[] | null {
    if (this.overflow) return null;
    const kept: Buffer[] = [];
    let keptCount = 0;
    if (old && seen && old.entryBytes === this.entryBytes) {
      let run = -1;
      for (let i = 0; i <= old.count; i++) {
        const on = i < old.count && seen[i] === 1;
        if (on && run < 0) run = i;
        if (!on && run >= 0) {
          kept.push(old.data.subarray(run * this.entryBytes, i * this.entryBytes));
          keptCount += i - run;
          run = -1;
        }
      }
    }
    const count = keptCount + this.count;
    if (count > this.maxRows) return null;
    const json = Buffer.from(JSON.stringify({ ...meta, count }), 'utf8');
    const head = Buffer.alloc((24 + json.length + 3) & ~3);
    MAGIC.copy(head, 0);
    head.writeUInt32LE(ROW_CACHE_FORMAT, 16);
    head.writeUInt32LE(json.length, 20);
    json.copy(head, 24);
    return [head, ...kept, ...this.chunks, this.cur.subarray(0, this.fill)].filter((b) => b.length > 0);
  }
}

/**
 * One read's use of the cache: the reader looks rows up in `cache` (once the header it
 * reads matches the cache's), marks the entries it meets in `seen`, and adds the rows it
 * reads (and may cache) to `builder`. Prepare writes the next cache when the read is whole.
 */
export class RowCacheSession {
  /** Set by the reader when the header differs from the cache's (the cache is then unused). */
  cache: RowCache | null;
  readonly seen: Uint8Array | null;
  hits = 0;
  misses = 0;
  header: string[] | null = null;
  delimiter = ',';

  constructor(
    readonly key: string,
    /** Entry order of types: the types whose digests the read yields. */
    readonly types: readonly string[],
    readonly widths: readonly number[],
    cache: RowCache | null,
    readonly builder: RowCacheBuilder | null,
  ) {
    this.cache = cache && sameList(cache.meta.types, types) && sameList(cache.meta.widths, widths) ? cache : null;
    this.seen = this.cache ? new Uint8Array(this.cache.count) : null;
  }

  /** The reader's header: a cache made under another header (or delimiter) is not used. */
  useHeader(names: readonly string[], delimiter: string): void {
    this.header = [...names];
    this.delimiter = delimiter;
    if (this.cache && !(sameList(this.cache.meta.header, names) && this.cache.meta.delimiter === delimiter)) this.cache = null;
  }

  /** Drops the builder's entries (after serialize). */
  release(): void {
    this.builder?.clear();
  }

  /** The next cache's bytes, or null (header never seen, too many rows, no builder). */
  serialize(): Buffer[] | null {
    if (!this.builder || !this.header) return null;
    const meta: RowCacheMeta = { key: this.key, header: this.header, delimiter: this.delimiter, types: [...this.types], widths: [...this.widths] };
    return this.builder.serialize(meta, this.cache, this.seen);
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
