import { createHash, randomInt } from 'node:crypto';
import { z } from 'zod';
import type { RejectRecord, SnapshotCounts } from '../snapshot';
import type { BlobStore } from '../storage';
import { RunIdSchema } from './layout';
import { LineSplitter, compareFp, lineFingerprint, sortFingerprints, type LineSink } from './rowLines';

/*
 * The row index of a committed snapshot run: every line of the snapshot that is one record
 * of its own and was read without a reject, sorted by its 128-bit fingerprint
 * (rowFingerprint.ts), with its bytes; and, as they were, the lines it does not hold (blank
 * lines, lines with a reject, the tail from the first quote on: see rowLines.ts). Written by
 * prepare into the run's folder and named by the manifest that commits the run, so it
 * describes exactly the rows behind the applied state. The next snapshot's prepare merges
 * its own sorted fingerprints against it (snapshotDelta.ts): only lines it does not hold are
 * read, and lines gone since are read again from here to learn which ids they gave.
 *
 * It is only used under the same key (format, the ttsync and libphonenumber-js versions, the
 * read options: format, delimiter, column mapping, normalization with defaultCountry and
 * phoneFormat; the types; the sync mode) and the same header line, byte for byte. Anything
 * else, or an object that is missing, short, out of order or whose bytes do not match their
 * fingerprint, means no index: the full path.
 *
 * Stored form (format 1): rowindex.json (RowIndexMetaSchema), rowindex.bin: entries sorted
 * by fingerprint (unsigned, word 0 first), each 4 u32 fingerprint words, u32 byte length,
 * the line's bytes without its LF, zero padding to 4 bytes; all little-endian; rowindex.extra:
 * the other lines, each with its LF, then the tail, in file order.
 */

export const ROW_INDEX_FORMAT = 1;

export const RowIndexMetaSchema = z.object({
  format: z.literal(ROW_INDEX_FORMAT),
  runId: RunIdSchema,
  key: z.string(),
  /** The header line's bytes (base64, without LF). */
  header: z.string(),
  seed: z.number().int(),
  entries: z.number().int().nonnegative(),
  binBytes: z.number().int().nonnegative(),
  extraBytes: z.number().int().nonnegative(),
  /** byte offset in rowindex.bin of the first entry whose fingerprint's top byte is i (257 entries). */
  ranges: z.array(z.number().int().nonnegative()).length(257),
  /** What the reader counted in the whole snapshot. */
  counts: z.custom<SnapshotCounts>((v) => typeof v === 'object' && v !== null && typeof (v as SnapshotCounts).rows === 'number'),
});
export type RowIndexMeta = z.infer<typeof RowIndexMetaSchema>;

/** Where a run's index objects live, relative to the workdir. */
export const rowIndexKeys = (runId: string) => {
  const run = `runs/${RunIdSchema.parse(runId)}/rowindex`;
  return { meta: `${run}.json`, bin: `${run}.bin`, extra: `${run}.extra` };
};

/** A key naming everything besides the header that decides what a line becomes. */
export function rowIndexKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ rowIndex: ROW_INDEX_FORMAT, parts })).digest('hex');
}

export const ENTRY_HEAD = 20;
export const entrySize = (len: number): number => (ENTRY_HEAD + len + 3) & ~3;

const ARENA = 4 << 20;

let plainOf: Buffer | null = null;
let plainView: Uint8Array = new Uint8Array(0);
/**
 * buf's bytes as a plain Uint8Array, for the last buf asked about (a splitter hands many
 * lines of one buffer): a Buffer's subarray makes a Buffer, several times the cost of a
 * Uint8Array's, and the arenas copy a million lines each.
 */
function plainBytes(buf: Buffer): Uint8Array {
  if (plainOf !== buf) {
    plainOf = buf;
    plainView = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }
  return plainView;
}

/**
 * Entries (fingerprint, bytes) collected in big buffers, then sorted and written out.
 * Memory: the lines' bytes plus 20-24 bytes a line.
 */
export class EntryArena {
  private chunks: Buffer[] = [];
  private chunkWords: Uint32Array[] = [];
  private cur = Buffer.alloc(0);
  private curWords = new Uint32Array(0);
  private fill = 0;
  /** Per entry: fingerprint words, chunk, offset in chunk, line. */
  fps = new Uint32Array(4 * 1024);
  where = new Int32Array(2 * 1024);
  lines = new Int32Array(1024);
  count = 0;
  bytes = 0;

