import { createHash, randomInt } from 'node:crypto';
import { z } from 'zod';
import type { RejectRecord, SnapshotCounts } from '../snapshot';
import type { BlobStore, WriteResult } from '../storage';
import { RunIdSchema, layout } from './layout';
import { QueuedWrite } from './queuedWrite';
import { LineSplitter, compareFp, isBlankLine, lineFingerprint, sortFingerprints, type LineSink } from './rowLines';
import { ByteCursor, rangePieces, readSpans } from './spanReads';

/*
 * The row index of a committed snapshot run: every line of the snapshot that is one record
 * of its own and was read without a reject, sorted by its 128-bit fingerprint
 * (rowFingerprint.ts), with where its bytes are; and, as they were, the lines it does not
 * hold (blank lines, lines with a reject, the tail from the first quote on: see rowLines.ts).
 * Written by prepare into the run's folder and named by the manifest that commits the run, so
 * it describes exactly the rows behind the applied state. The next snapshot's prepare merges
 * its own sorted fingerprints against it (snapshotDelta.ts): only lines it does not hold are
 * read, and lines gone since are read again from here to learn which ids they gave.
 *
 * It is only used under the same key (ROW_INDEX_KEY_FORMAT, the ttsync and libphonenumber-js
 * versions, the read options: format, delimiter, column mapping, normalization with
 * defaultCountry and phoneFormat; the types; the sync mode) and the same header line, byte for
 * byte. Anything else, or an object that is missing, short, out of order or whose bytes do not
 * match their fingerprint, means no index: the full path.
 *
 * Stored form of a base (format 3): rowindex.json (RowIndexTableMetaSchema); rowindex.lines:
 * the snapshot's bytes as prepare read them (copied from the read as it streams, so no line
 * is copied on its own); rowindex.table: entries sorted by fingerprint (unsigned, word 0
 * first), each 6 u32 words: the fingerprint, the line's byte offset in rowindex.lines and its
 * length without LF, little-endian; rowindex.extra: the other lines, each with its LF, then
 * the tail, in file order. A churn sync walks the table (24 bytes a line) and reads only the
 * gone lines' bytes.
 *
 * Format 1 (written before; still read, never written as a base): rowindex.json
 * (LegacyRowIndexMetaSchema), rowindex.bin: entries sorted by fingerprint, each 4 u32
 * fingerprint words, u32 byte length, the line's bytes without its LF, zero padding to 4
 * bytes; rowindex.extra as above. Layers (rowIndexLayers.ts) store their new lines in this
 * entry form.
 */

/**
 * Hashed into every index's key (rowIndexKey). It stays 1 across storage forms: the meta's
 * `format` tells the forms apart, and a reader of this release reads each of them. Bump it
 * only when what a line means changes (the fingerprint, the line rules of rowLines.ts): a new
 * value makes every existing index unusable, so the next sync of each destination reads its
 * whole snapshot.
 */
export const ROW_INDEX_KEY_FORMAT = 1;
export const LEGACY_ROW_INDEX_FORMAT = 1;
export const ROW_INDEX_TABLE_FORMAT = 3;

export const count = z.number().int().nonnegative();
const CountsSchema = z.custom<SnapshotCounts>((v) => typeof v === 'object' && v !== null && typeof (v as SnapshotCounts).rows === 'number');

/** What every index meta holds, whatever its form (rowIndexLayers.ts adds the layered one). */
export const IndexMetaFieldsSchema = z.object({
  runId: RunIdSchema,
  key: z.string(),
  /** The header line's bytes (base64, without LF). */
  header: z.string(),
  seed: z.number().int(),
  /** Entries of the index it describes. */
  entries: count,
  extraBytes: count,
  /** What the reader counted in the whole snapshot. */
  counts: CountsSchema,
  /**
   * false: this destination's snapshot was seen rewritten in place under a lines object that
   * was a clone of it (a hard link shares the file), so its later indexes copy their lines
   * instead of cloning them (absent: they may clone).
   */
  cloneLines: z.literal(false).optional(),
});

export const LegacyRowIndexMetaSchema = IndexMetaFieldsSchema.extend({
  format: z.literal(LEGACY_ROW_INDEX_FORMAT),
  binBytes: count,
  /** byte offset in rowindex.bin of the first entry whose fingerprint's top byte is i (257 entries). */
  ranges: z.array(count).length(257),
});
export type LegacyRowIndexMeta = z.infer<typeof LegacyRowIndexMetaSchema>;

