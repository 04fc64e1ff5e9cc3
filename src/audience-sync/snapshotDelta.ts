import { Readable } from 'node:stream';
import type { IdentifierType } from '../identifiers/schema';
import { SnapshotReader, rejectsToCsv, type RejectRecord, type RejectValueMode, type SnapshotCounts, type SnapshotReadOptions } from '../snapshot';
import type { BlobStore } from '../storage';
import { layout } from './layout';
import type { PrepareSource, PrepareTuning } from './prepare';
import { totalRejects } from './prepare';
import { DamagedRowIndex, EntryArena, IndexOut, RowIndexBuilder, checkLine, cloneSnapshotLines, rowIndexKeys, writeExtraLines } from './rowIndex';
import { GONE_WIDTH, LayeredIndex, MAX_LAYERS, ROW_INDEX_LAYERS_FORMAT, baseBytes, goneKey, layerBytes, runsOfView, type RowIndexLayersMeta, type RowIndexView } from './rowIndexLayers';
import { ownChunks, pieces } from './reusedReads';
import { eachSpan, rangePieces, readSpans, type SpanVisitor } from './spanReads';
import { ByteChunks } from './byteChunks';
import { DeltaNotApplicable, FingerprintMerge, NEW_SINGLE, SnapshotLines } from './snapshotLines';
import type { SpillPart } from './schemas';
import { ShardBuffer } from './shards';
import type { Stores } from './stores';

/*
 * Prepare of a snapshot against the row index of the applied state (rowIndex.ts): the
 * cost follows the change, not the snapshot.
 *
 * 1. One pass over the snapshot fingerprints each line that is a record of its own and notes
 *    where each line starts (snapshotLines.ts).
 * 2. The fingerprints are sorted and merged with the index (read in order, range by range):
 *    a line in both is kept; a line only in the snapshot is new; an index line not met again
 *    is gone. Equal lines pair one to one, so a doubled line is kept once and new once.
 * 3. The header, the new lines (read again by position, runs of them as one span) and the
 *    tail go to the SnapshotReader as one CSV: their ids, counts and rejects, with each
 *    reject's row and line put back to where it is in the snapshot (a kept line is exactly
 *    one record and one line).
 * 4. The gone lines, and the lines the index did not hold, are read the same way: the ids
 *    they gave (removal candidates: diffDelta.ts removes one only when no row still gives it).
 * 5. The counts are the index's minus the gone lines' plus the new lines'; the new index is
 *    a layer over the old one's base (the new clean lines, the gone lines' fingerprints:
 *    rowIndexLayers.ts), or, once the layers grow past a fraction of the base (and over a
 *    base of the format before the table), a new base: the snapshot read once more into a
 *    RowIndexBuilder, as a first sync builds one.
 *
 * Anything unexpected throws, and the caller reads the snapshot the usual way instead.
 */

export interface DeltaInput {
  work: BlobStore;
  stores: Stores;
  runId: string;
  source: PrepareSource;
  read: SnapshotReadOptions;
  types: readonly IdentifierType[];
  tuning: PrepareTuning;
  rejectValues: RejectValueMode;
  /** The applied state's index. */
  base: RowIndexView;
  /** Write the index of this snapshot (a dry run does not need one). */
  writeIndex: boolean;
  /** Liveness (heartbeat). */
  tick: () => void;
}

export interface DeltaResult {
  counts: SnapshotCounts;
  rejects: number;
  rejectsUri: string;
  parts: SpillPart[];
  gone: SpillPart[];
  bytes: number;
  createdAt: string;
  generation: string;
  /** The new index's meta key (null: not written). */
  rowIndexKey: string | null;
  /** The runs besides this one whose folders hold the new index's base and layers. */
  rowIndexRuns: string[];
  stats: { kept: number; fresh: number; gone: number };
}

export { DeltaNotApplicable };