  add(buf: Buffer, start: number, end: number, seed: number, line: number): void {
    const len = end - start;
    const size = entrySize(len);
    if (this.fill + size > this.cur.length) {
      if (this.fill > 0) {
        this.chunks.push(this.cur.subarray(0, this.fill));
        this.chunkWords.push(this.curWords);
      }
      this.cur = Buffer.allocUnsafeSlow(Math.max(ARENA, size));
      this.curWords = new Uint32Array(this.cur.buffer, this.cur.byteOffset, this.cur.length >>> 2);
      this.fill = 0;
    }
    const n = this.count;
    if (n === this.lines.length) this.grow();
    const w = this.fill >>> 2;
    lineFingerprint(buf, start, end, seed, this.curWords, w);
    this.curWords[w + 4] = len;
    this.cur.set(plainBytes(buf).subarray(start, end), this.fill + ENTRY_HEAD);
    this.cur.fill(0, this.fill + ENTRY_HEAD + len, this.fill + size);
    this.fps[4 * n] = this.curWords[w]!;
    this.fps[4 * n + 1] = this.curWords[w + 1]!;
    this.fps[4 * n + 2] = this.curWords[w + 2]!;
    this.fps[4 * n + 3] = this.curWords[w + 3]!;
    this.where[2 * n] = this.chunks.length;
    this.where[2 * n + 1] = this.fill;
    this.lines[n] = line;
    this.fill += size;
    this.bytes += size;
    this.count = n + 1;
  }

  private grow(): void {
    const n = this.lines.length * 2;
    const fps = new Uint32Array(4 * n);
    fps.set(this.fps);
    const where = new Int32Array(2 * n);
    where.set(this.where);
    const lines = new Int32Array(n);
    lines.set(this.lines);
    this.fps = fps;
    this.where = where;
    this.lines = lines;
  }

  /** The entry's stored bytes (head and padded line). */
  entry(i: number): Buffer {
    const c = this.where[2 * i]!;
    const buf = c === this.chunks.length ? this.cur : this.chunks[c]!;
    const at = this.where[2 * i + 1]!;
    return buf.subarray(at, at + entrySize(buf.readUInt32LE(at + 16)));
  }

  /** The entry's line bytes, with its LF. */
  lineWithLf(i: number): Buffer {
    const e = this.entry(i);
    const len = e.readUInt32LE(16);
    const out = Buffer.allocUnsafe(len + 1);
    e.copy(out, 0, ENTRY_HEAD, ENTRY_HEAD + len);
    out[len] = 10;
    return out;
  }

  /** Appends entry i to an index being written. */
  emit(i: number, out: IndexOut): void {
    const c = this.where[2 * i]!;
    const words = c === this.chunks.length ? this.curWords : this.chunkWords[c]!;
    const w = this.where[2 * i + 1]! >>> 2;
    out.appendEntry(words, w, entrySize(words[w + 4]!) >>> 2);
  }

  /** Appends entries order[from, to) (a plain loop: inside a generator it ran several times slower). */
  emitAll(order: Int32Array, from: number, to: number, out: IndexOut): void {
    const chunks = this.chunks.length;
    for (let k = from; k < to; k++) {
      const i = order[k]!;
      const c = this.where[2 * i]!;
      const words = c === chunks ? this.curWords : this.chunkWords[c]!;
      const w = this.where[2 * i + 1]! >>> 2;
      out.appendEntry(words, w, entrySize(words[w + 4]!) >>> 2);
    }
  }

  /** Entry numbers (those `keep` accepts) in fingerprint order. */
  sorted(keep: (i: number) => boolean): Int32Array {
    const order = sortFingerprints(this.fps, 4, this.count);
    let k = 0;
    for (let j = 0; j < order.length; j++) if (keep(order[j]!)) order[k++] = order[j]!;
    return order.subarray(0, k);
  }
}

/**
 * The lines of a whole snapshot (full path) collected per fingerprint range (top byte), each
 * range sorted on its own when written: appending to 256 ranges is sequential, and a range
 * (a few hundred KiB at 1M rows) sorts and is copied out within the CPU's caches, where one
 * sorted gather over the whole arena missed the cache on nearly every entry. A slot is the
 * line number, then the entry as stored.
 */