export const RowIndexTableMetaSchema = IndexMetaFieldsSchema.extend({
  format: z.literal(ROW_INDEX_TABLE_FORMAT),
  tableBytes: count,
  linesBytes: count,
  /** The lines object's generation when the index was written (absent before clones): another one means no index. */
  linesGeneration: z.string().optional(),
});
export type RowIndexTableMeta = z.infer<typeof RowIndexTableMetaSchema>;

/** Where a run's index objects live, relative to the workdir. */
export const rowIndexKeys = (runId: string) => {
  const run = `runs/${RunIdSchema.parse(runId)}/rowindex`;
  return { meta: `${run}.json`, bin: `${run}.bin`, table: `${run}.table`, lines: `${run}.lines`, extra: `${run}.extra` };
};

/** A key naming everything besides the header that decides what a line becomes. */
export function rowIndexKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ rowIndex: ROW_INDEX_KEY_FORMAT, parts })).digest('hex');
}

/** A table entry: 4 fingerprint words, offset, length. */
export const TABLE_WORDS = 6;
export const TABLE_ENTRY = 4 * TABLE_WORDS;

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
 * A table or a layer's rowindex.bin as it is written: entries appended in fingerprint order,
 * copied into 1 MiB pieces. No object per entry: a million small buffers cost more in the
 * garbage collector than the copying.
 */
export class IndexOut {
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
    if (this.fill + 4 * q > this.cur.length) this.next();
    let o = this.fill >>> 2;
    for (let k = w, end = w + q; k < end; ) this.curWords[o++] = words[k++]!;
    this.fill += 4 * q;
    this.bytes += 4 * q;
    this.entries++;
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
 * The table entries of a whole snapshot (full path) collected per fingerprint range (top
 * byte), each range sorted on its own when written: appending to 256 ranges is sequential,
 * and a range (about a hundred KiB at 1M rows) sorts within the CPU's caches. A record is the
 * table entry (fingerprint, offset, length) and the line number: 28 bytes a line, not the
 * line's bytes (those are in the lines object). The builder lets go of them in spills
 * (takeAll) past its memory bound.
 */
class TableArena {
  private static readonly W = TABLE_WORDS + 1;
  private readonly chunks: Uint32Array[][] = Array.from({ length: 256 }, () => []);
  private readonly fills = new Int32Array(256);
  count = 0;
  /** Bytes of the chunks held. */
  held = 0;

  /** The line at `at` of `len` bytes, with the fingerprint fp[fo..fo+3]. */
  add(fp: Uint32Array, fo: number, at: number, len: number, line: number): void {
    const f0 = fp[fo]!;
    const r = f0 >>> 24;
    const list = this.chunks[r]!;
    let cur = list[list.length - 1];
    let o = this.fills[r]!;
    if (!cur || o === cur.length) {
      cur = new Uint32Array(TableArena.W * Math.min(8192, cur ? (cur.length / TableArena.W) * 2 : 128));
      list.push(cur);
      this.held += cur.byteLength;
      o = 0;
    }
    cur[o] = f0;
    cur[o + 1] = fp[fo + 1]!;
    cur[o + 2] = fp[fo + 2]!;
    cur[o + 3] = fp[fo + 3]!;
    cur[o + 4] = at;
    cur[o + 5] = len;
    cur[o + 6] = line;
    this.fills[r] = o + TableArena.W;
    this.count++;
  }

  /** Every entry held, range after range, as bytes to store and where each range starts in them (257 offsets); the arena is then empty. */
  takeAll(): { parts: Buffer[]; at: number[] } {
    const parts: Buffer[] = [];
    const at = [0];
    let total = 0;
    for (let r = 0; r < 256; r++) {
      for (const c of this.heldChunks(r)) {
        parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
        total += c.byteLength;
      }
      at.push(total);
      this.chunks[r]!.length = 0;
      this.fills[r] = 0;
    }
    this.held = 0;
    return { parts, at };
  }

  /**
   * Room for one range's entries while it is sorted, reused range after range: a fresh array
   * per range is external memory V8 answers with full collections (27 MiB at 1M lines).
   */
  private scratch = new Uint32Array(0);
  private rangeScratch(words: number): Uint32Array {
    if (this.scratch.length < words) this.scratch = new Uint32Array(Math.max(words, Math.ceil(this.scratch.length * 1.5)));
    return this.scratch.subarray(0, words);
  }