export async function prepareSnapshotDelta(input: DeltaInput): Promise<DeltaResult> {
  const { work, stores, runId, source, base, tuning } = input;
  const info = await source.store.stat(source.key);
  const header = Buffer.from(base.header, 'base64');
  const seed = base.seed;

  // 1. Fingerprints of the snapshot's lines.
  // Sized for the indexed snapshot and a sixteenth more: growing copies them (garbage).
  const guess = Math.max(1 << 12, base.entries + (base.entries >>> 4));
  const pass1 = new SnapshotLines(header, seed, guess, info.size);
  let chunks = 0;
  let size = 0;
  for await (const c of pieces(source.store, source.key, tuning.snapshotPieceBytes)) {
    pass1.splitter.push(c);
    size += c.length;
    if ((++chunks & 15) === 0) input.tick();
  }
  const lines = pass1.end(size);
  if (!pass1.headerOk) throw new DeltaNotApplicable('the snapshot has no header line');

  // 2. Sorted fingerprints against the index.
  const merge = new FingerprintMerge(pass1, seed);
  const layered = await LayeredIndex.open(work, base);
  for await (const _ of layered.walk(merge)) input.tick();
  merge.finish();
  const { goneLines, goneSpans, spanCount, goneCount } = merge;
  const goneFps = merge.goneFps;
  // The gone lines of a table base: only their bytes are read from its lines object, in file
  // order, each checked against its fingerprint.
  if (spanCount > 0) {
    const order = new Int32Array(spanCount);
    for (let k = 0; k < spanCount; k++) order[k] = k;
    order.sort((x, y) => goneSpans[3 * x]! - goneSpans[3 * y]!);
    const at = new Float64Array(spanCount);
    const len = new Float64Array(spanCount);
    for (let k = 0; k < spanCount; k++) {
      at[k] = goneSpans[3 * order[k]!]!;
      len[k] = goneSpans[3 * order[k]! + 1]! + 1;
    }
    await readSpans(
      work,
      rowIndexKeys(base.base.runId).lines,
      { at, len, n: spanCount },
      new GoneLines(goneLines, len, order, goneSpans, goneFps, seed),
      () => new DamagedRowIndex('the lines object is shorter than its entries say'),
    );
    input.tick();
  }

  // 3. The new lines (read where pass 1 saw them) and the tail through the reader.
  const arena = new EntryArena();
  const blank: { line: number; bytes: Buffer }[] = [];
  const tailParts: Buffer[] = [];
  const news = new NewLines(pass1.fresh, input.writeIndex ? arena : null, seed, blank);
  const newLines = news.bytes;
  const cut = (): Error => new Error('the snapshot is shorter than its first read');
  const newStream = async function* (): AsyncGenerator<Buffer> {
    yield Buffer.from(header);
    yield Buffer.from([10]);
    for await (const _ of readNewLines(source.store, source.key, pass1.starts, lines, news, cut)) if (newLines.pending >= 1 << 20) yield* newLines.take();
    yield* newLines.take();
    if (pass1.tailAt < 0) return;
    news.tailFrom(lines + 1);
    for await (const c of rangePieces(source.store, source.key, pass1.tailAt, size, cut)) {
      yield Buffer.from(c);
      if (input.writeIndex) tailParts.push(Buffer.from(c));
    }
  };
  const rejected = new Set<number>();
  // One buffer for both spills (the new lines', then the gone lines'): the second reuses the
  // first's chunks instead of fresh external memory (a chunk per shard and type).
  const shardBuffer = new ShardBuffer(input.types.length, 'records');
  const spill = new Spill(work, input.types, shardBuffer, tuning, (seq) => ({ lines: layout.spillLines(runId, 'snapshot', seq), index: layout.spillIndex(runId, 'snapshot', seq) }));
  let rejectChunks: string[] = [];
  let rejectBytes = 0;
  const rejectParts: number[] = [];
  // Raw digests, as prepareSet reads them: the spill holds records, nothing to decode from hex.
  const newReader = new SnapshotReader(source.store.uriOf(source.key), input.read, undefined, { ...(tuning.readerPieceBytes ? { maxPieceBytes: tuning.readerPieceBytes } : {}), rawDigests: true });
  for await (const batch of newReader.read(newStream())) {
    await spill.add(batch.digests);
    if (batch.rejects.length) {
      const mapped: RejectRecord[] = batch.rejects.map((r) => {
        const line = news.realLine(r.line);
        rejected.add(line);
        return { ...r, line, row: r.row + (line - r.line) };
      });
      const csv = rejectsToCsv(mapped, false, input.rejectValues);
      rejectChunks.push(csv);
      rejectBytes += csv.length;
      if (rejectBytes >= tuning.maxRejectBytes) {
        await work.write(layout.rejectsPart(runId, 'snapshot', rejectParts.length), rejectChunks.join(''));
        rejectParts.push(rejectParts.length);
        rejectChunks = [];
        rejectBytes = 0;
      }
    }
    input.tick();
  }
  const parts = await spill.finish();
  // Two reads of one object: a snapshot rewritten in between would mix two files.
  if ((await source.store.stat(source.key)).generation !== info.generation) throw new Error('the snapshot changed while it was read');
  const rejectsKey = layout.rejects(runId, 'snapshot');
  const tailRejects = rejectChunks.join('');
  await work.write(
    rejectsKey,
    (async function* () {
      yield Buffer.from(rejectsToCsv([], true));
      for (const seq of rejectParts) yield await work.readBuffer(layout.rejectsPart(runId, 'snapshot', seq));
      if (tailRejects) yield Buffer.from(tailRejects);
    })(),
    { contentType: 'text/csv' },
  );

  // 4. What the gone lines, and the lines the index did not hold, gave.
  const extraUri = work.uriOf(rowIndexKeys(base.runId).extra);
  const goneStream = async function* (): AsyncGenerator<Buffer> {
    yield Buffer.from(header);
    yield Buffer.from([10]);
    yield* goneLines.take();
    if (base.extraBytes > 0) {
      const { store, key } = stores.object(extraUri);
      const s = await store.openRead(key);
      try {
        for await (const c of s) yield c as Buffer;
      } finally {
        s.destroy();
      }
    }
  };
  const goneSpill = new Spill(work, input.types, shardBuffer, tuning, (seq) => ({ lines: layout.goneSpillLines(runId, seq), index: layout.goneSpillIndex(runId, seq) }));
  const goneReader = new SnapshotReader(`${source.store.uriOf(source.key)} (lines gone since ${base.runId})`, input.read, undefined, { rawDigests: true });
  for await (const batch of goneReader.read(goneStream())) {
    await goneSpill.add(batch.digests);
    input.tick();
  }
  const gone = await goneSpill.finish();
  const counts = addCounts(subtractCounts(base.counts, goneReader.counts), newReader.counts);

  // 5. The index of this snapshot: kept entries and new clean lines, in fingerprint order.
  let rowIndexKey: string | null = null;
  let rowIndexRuns: string[] = [];
  if (input.writeIndex) {
    const fresh2 = arena.sorted((i) => !rejected.has(arena.lines[i]!));
    const extra = [...blank];
    for (let i = 0; i < arena.count; i++) if (rejected.has(arena.lines[i]!)) extra.push({ line: arena.lines[i]!, bytes: arena.lineWithLf(i) });
    extra.sort((x, y) => x.line - y.line);
    const extraBytes = [...extra.map((e) => e.bytes), ...tailParts];
    const grown = layerBytes(base.layers) + arena.bytes + GONE_WIDTH * goneCount;
    const compact = !('format' in base.base) || base.layers.length + 1 > MAX_LAYERS || grown > tuning.rowIndexCompactAt * baseBytes(base.base);
    rowIndexKey = compact
      ? await writeCompacted(input, info.generation, rejected, counts)
      : await writeLayer(input, arena, fresh2, goneFps.subarray(0, 4 * goneCount), extraBytes, counts, merge.entries - goneCount + fresh2.length);
    if (!compact) rowIndexRuns = runsOfView(base).filter((r) => r !== runId);
  }
  return {
    counts,
    rejects: totalRejects(counts),
    rejectsUri: work.uriOf(rejectsKey),
    parts,
    gone,
    bytes: info.size,
    createdAt: source.createdAt ?? info.created.toISOString(),
    generation: info.generation,
    rowIndexKey,
    rowIndexRuns,
    stats: { kept: pass1.n - merge.newSingles, fresh: news.synth - 1, gone: goneCount },
  };
}