export class RangeArena {
  private readonly chunks: Uint32Array[][] = Array.from({ length: 256 }, () => []);
  /** Words in use of each chunk of a range. */
  private readonly used: number[][] = Array.from({ length: 256 }, () => []);
  private readonly fills = new Int32Array(256);
  private readonly counts = new Int32Array(256);
  private readonly fp = new Uint32Array(4);
  /** A byte view of each range's last chunk (made once a chunk: a view per line was most of add's time). */
  private readonly lastBytes = new Array<Uint8Array | undefined>(256);
  private readonly lastBytesOf = new Int32Array(256).fill(-1);
  count = 0;

  private bytesOf(c: number, r: number, cur: Uint32Array): Uint8Array {
    if (this.lastBytesOf[r] === c) return this.lastBytes[r]!;
    const v = new Uint8Array(cur.buffer, cur.byteOffset, cur.byteLength);
    this.lastBytes[r] = v;
    this.lastBytesOf[r] = c;
    return v;
  }

  add(buf: Buffer, start: number, end: number, seed: number, line: number): void {
    lineFingerprint(buf, start, end, seed, this.fp, 0);
    const r = this.fp[0]! >>> 24;
    const len = end - start;
    const q = 1 + (entrySize(len) >>> 2);
    const list = this.chunks[r]!;
    let cur = list[list.length - 1];
    let o = this.fills[r]!;
    if (!cur || o + q > cur.length) {
      cur = new Uint32Array(Math.max(q, Math.min(64 << 10, cur ? cur.length * 2 : 1024)));
      list.push(cur);
      this.used[r]!.push(0);
      o = 0;
    }
    cur[o] = line;
    cur[o + 1] = this.fp[0]!;
    cur[o + 2] = this.fp[1]!;
    cur[o + 3] = this.fp[2]!;
    cur[o + 4] = this.fp[3]!;
    cur[o + 5] = len;
    cur[o + q - 1] = 0;
    this.bytesOf(list.length - 1, r, cur).set(plainBytes(buf).subarray(start, end), 4 * (o + 6));
    this.fills[r] = o + q;
    this.used[r]![list.length - 1] = o + q;
    this.counts[r]!++;
    this.count++;
  }

  /** Appends range r's entries in fingerprint order; entries of lines in `skip` go to `skipped` (line and bytes with LF) instead. */
  emitRange(r: number, out: IndexOut, skip: ReadonlySet<number>, skipped: { line: number; bytes: Buffer }[]): void {
    const n = this.counts[r]!;
    if (n === 0) return;
    const list = this.chunks[r]!;
    const fps = new Uint32Array(4 * n);
    const chunk = new Int32Array(n);
    const at = new Int32Array(n);
    let k = 0;
    for (let c = 0; c < list.length; c++) {
      const words = list[c]!;
      const end = this.used[r]![c]!;
      for (let o = 0; o < end; ) {
        fps[4 * k] = words[o + 1]!;
        fps[4 * k + 1] = words[o + 2]!;
        fps[4 * k + 2] = words[o + 3]!;
        fps[4 * k + 3] = words[o + 4]!;
        chunk[k] = c;
        at[k++] = o;
        o += 1 + (entrySize(words[o + 5]!) >>> 2);
      }
    }
    const order = sortFingerprints(fps, 4, n, 8);
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      const words = list[chunk[i]!]!;
      const o = at[i]!;
      if (skip.size && skip.has(words[o]!)) {
        const len = words[o + 5]!;
        const bytes = Buffer.allocUnsafe(len + 1);
        bytes.set(new Uint8Array(words.buffer, words.byteOffset + 4 * (o + 6), len));
        bytes[len] = 10;
        skipped.push({ line: words[o]!, bytes });
      } else out.appendEntry(words, o + 1, entrySize(words[o + 5]!) >>> 2);
    }
    list.length = 0;
    this.used[r]!.length = 0;
    this.lastBytesOf[r] = -1;
    this.lastBytes[r] = undefined;
  }
}

/**
 * rowindex.bin as it is written: entries appended in fingerprint order (one at a time or as
 * runs of consecutive stored entries), copied into 1 MiB pieces, with the range offsets
 * noted on the way. No object per entry: a million small buffers cost more in the garbage
 * collector than the copying.
 */
export class IndexOut {
  readonly ranges = new Array<number>(257).fill(0);
  private nextRange = 0;
  bytes = 0;
  entries = 0;
  private cur: Buffer;
  private curWords: Uint32Array;
  private fill = 0;
  private ready: Buffer[] = [];
  /** Pieces handed out by the last take(): written by now (the store was asked for the next). */
  private handed: Buffer[] = [];
  private spare: Buffer[] = [];