  /** Range r's chunks, the last cut to its fill. */
  private heldChunks(r: number): Uint32Array[] {
    const list = this.chunks[r]!;
    return list.map((c, i) => (i === list.length - 1 ? c.subarray(0, this.fills[r]) : c));
  }

  /**
   * Appends range r's entries (`spilled`: its entries let go of earlier, as bytes, then those
   * held) in fingerprint order; entries of lines in `skip` go to `skipped` instead.
   */
  emitRange(r: number, out: IndexOut, skip: ReadonlySet<number>, skipped: { at: number; len: number; line: number }[], spilled?: Uint8Array): void {
    const W = TableArena.W;
    const held = this.heldChunks(r);
    let words: Uint32Array;
    if (!spilled?.length && held.length <= 1) words = held[0] ?? new Uint32Array(0);
    else {
      const bytes = (spilled?.length ?? 0) + held.reduce((k, c) => k + c.byteLength, 0);
      words = this.rangeScratch(bytes >>> 2);
      const u8 = new Uint8Array(words.buffer, 0, bytes);
      let o = 0;
      if (spilled) {
        u8.set(spilled, 0);
        o = spilled.length;
      }
      for (const c of held) {
        u8.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), o);
        o += c.byteLength;
      }
    }
    this.chunks[r]!.length = 0;
    const n = words.length / W;
    if (n === 0) return;
    const order = sortFingerprints(words, W, n, 8);
    for (let j = 0; j < n; j++) {
      const o = W * order[j]!;
      if (skip.size && skip.has(words[o + 6]!)) skipped.push({ at: words[o + 4]!, len: words[o + 5]!, line: words[o + 6]! });
      else out.appendEntry(words, o, TABLE_WORDS);
    }
  }
}

/**
 * The run's lines object as a clone of the snapshot at its current generation (BlobStore.
 * cloneFrom: a hard link in a local folder, a copy made by GCS), so that no byte of it is
 * written from here: a copy is as large as the snapshot (75 MiB at 1M rows), written to a new
 * file or uploaded by the worker on every first sync and compaction. Null when the work store cannot clone from the snapshot's store, or the
 * snapshot moved on meanwhile: the builder then copies the bytes as they are read. The caller
 * keeps the index only if the snapshot still has the clone's generation after it was read
 * (generations only grow: then every byte read was of that generation).
 */
export async function cloneSnapshotLines(work: BlobStore, runId: string, source: { store: BlobStore; key: string }): Promise<{ lines: WriteResult; generation: string } | null> {
  if (!work.cloneFrom) return null;
  const { generation } = await source.store.stat(source.key);
  const lines = await work.cloneFrom(source.store, source.key, generation, rowIndexKeys(runId).lines);
  return lines ? { lines, generation } : null;
}

/** Table entries a RowIndexBuilder holds in memory before it stores them in a spill (PrepareTuning.rowIndexMemoryBytes). */
export const DEFAULT_ROW_INDEX_MEMORY = 32 << 20;

/**
 * Collects the index of a snapshot while prepare reads it the usual way (full path): the
 * raw bytes go through `push` (and on, unchanged, into the run's lines object, written while
 * the read goes on), the reader's rejects through `rejects`; `write` stores the rest. A
 * compaction (snapshotDelta.ts) feeds it the same way from its own read.
 */
export class RowIndexBuilder implements LineSink {
  readonly seed = randomInt(0, 2 ** 31);
  private readonly arena = new TableArena();
  private readonly splitter = new LineSplitter(this, this.seed);
  /** The lines object written from the read; null when it is a clone of the snapshot. */
  private readonly copy: QueuedWrite | null;
  /** Bytes pushed. */
  private pushed = 0;
  private header: Buffer | null = null;
  /** Blank lines, with their LF (in file order). */
  private blank: { line: number; bytes: Buffer }[] = [];
  /** Where the tail begins (-1: none). */
  private tailAt = -1;
  private readonly rejected = new Set<number>();
  /** A line past 4 GiB: offsets are u32, so no index. */
  private tooLarge = false;
  /** Entries let go of so far: each spill's key and where each range starts in it. */
  private readonly spills: { key: string; at: number[] }[] = [];

  constructor(
    private readonly work: BlobStore,
    private readonly runId: string,
    /** Bytes of table entries held in memory; past them they are stored in a spill (a 10M-line snapshot has 280 MB of them). */
    private readonly memoryBytes = DEFAULT_ROW_INDEX_MEMORY,
    /**
     * The lines object, when it is already stored as a clone of the snapshot being read
     * (cloneLines): the bytes pushed are only counted. Otherwise they are copied into it.
     */
    private readonly cloned?: WriteResult,
    /** Whether later indexes of this destination may clone their lines (RowIndexTableMeta.cloneLines). */
    private readonly cloneLines = true,
  ) {
    this.copy = cloned ? null : new QueuedWrite(work, rowIndexKeys(runId).lines);
  }