/**
 * A compaction: the whole index of this snapshot as a table base, built from one more read
 * of it as a first sync builds one (its lines copied as they stream by, no line on its own).
 * The lines with a reject are known from the second pass; kept lines have none.
 */
async function writeCompacted(input: DeltaInput, generation: string, rejected: ReadonlySet<number>, counts: SnapshotCounts): Promise<string | null> {
  const { work, runId, source, base } = input;
  // Its lines a clone of the snapshot where the stores allow and the destination's snapshots
  // are not rewritten in place (mayCloneLines): of the generation read, checked below.
  // A clone that fails is a copy, not a failed compaction (that would read the snapshot once more).
  const clone = base.cloneLines === false ? null : await cloneSnapshotLines(work, runId, source).catch(() => null);
  if (clone && clone.generation !== generation) {
    await work.delete(clone.lines.key, { ignoreNotFound: true });
    throw new Error('the snapshot changed while it was read');
  }
  const builder = new RowIndexBuilder(work, runId, input.tuning.rowIndexMemoryBytes, clone?.lines, base.cloneLines !== false);
  builder.rejectLines(rejected);
  try {
    // Reused pieces unless the builder holds each chunk until it stores its lines copy.
    let chunks = 0;
    for await (const c of builder.keepsChunks ? ownChunks(source.store, source.key) : pieces(source.store, source.key)) {
      const wait = builder.push(c);
      if (wait) await wait;
      if ((++chunks & 15) === 0) input.tick();
    }
    if ((await source.store.stat(source.key)).generation !== generation) throw new Error('the snapshot changed while it was read');
  } catch (err) {
    builder.abort(err as Error);
    throw err;
  }
  return builder.write(base.key, counts);
}