  constructor() {
    this.cur = Buffer.allocUnsafeSlow(1 << 20);
    this.curWords = new Uint32Array(this.cur.buffer, this.cur.byteOffset, this.cur.length >>> 2);
  }

  private next(): void {
    this.ready.push(this.cur.subarray(0, this.fill));
    this.cur = this.spare.pop() ?? Buffer.allocUnsafeSlow(1 << 20);
    this.curWords = new Uint32Array(this.cur.buffer, this.cur.byteOffset, this.cur.length >>> 2);
    this.fill = 0;
  }

  /** Appends one entry of q words at words[w..] (a word-aligned copy: most entries are under 30 words). */
  appendEntry(words: Uint32Array, w: number, q: number): void {
    const top = words[w]! >>> 24;
    while (this.nextRange <= top) this.ranges[this.nextRange++] = this.bytes;
    if (this.fill + 4 * q > this.cur.length) this.next();
    let o = this.fill >>> 2;
    for (let k = w, end = w + q; k < end; ) this.curWords[o++] = words[k++]!;
    this.fill += 4 * q;
    this.bytes += 4 * q;
    this.entries++;
  }

  /** Appends the whole entries of buf[start, end). */
  append(buf: Buffer, start: number, end: number): void {
    for (let p = start; p < end; ) {
      const top = buf[p + 3]!;
      while (this.nextRange <= top) this.ranges[this.nextRange++] = this.bytes + (p - start);
      const len = buf[p + 16]! | (buf[p + 17]! << 8) | (buf[p + 18]! << 16) | (buf[p + 19]! << 24);
      p += entrySize(len);
      this.entries++;
    }
    let at = start;
    while (at < end) {
      if (this.fill === this.cur.length) this.next();
      const n = Math.min(end - at, this.cur.length - this.fill);
      buf.copy(this.cur, this.fill, at, at + n);
      this.fill += n;
      at += n;
    }
    this.bytes += end - start;
  }

  /**
   * Full pieces so far (and the last one when `final`). The pieces of the previous take are
   * reused: the caller writes with reusesChunks, so they are stored once the next is pulled.
   */
  take(final: boolean): Buffer[] {
    for (const b of this.handed) if (b.length === 1 << 20) this.spare.push(b);
    if (final) {
      if (this.fill) this.ready.push(this.cur.subarray(0, this.fill));
      this.fill = 0;
      while (this.nextRange <= 256) this.ranges[this.nextRange++] = this.bytes;
    }
    const out = this.ready;
    this.ready = [];
    this.handed = out.filter((b) => b.buffer.byteLength === 1 << 20 && b.byteOffset === 0).map((b) => Buffer.from(b.buffer, 0, 1 << 20));
    return out;
  }
}

/** Chunks of about 1 MiB made of many small buffers (fewer writes). */
export async function* batched(parts: Iterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    pending.push(p);
    size += p.length;
    if (size >= 1 << 20) {
      yield Buffer.concat(pending, size);
      pending = [];
      size = 0;
    }
  }
  if (size) yield Buffer.concat(pending, size);
}

/**
 * Collects the index of a snapshot while prepare reads it the usual way (full path): the
 * raw bytes go through `push`, the reader's rejects through `rejects`; `write` stores it.
 */
export class RowIndexBuilder implements LineSink {
  readonly seed = randomInt(0, 2 ** 31);
  private readonly arena = new RangeArena();
  private readonly splitter = new LineSplitter(this);
  private header: Buffer | null = null;
  /** Lines not indexed, with their LF (in file order), then the tail. */
  private extra: { line: number; bytes: Buffer }[] = [];
  private tailParts: Buffer[] = [];
  private readonly rejected = new Set<number>();