  /** The lines copy holds pushed chunks until it stores them (a clone needs none of them). */
  get keepsChunks(): boolean {
    return this.copy !== null;
  }

  /**
   * The next bytes of the snapshot; their memory may be reused once this returns unless
   * keepsChunks. A promise: wait before pushing more.
   */
  push(chunk: Buffer): Promise<void> | undefined {
    this.splitter.push(chunk);
    this.pushed += chunk.length;
    const copied = this.copy?.push(chunk);
    if (this.arena.held < this.memoryBytes || this.tooLarge) return copied;
    const spilled = this.spill();
    return copied ? Promise.all([copied, spilled]).then(() => undefined) : spilled;
  }

  /** Stores the entries held (range by range, unsorted: each range is sorted once, when written) and lets go of them. */
  private async spill(): Promise<void> {
    const { parts, at } = this.arena.takeAll();
    const key = layout.rowIndexSpill(this.runId, this.spills.length);
    await this.work.write(key, (async function* () {
      yield* parts;
    })(), { md5: false, contentType: 'application/octet-stream' });
    this.spills.push({ key, at });
  }

  rejects(records: readonly RejectRecord[]): void {
    for (const r of records) this.rejected.add(r.line);
  }

  /** Lines with a reject, by line number. */
  rejectLines(lines: Iterable<number>): void {
    for (const l of lines) this.rejected.add(l);
  }

  headerLine(buf: Buffer, start: number, end: number): void {
    this.header = Buffer.from(buf.subarray(start, end));
  }

  lines(buf: Buffer, pos: number, words: Uint32Array, count: number, first: number): void {
    const base = this.splitter.offset(0);
    for (let j = 0, o = 0, line = first; j < count; j++, o += 5, line++) {
      const nl = words[o]!;
      if (isBlankLine(buf, pos, nl)) this.blank.push({ line, bytes: Buffer.from(buf.subarray(pos, nl + 1)) });
      // The line's end, LF included, must be an offset a table entry can hold.
      else if (base + nl + 1 > 0xffffffff) this.tooLarge = true;
      else this.arena.add(words, o + 1, base + pos, nl - pos, line);
      pos = nl + 1;
    }
  }

  tail(_buf: Buffer, start: number): void {
    if (this.tailAt < 0) this.tailAt = this.splitter.offset(start);
  }

  /** The read failed: nothing is stored. */
  abort(reason: Error): void {
    this.copy?.abort(reason);
  }

  /** Writes rowindex.{lines,table,extra,json} of the run; returns the meta key (null: no header line, or too large). */
  async write(key: string, counts: SnapshotCounts): Promise<string | null> {
    try {
      return await this.store(key, counts);
    } catch (err) {
      // The lines object's write must not wait for bytes that will not come.
      this.copy?.abort(err as Error);
      await this.copy?.done.catch(() => undefined);
      throw err;
    }
  }