/** A layer over the base: this run's new clean lines and the fingerprints of the lines gone, then a meta naming the base and every layer. */
async function writeLayer(input: DeltaInput, arena: EntryArena, fresh: Int32Array, goneFps: Uint32Array, extra: Buffer[], counts: SnapshotCounts, entries: number): Promise<string> {
  const { work, runId, base } = input;
  const keys = rowIndexKeys(runId);
  const out = new IndexOut();
  await work.write(
    keys.bin,
    (async function* () {
      arena.emitAll(fresh, 0, fresh.length, out);
      yield* out.take(true);
    })(),
    { md5: false, reusesChunks: true, contentType: 'application/octet-stream' },
  );
  await work.write(goneKey(runId), Buffer.from(goneFps.buffer, goneFps.byteOffset, goneFps.byteLength), { md5: false, contentType: 'application/octet-stream' });
  const extraBytes = await writeExtraLines(work, keys.extra, extra);
  const meta: RowIndexLayersMeta = {
    format: ROW_INDEX_LAYERS_FORMAT,
    runId,
    key: base.key,
    header: base.header,
    seed: base.seed,
    entries,
    extraBytes,
    counts,
    base: base.base,
    layers: [...base.layers, { runId, entries: out.entries, binBytes: out.bytes, gone: goneFps.length / 4 }],
    ...(base.cloneLines === false ? { cloneLines: false as const } : {}),
  };
  await work.write(keys.meta, JSON.stringify(meta), { contentType: 'application/json' });
  return keys.meta;
}

/** Digests into spill parts (shard-major, as prepare writes them), a part per buffer full. */
class Spill {
  private readonly typeIndex: Map<IdentifierType, number>;
  private readonly parts: SpillPart[] = [];