  push(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  rejects(records: readonly RejectRecord[]): void {
    for (const r of records) this.rejected.add(r.line);
  }

  line(buf: Buffer, start: number, end: number, line: number, single: boolean): void {
    if (line === 1) {
      this.header = Buffer.from(buf.subarray(start, end));
      return;
    }
    if (single) this.arena.add(buf, start, end, this.seed, line);
    else this.extra.push({ line, bytes: Buffer.from(buf.subarray(start, end + 1)) });
  }

  tail(buf: Buffer, start: number, end: number): void {
    this.tailParts.push(Buffer.from(buf.subarray(start, end)));
  }

  /** Writes rowindex.{bin,extra,json} of `runId`; returns the meta key (null: the file had no header line). */
  async write(work: BlobStore, runId: string, key: string, counts: SnapshotCounts): Promise<string | null> {
    this.splitter.end();
    if (!this.header) return null;
    const a = this.arena;
    // Lines with a reject are read every time, so the rejects file names them again.
    const unclean: { line: number; bytes: Buffer }[] = [];
    const rejected = this.rejected;
    const tailParts = this.tailParts;
    const extraLines = this.extra;
    return writeRowIndex(work, runId, {
      key,
      header: this.header,
      seed: this.seed,
      entries: async function* (out: IndexOut): AsyncGenerator<Buffer> {
        for (let r = 0; r < 256; r++) {
          a.emitRange(r, out, rejected, unclean);
          yield* out.take(false);
        }
        yield* out.take(true);
      },
      // Read after the entries are written (the unclean lines are found on the way).
      extra: () => [...[...extraLines, ...unclean].sort((x, y) => x.line - y.line).map((e) => e.bytes), ...tailParts],
      counts,
    });
  }
}

export interface IndexContent {
  key: string;
  header: Buffer;
  seed: number;
  /** Appends the entries in fingerprint order to `out`, yielding its pieces as they fill (one pulled at a time: they are reused). */
  entries: (out: IndexOut) => AsyncIterable<Buffer>;
  extra: Buffer[] | (() => Buffer[]);
  counts: SnapshotCounts;
}

/** Stores an index's (or a layer's) lines that are not entries; returns their bytes, for its meta. */
export async function writeExtraLines(work: BlobStore, key: string, extra: Buffer[]): Promise<number> {
  let bytes = 0;
  for (const e of extra) bytes += e.length;
  await work.write(key, batched(extra), { md5: false, contentType: 'application/octet-stream' });
  return bytes;
}

/** Stores an index: the entries, the extra lines, then the meta (last: a meta names whole objects). */
export async function writeRowIndex(work: BlobStore, runId: string, c: IndexContent): Promise<string> {
  const keys = rowIndexKeys(runId);
  const out = new IndexOut();
  const pieces = c.entries(out);
  await work.write(keys.bin, pieces, { md5: false, reusesChunks: true, contentType: 'application/octet-stream' });
  const extraBytes = await writeExtraLines(work, keys.extra, typeof c.extra === 'function' ? c.extra() : c.extra);
  const meta: RowIndexMeta = {
    format: ROW_INDEX_FORMAT,
    runId,
    key: c.key,
    header: c.header.toString('base64'),
    seed: c.seed,
    entries: out.entries,
    binBytes: out.bytes,
    extraBytes,
    ranges: out.ranges,
    counts: c.counts,
  };
  await work.write(keys.meta, JSON.stringify(meta), { contentType: 'application/json' });
  return keys.meta;
}

/** Thrown when an index's bytes are not what its meta and fingerprints say: the caller takes the full path. */
export class DamagedRowIndex extends Error {}

/**
 * Walks entries of a piece of rowindex.bin: calls `each(buf, words, wordAt, byteAt, size)` per entry,
 * checking lengths and order. The piece must start at an entry and hold whole entries.
 */
export function eachEntry(piece: Buffer, prev: Uint32Array, each: (buf: Buffer, words: Uint32Array, w: number, at: number, size: number) => void): void {
  const buf = piece.byteOffset % 4 === 0 ? piece : Buffer.from(piece);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  let at = 0;
  while (at < buf.length) {
    if (at + ENTRY_HEAD > buf.length) throw new DamagedRowIndex('an entry is cut short');
    const w = at >>> 2;
    const size = entrySize(words[w + 4]!);
    if (at + size > buf.length) throw new DamagedRowIndex('an entry is cut short');
    if (compareFp(prev, 0, words, w) > 0) throw new DamagedRowIndex('entries out of order');
    prev[0] = words[w]!;
    prev[1] = words[w + 1]!;
    prev[2] = words[w + 2]!;
    prev[3] = words[w + 3]!;
    each(buf, words, w, at, size);
    at += size;
  }
}

/** Verifies an entry's bytes against its fingerprint (an entry about to be read as a gone line). */
export function checkEntry(buf: Buffer, words: Uint32Array, w: number, at: number, seed: number, scratch: Uint32Array): void {
  const len = words[w + 4]!;
  lineFingerprint(buf, at + ENTRY_HEAD, at + ENTRY_HEAD + len, seed, scratch, 0);
  if (compareFp(scratch, 0, words, w) !== 0) throw new DamagedRowIndex("an entry's bytes do not match its fingerprint");
}