  private async store(key: string, counts: SnapshotCounts): Promise<string | null> {
    this.splitter.end();
    if (!this.header || this.tooLarge) {
      this.copy?.abort(new Error('no row index for this snapshot'));
      await this.copy?.done.catch(() => undefined);
      return null;
    }
    const { work } = this;
    const keys = rowIndexKeys(this.runId);
    const linesBytes = this.pushed;
    const lines = this.copy ? await this.copy.end() : this.cloned!;
    if (lines.size !== linesBytes) throw new Error(this.copy ? 'the lines object was stored short' : `the snapshot read (${linesBytes} bytes) is not the clone of it (${lines.size} bytes)`);
    const a = this.arena;
    const rejected = this.rejected;
    // Lines with a reject are read every time, so the rejects file names them again.
    const unclean: { at: number; len: number; line: number }[] = [];
    const out = new IndexOut();
    const spills = this.spills;
    // Each spill is read front to back, a range of it at a time beside the same range of the others.
    const cursors = spills.map((s) => new ByteCursor(work, s.key, s.at[256]!, () => new Error(`the row index spill ${s.key} is shorter than was written`)));
    try {
      await work.write(
        keys.table,
        (async function* (): AsyncGenerator<Buffer> {
          // One buffer for every range's spilled entries (emitRange copies them out).
          let room = Buffer.alloc(0);
          for (let r = 0; r < 256; r++) {
            let spilled: Buffer | undefined;
            if (spills.length) {
              const bytes = spills.reduce((k, s) => k + s.at[r + 1]! - s.at[r]!, 0);
              if (room.length < bytes) room = Buffer.allocUnsafeSlow(Math.ceil(bytes * 1.25));
              spilled = room.subarray(0, bytes);
              let o = 0;
              for (let i = 0; i < spills.length; i++) {
                const len = spills[i]!.at[r + 1]! - spills[i]!.at[r]!;
                await cursors[i]!.readInto(spilled, o, len);
                o += len;
              }
            }
            a.emitRange(r, out, rejected, unclean, spilled);
            yield* out.take(false);
          }
          yield* out.take(true);
        })(),
        { md5: false, reusesChunks: true, contentType: 'application/octet-stream' },
      );
    } finally {
      await Promise.all(cursors.map((c) => c.close()));
    }
    // Read once: the table holds them now. Listed, not taken from `spills`: an attempt that
    // crashed after more spills than this one made left the others.
    for await (const o of work.list(layout.rowIndexSpills(this.runId))) await work.delete(o.key, { ignoreNotFound: true });
    unclean.sort((x, y) => x.at - y.at);
    const extra = [...this.blank];
    await readSpans(
      work,
      keys.lines,
      { at: unclean.map((u) => u.at), len: unclean.map((u) => u.len + 1), n: unclean.length },
      { span: (buf, start, k) => extra.push({ line: unclean[k]!.line, bytes: Buffer.from(buf.subarray(start, start + unclean[k]!.len + 1)) }) },
      () => new Error('the lines object is shorter than the lines read'),
    );
    extra.sort((x, y) => x.line - y.line);
    const tailAt = this.tailAt;
    const extraBytes = await writeExtraLines(work, keys.extra, extra.map((l) => l.bytes), tailAt < 0 ? undefined : () => rangePieces(work, keys.lines, tailAt, linesBytes, () => new Error('the lines object is shorter than its tail')));
    const meta: RowIndexTableMeta = {
      format: ROW_INDEX_TABLE_FORMAT,
      runId: this.runId,
      key,
      header: this.header.toString('base64'),
      seed: this.seed,
      entries: out.entries,
      tableBytes: out.bytes,
      linesBytes,
      linesGeneration: lines.generation,
      ...(this.cloneLines ? {} : { cloneLines: false as const }),
      extraBytes,
      counts,
    };
    await work.write(keys.meta, JSON.stringify(meta), { contentType: 'application/json' });
    return keys.meta;
  }
}

/** Stores an index's (or a layer's) lines that are not entries, then its tail if any; returns their bytes, for its meta. */
export async function writeExtraLines(work: BlobStore, key: string, extra: Buffer[], tail?: () => AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  await work.write(
    key,
    (async function* (): AsyncGenerator<Buffer> {
      for await (const b of batched(extra)) {
        bytes += b.length;
        yield b;
      }
      if (tail)
        for await (const b of tail()) {
          bytes += b.length;
          yield b;
        }
    })(),
    { md5: false, reusesChunks: true, contentType: 'application/octet-stream' },
  );
  return bytes;
}

/** Thrown when an index's bytes are not what its meta and fingerprints say: the caller takes the full path. */
export class DamagedRowIndex extends Error {}

/** Verifies an entry's bytes against its fingerprint (an entry about to be read as a gone line). */
export function checkEntry(buf: Buffer, words: Uint32Array, w: number, at: number, seed: number, scratch: Uint32Array): void {
  const len = words[w + 4]!;
  lineFingerprint(buf, at + ENTRY_HEAD, at + ENTRY_HEAD + len, seed, scratch, 0);
  if (compareFp(scratch, 0, words, w) !== 0) throw new DamagedRowIndex("an entry's bytes do not match its fingerprint");
}

/** Verifies a line's bytes buf[start, end) against the fingerprint at words[w..] (a table entry about to be read as a gone line). */
export function checkLine(buf: Buffer, start: number, end: number, words: ArrayLike<number>, w: number, seed: number, scratch: Uint32Array): void {
  lineFingerprint(buf, start, end, seed, scratch, 0);
  if (scratch[0] !== words[w] || scratch[1] !== words[w + 1] || scratch[2] !== words[w + 2] || scratch[3] !== words[w + 3])
    throw new DamagedRowIndex("a line's bytes do not match its fingerprint");
}