  constructor(
    private readonly work: BlobStore,
    types: readonly IdentifierType[],
    /** Empty, in the 'records' form; empty again after finish(). */
    private readonly buffer: ShardBuffer,
    private readonly tuning: PrepareTuning,
    private readonly keys: (seq: number) => { lines: string; index: string },
  ) {
    this.typeIndex = new Map(types.map((t, i) => [t, i]));
  }

  async add(digests: readonly { type: IdentifierType; digests: Parameters<ShardBuffer['add']>[1] }[]): Promise<void> {
    for (const d of digests) this.buffer.add(this.typeIndex.get(d.type)!, d.digests);
    if (this.buffer.bytes >= this.tuning.maxBufferBytes) await this.flush();
  }

  private async flush(): Promise<void> {
    const part = this.buffer.take();
    if (part.ids === 0) {
      this.buffer.recycle(part);
      return;
    }
    const { lines, index } = this.keys(this.parts.length);
    await this.work.write(lines, Readable.from(part.chunks), { md5: false });
    this.buffer.recycle(part);
    const p: SpillPart = { key: lines, ids: part.ids, offsets: part.offsets, format: 'records' };
    await this.work.write(index, JSON.stringify(p));
    this.parts.push(p);
  }

  async finish(): Promise<SpillPart[]> {
    await this.flush();
    return this.parts;
  }
}

/** a − b, count by count (b's counts are of rows a counted). */
export function subtractCounts(a: SnapshotCounts, b: SnapshotCounts): SnapshotCounts {
  return combine(a, b, -1);
}

export function addCounts(a: SnapshotCounts, b: SnapshotCounts): SnapshotCounts {
  return combine(a, b, 1);
}

function combine(a: SnapshotCounts, b: SnapshotCounts, sign: 1 | -1): SnapshotCounts {
  const out: SnapshotCounts = structuredClone(a);
  out.rows += sign * b.rows;
  for (const [r, v] of Object.entries(b.rowsRejected)) {
    const k = r as keyof SnapshotCounts['rowsRejected'];
    out.rowsRejected[k] = (out.rowsRejected[k] ?? 0) + sign * (v ?? 0);
    if (out.rowsRejected[k] === 0) delete out.rowsRejected[k];
  }
  for (const [type, c] of Object.entries(b.types)) {
    if (!c) continue;
    const t = (out.types[type as IdentifierType] ??= { accepted: 0, prehashed: 0, empty: 0, rejected: {} });
    t.accepted += sign * c.accepted;
    t.prehashed += sign * c.prehashed;
    t.empty += sign * c.empty;
    for (const [r, v] of Object.entries(c.rejected)) {
      const k = r as keyof typeof t.rejected;
      t.rejected[k] = (t.rejected[k] ?? 0) + sign * (v ?? 0);
      if (t.rejected[k] === 0) delete t.rejected[k];
    }
  }
  if (out.rows < 0) throw new Error('the row index counts fewer rows than its lines gave');
  return out;
}

/** Bytes of the snapshot a span of new lines covers at most: the read buffer holds a span whole. */
const RUN_BYTES = 256 << 10;
/** Spans per read of the snapshot (their offsets are held while it runs). */
const RUN_BATCH = 1 << 14;

/** The gone lines of a table base as their spans are read: each checked against its fingerprint, then kept. */
class GoneLines implements SpanVisitor {
  private readonly scratch = new Uint32Array(4);

  constructor(
    private readonly lines: ByteChunks,
    /** Per span (in file order): its line's length and LF. */
    private readonly len: Float64Array,
    /** Per span: its number among FingerprintMerge's goneSpans. */
    private readonly order: Int32Array,
    private readonly goneSpans: Uint32Array,
    private readonly goneFps: Uint32Array,
    private readonly seed: number,
  ) {}

  span(buf: Buffer, start: number, k: number): void {
    const n = this.len[k]! - 1;
    checkLine(buf, start, start + n, this.goneFps, 4 * this.goneSpans[3 * this.order[k]! + 2]!, this.seed, this.scratch);
    if (buf[start + n] !== 10) throw new DamagedRowIndex('a line of the index does not end where its entry says');
    this.lines.append(buf, start, start + n + 1);
  }
}

/**
 * The new lines as readNewLines hands them over: their bytes, in order, into the stream the
 * reader reads (line 1 its header, then line k the (k-1)-th new line, then the tail); a
 * fingerprinted one into the new index's arena, a blank one kept for its extra lines.
 */
class NewLines implements SpanVisitor {
  readonly bytes = new ByteChunks();
  /** Per line of the reader's stream: the snapshot's line. */
  private synthToReal = new Int32Array(1 << 12);
  /** The reader's line number of the last new line. */
  synth = 1;
  private tailSynth = -1;
  private tailReal = -1;
  /** The spans being read: per span, its first line and how many. */
  first = new Int32Array(0);
  count = new Int32Array(0);
  starts: Uint32Array | Float64Array = new Uint32Array(0);

  constructor(
    readonly fresh: Uint8Array,
    private readonly arena: EntryArena | null,
    private readonly seed: number,
    private readonly blank: { line: number; bytes: Buffer }[],
  ) {}

  span(buf: Buffer, start: number, k: number): void {
    const { starts } = this;
    let o = start;
    for (let l = this.first[k]!, to = l + this.count[k]!; l < to; l++) {
      const e = o + (starts[l + 1]! - starts[l]!) - 1;
      this.line(buf, o, e, l);
      o = e + 1;
    }
  }

  /** Line `line` of the snapshot is buf[start, end) and its LF. */
  private line(buf: Buffer, start: number, end: number, line: number): void {
    this.bytes.append(buf, start, end + 1);
    const synth = ++this.synth;
    if (synth >= this.synthToReal.length) {
      const s = new Int32Array(this.synthToReal.length * 2);
      s.set(this.synthToReal);
      this.synthToReal = s;
    }
    this.synthToReal[synth] = line;
    if (this.fresh[line] === NEW_SINGLE) this.arena?.add(buf, start, end, this.seed, line);
    else this.blank.push({ line, bytes: Buffer.from(buf.subarray(start, end + 1)) });
  }

  /** The tail follows the new lines in the stream: its first line is the snapshot's line `real`. */
  tailFrom(real: number): void {
    this.tailSynth = this.synth + 1;
    this.tailReal = real;
  }

  /** The snapshot's line of the reader's line k. */
  realLine(k: number): number {
    return this.tailSynth >= 0 && k >= this.tailSynth ? this.tailReal + (k - this.tailSynth) : k === 1 ? 1 : this.synthToReal[k]!;
  }
}

/**
 * Reads the lines marked in `news.fresh` (lines 2..lines, line l at [starts[l], starts[l + 1]),
 * its LF last) by position, in order, handing them to `news`; consecutive ones as one span.
 * Yields after each read (see eachSpan).
 */
async function* readNewLines(store: BlobStore, key: string, starts: Uint32Array | Float64Array, lines: number, news: NewLines, cut: () => Error): AsyncGenerator<void> {
  const at = new Float64Array(RUN_BATCH);
  const len = new Float64Array(RUN_BATCH);
  const first = new Int32Array(RUN_BATCH);
  const count = new Int32Array(RUN_BATCH);
  const fresh = news.fresh;
  const last = Math.min(lines, fresh.length - 1);
  news.first = first;
  news.count = count;
  news.starts = starts;
  for (let l = 2; l <= last; ) {
    let n = 0;
    for (; n < RUN_BATCH && l <= last; l++) {
      if (fresh[l] === 0) continue;
      const s = starts[l]!;
      let e = l + 1;
      while (e <= last && fresh[e] !== 0 && starts[e + 1]! - s <= RUN_BYTES) e++;
      at[n] = s;
      len[n] = starts[e]! - s;
      first[n] = l;
      count[n++] = e - l;
      l = e - 1;
    }
    if (n > 0) yield* eachSpan(store, key, { at, len, n }, news, cut);
  }
}

