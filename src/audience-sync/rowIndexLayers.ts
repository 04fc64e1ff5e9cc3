import { z } from 'zod';
import type { SnapshotCounts } from '../snapshot';
import { readJsonObject, type BlobStore } from '../storage';
import { RunIdSchema } from './layout';
import { wholeRecords } from './reusedReads';
import { DamagedRowIndex, ENTRY_HEAD, IndexMetaFieldsSchema, LegacyRowIndexMetaSchema, count, ROW_INDEX_TABLE_FORMAT, RowIndexTableMetaSchema, TABLE_ENTRY, TABLE_WORDS, checkEntry, entrySize, rowIndexKeys } from './rowIndex';
import { compareFp, sortFingerprints } from './rowLines';

/*
 * A row index as a base and delta layers (rowIndex.ts holds the base's form). A delta sync
 * changes about as many entries as lines changed, so instead of rewriting the whole index it
 * stores a layer: the new clean lines (rowindex.bin, entries as in a base) and the
 * fingerprints of the lines gone (rowindex.gone: sorted, 4 u32 little-endian words each, one
 * per line, so a doubled line gone once is named once). The index a meta describes is the
 * base's entries plus every layer's entries minus every layer's gone fingerprints, counted as
 * a multiset: entries with one fingerprint have the same bytes, so which one a gone
 * fingerprint takes does not matter.
 *
 * Stored form (format 2): rowindex.json (RowIndexLayersMetaSchema) names the base (a table
 * base, format 3, or one written before it, format 1: its meta's `base` says which) and the
 * layers, oldest first, the last being its own run's; rowindex.extra is, as in a base, the
 * unindexed lines of this run's snapshot. A sync compacts (writes a format 3 base) once the
 * layers' bytes pass a fraction of the base's (PrepareTuning.rowIndexCompactAt) or there are
 * MAX_LAYERS of them, so a read stays within a bounded factor of the index's size and the
 * layers (held in memory while merging) stay small; and always over a format 1 base, so a
 * deployment's indexes move to the table form at their first churn sync.
 */

export const ROW_INDEX_LAYERS_FORMAT = 2;
export const MAX_LAYERS = 16;

const LayerSchema = z.object({ runId: RunIdSchema, entries: count, binBytes: count, gone: count });
export type RowIndexLayer = z.infer<typeof LayerSchema>;

/**
 * The base an index reads: a table base (format 3: rowindex.table and rowindex.lines) or, as
 * layer metas written before it name one, a format 1 base (rowindex.bin). The table form is
 * tried first: the older form has no `format` and would accept a newer one's fields.
 */
const BaseSchema = z.union([
  z.object({ format: z.literal(ROW_INDEX_TABLE_FORMAT), runId: RunIdSchema, entries: count, tableBytes: count, linesBytes: count, linesGeneration: z.string().optional() }),
  z.object({ runId: RunIdSchema, entries: count, binBytes: count }),
]);
export type RowIndexBase = z.infer<typeof BaseSchema>;

/** The base's stored bytes, which the layers' are weighed against. */
export const baseBytes = (b: RowIndexBase): number => ('format' in b ? b.tableBytes + b.linesBytes : b.binBytes);

export const RowIndexLayersMetaSchema = IndexMetaFieldsSchema.extend({
  format: z.literal(ROW_INDEX_LAYERS_FORMAT),
  /** Entries of the index it describes (base + layers' entries − layers' gone). */
  entries: count,
  base: BaseSchema,
  layers: z.array(LayerSchema).min(1).max(MAX_LAYERS),
});
export type RowIndexLayersMeta = z.infer<typeof RowIndexLayersMetaSchema>;

/** An index as a merge reads it, whichever form its meta has. */
export interface RowIndexView {
  /** The run whose meta this is: its rowindex.extra holds the snapshot's unindexed lines. */
  runId: string;
  key: string;
  header: string;
  seed: number;
  entries: number;
  extraBytes: number;
  counts: SnapshotCounts;
  base: RowIndexBase;
  layers: RowIndexLayer[];
  /** As IndexMetaFieldsSchema.cloneLines: carried to the indexes made from this one. */
  cloneLines?: false;
}

export const goneKey = (runId: string): string => `runs/${RunIdSchema.parse(runId)}/rowindex.gone`;
export const GONE_WIDTH = 16;

/** The run folders an index reads (its base's and its layers'). */
export const runsOfView = (v: RowIndexView): string[] => [...new Set([v.base.runId, ...v.layers.map((l) => l.runId)])];

/** Bytes of the layers, to weigh against the base's. */
export const layerBytes = (layers: readonly RowIndexLayer[]): number => layers.reduce((n, l) => n + l.binBytes + GONE_WIDTH * l.gone, 0);

const AnyMetaSchema = z.discriminatedUnion('format', [LegacyRowIndexMetaSchema, RowIndexLayersMetaSchema, RowIndexTableMetaSchema]);

/** Whether the base's objects are there, of the sizes its reference says. */
async function baseStored(work: BlobStore, b: RowIndexBase): Promise<boolean> {
  const keys = rowIndexKeys(b.runId);
  if ('format' in b) {
    const [table, lines] = await Promise.all([work.stat(keys.table), work.stat(keys.lines)]);
    // A lines object that is a hard link to the snapshot changes when the snapshot is rewritten in place.
    return b.tableBytes === TABLE_ENTRY * b.entries && table.size === b.tableBytes && lines.size === b.linesBytes && (b.linesGeneration === undefined || lines.generation === b.linesGeneration);
  }
  return (await work.stat(keys.bin)).size === b.binBytes;
}

const cloneLinesOf = (m: { cloneLines?: false }): { cloneLines?: false } => (m.cloneLines === false ? { cloneLines: false } : {});

/**
 * Whether the next index of the destination whose applied state names the index at `metaKey`
 * may clone its lines (cloneSnapshotLines): not once that destination's snapshot was seen
 * rewritten in place, which an index whose lines were a hard link to it shows as a lines
 * object of another generation than its meta says. Such a destination keeps copies: a link
 * would be spoiled by every next snapshot, and with it every next sync's index.
 */
export async function mayCloneLines(work: BlobStore, metaKey: string | undefined): Promise<boolean> {
  if (!metaKey) return true;
  try {
    const meta = await readJsonObject(work, metaKey, AnyMetaSchema);
    if (meta.cloneLines === false) return false;
    const base = meta.format === ROW_INDEX_LAYERS_FORMAT ? meta.base : meta;
    if (!('linesGeneration' in base) || base.linesGeneration === undefined) return true;
    const lines = await work.stat(rowIndexKeys(base.runId).lines);
    return lines.generation === base.linesGeneration;
  } catch {
    // No index, an unreadable one, or its lines collected: nothing was seen rewritten.
    return true;
  }
}

/** The index a manifest names, when it was made under `key`; null when absent, other, short or unreadable. */
export async function openRowIndex(work: BlobStore, metaKey: string, key: string): Promise<RowIndexView | null> {
  try {
    const meta = await readJsonObject(work, metaKey, AnyMetaSchema);
    if (meta.key !== key) return null;
    const keys = rowIndexKeys(meta.runId);
    if (metaKey !== keys.meta) return null;
    if ((await work.stat(keys.extra)).size !== meta.extraBytes) return null;
    if (meta.format === 1 || meta.format === ROW_INDEX_TABLE_FORMAT) {
      const { runId, header, seed, entries, extraBytes, counts } = meta;
      const base: RowIndexBase =
        meta.format === 1
          ? { runId, entries, binBytes: meta.binBytes }
          : { format: ROW_INDEX_TABLE_FORMAT, runId, entries, tableBytes: meta.tableBytes, linesBytes: meta.linesBytes, ...(meta.linesGeneration ? { linesGeneration: meta.linesGeneration } : {}) };
      if (!(await baseStored(work, base))) return null;
      if (meta.format === 1) {
        for (let r = 0; r < 256; r++) if (meta.ranges[r]! > meta.ranges[r + 1]!) return null;
        if (meta.ranges[256] !== meta.binBytes || meta.ranges[0] !== 0) return null;
      }
      return { runId, key: meta.key, header, seed, entries, extraBytes, counts, base, layers: [], ...cloneLinesOf(meta) };
    }
    if (!(await baseStored(work, meta.base))) return null;
    let entries = meta.base.entries;
    for (const l of meta.layers) {
      const [bin, gone] = await Promise.all([work.stat(rowIndexKeys(l.runId).bin), work.stat(goneKey(l.runId))]);
      if (bin.size !== l.binBytes || gone.size !== GONE_WIDTH * l.gone) return null;
      entries += l.entries - l.gone;
    }
    if (entries !== meta.entries || meta.layers[meta.layers.length - 1]!.runId !== meta.runId) return null;
    const { runId, header, seed, extraBytes, counts, base, layers } = meta;
    return { runId, key: meta.key, header, seed, entries, extraBytes, counts, base, layers, ...cloneLinesOf(meta) };
  } catch {
    return null;
  }
}

/** The base's entries (its table, or a format 1 base's rowindex.bin), in pieces of whole entries (each valid until the next). */
function basePieces(work: BlobStore, view: RowIndexView): AsyncGenerator<Buffer> {
  const keys = rowIndexKeys(view.base.runId);
  if ('format' in view.base) return wholeRecords(work, keys.table, (_buf, n) => n - (n % TABLE_ENTRY), () => new DamagedRowIndex('the last entry is cut short'));
  return wholeRecords(
    work,
    keys.bin,
    (buf, n) => {
      let p = 0;
      if (buf.byteOffset % 4 === 0) {
        // Entries are whole words: each length is one word load (a churn sync steps over every entry).
        const words = new Uint32Array(buf.buffer, buf.byteOffset, n >>> 2);
        while (p + ENTRY_HEAD <= n) {
          const size = entrySize(words[(p + 16) >>> 2]!);
          if (p + size > n) break;
          p += size;
        }
        return p;
      }
      while (p + ENTRY_HEAD <= n) {
        const size = entrySize(buf.readUInt32LE(p + 16));
        if (p + size > n) break;
        p += size;
      }
      return p;
    },
    () => new DamagedRowIndex('the last entry is cut short'),
  );
}

/**
 * What a walk of an index hands its entries to. An object of a class, not callbacks: a walk
 * runs once a sync, and code optimized around one sync's closures was thrown away once they
 * were collected, to be compiled again in the next sync.
 */
export interface EntryVisitor {
  /**
   * One entry, its words at words[w..]: with `inline`, an entry holding its line (a layer's,
   * or a format 1 base's) stored at inline[at..] (ENTRY_HEAD, then the line); without, a table
   * entry (words[w + 4], words[w + 5]: the line's offset and length in the base's lines object).
   */
  entry(words: Uint32Array, w: number, inline: Buffer | null, at: number): void;
  /**
   * A run of a table base's entries at once, words[from, to) (TABLE_WORDS words each, in
   * order, each checked as `walk` checks them): a churn sync steps over a million entries, and
   * a call per entry cost more than the merge's own work on it.
   */
  run(words: Uint32Array, from: number, to: number): void;
}

/**
 * The entries of an index in fingerprint order. The layers are read whole into memory (they
 * are small next to the base: see the compaction rule) and folded into one sorted list of
 * fingerprints with a net count; the base is streamed and merged with it.
 */
export class LayeredIndex {
  private constructor(
    private readonly work: BlobStore,
    readonly view: RowIndexView,
    private readonly changes: NetChanges,
  ) {}

  static async open(work: BlobStore, view: RowIndexView): Promise<LayeredIndex> {
    const layers = new LayerChanges(view);
    // Kept here, not in LayerChanges: a push into a new instance's empty array met another
    // array shape than the last instance's, and the optimized readAdds was thrown away.
    const bufs: Buffer[] = [];
    const words: Uint32Array[] = [];
    for (const [li, l] of view.layers.entries()) {
      const raw = await work.readBuffer(rowIndexKeys(l.runId).bin);
      if (raw.length !== l.binBytes) throw new DamagedRowIndex('a layer changed size');
      const buf = raw.byteOffset % 4 === 0 ? raw : Buffer.from(raw);
      bufs.push(buf);
      words.push(new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2));
      const n = layers.readAdds(buf, words[li]!, li);
      if (n !== l.entries) throw new DamagedRowIndex(`a layer holds ${n} entries, its meta says ${l.entries}`);
      const g = await work.readBuffer(goneKey(l.runId));
      if (g.length !== GONE_WIDTH * l.gone) throw new DamagedRowIndex('a layer changed size');
      layers.readGone(g);
    }
    return new LayeredIndex(work, view, layers.net(bufs, words));
  }

  /**
   * Hands every entry to `visitor` in fingerprint order (the runs of a table base's entries
   * between the layers' changes at once), checking the base's order and counts
   * (DamagedRowIndex otherwise); yields after each piece of the base (for liveness, and so a
   * writer can pass on what it appended).
   */
  async *walk(visitor: EntryVisitor): AsyncGenerator<void> {
    const merge = new BaseMerge(this.changes, this.view.base, visitor);
    for await (const piece of basePieces(this.work, this.view)) {
      merge.piece(piece);
      yield;
    }
    merge.flush(null, 0);
    if (merge.baseEntries !== this.view.base.entries) throw new DamagedRowIndex(`the row index holds ${merge.baseEntries} entries, its meta says ${this.view.base.entries}`);
    if (merge.entries !== this.view.entries) throw new DamagedRowIndex(`the row index's layers give ${merge.entries} entries, its meta says ${this.view.entries}`);
  }
}

/** The layers' changes folded into one list, sorted by fingerprint (LayerChanges.net). */
interface NetChanges {
  /** 4 words per change. */
  fps: Uint32Array;
  /** Per change: how many entries with its fingerprint it adds (> 0) or takes away (< 0). */
  net: Int32Array;
  /** Per added change: its entry's layer (an index into layerBufs) and byte offset there. */
  layer: Int32Array;
  at: Int32Array;
  layerBufs: Buffer[];
  layerWords: Uint32Array[];
}

/**
 * The layers as open() reads them: every layer's entries (each checked against its bytes and
 * order) and gone fingerprints, then folded into net changes. Plain methods of a class at
 * module level: in the async open() the same loops were compiled again every sync.
 */
class LayerChanges {
  private nAdd = 0;
  private nGone = 0;
  private readonly addFp: Uint32Array;
  private readonly addRef: Int32Array;
  private readonly goneFp: Uint32Array;
  private readonly prev = new Uint32Array(4);
  private readonly scratch = new Uint32Array(4);
  private readonly seed: number;
  private readonly mostAdds: number;
  private readonly mostGone: number;

  constructor(view: RowIndexView) {
    this.seed = view.seed;
    this.mostAdds = view.layers.reduce((n, l) => n + l.entries, 0);
    this.mostGone = view.layers.reduce((n, l) => n + l.gone, 0);
    this.addFp = new Uint32Array(4 * this.mostAdds);
    this.addRef = new Int32Array(2 * this.mostAdds);
    this.goneFp = new Uint32Array(4 * this.mostGone);
  }

  /** Checks and gathers the entries of layer `li`'s rowindex.bin (`words` its words); returns how many. */
  readAdds(buf: Buffer, words: Uint32Array, li: number): number {
    const { addFp, addRef, prev, scratch } = this;
    prev.fill(0);
    let n = 0;
    for (let at = 0; at < buf.length; ) {
      if (at + ENTRY_HEAD > buf.length) throw new DamagedRowIndex('an entry is cut short');
      const w = at >>> 2;
      const size = entrySize(words[w + 4]!);
      if (at + size > buf.length) throw new DamagedRowIndex('an entry is cut short');
      if (compareFp(prev, 0, words, w) > 0) throw new DamagedRowIndex('entries out of order');
      if (this.nAdd === this.mostAdds) throw new DamagedRowIndex('a layer holds more entries than its meta says');
      checkEntry(buf, words, w, at, this.seed, scratch);
      const f = 4 * this.nAdd;
      addFp[f] = prev[0] = words[w]!;
      addFp[f + 1] = prev[1] = words[w + 1]!;
      addFp[f + 2] = prev[2] = words[w + 2]!;
      addFp[f + 3] = prev[3] = words[w + 3]!;
      addRef[2 * this.nAdd] = li;
      addRef[2 * this.nAdd + 1] = at;
      this.nAdd++;
      n++;
      at += size;
    }
    return n;
  }

  /** Gathers a layer's rowindex.gone (its size already checked), checking its order. */
  readGone(g: Buffer): void {
    const gw = this.goneFp;
    const o = 4 * this.nGone;
    const n = g.length >>> 4;
    if (this.nGone + n > this.mostGone) throw new DamagedRowIndex('a layer changed size');
    for (let i = 0; i < 4 * n; i++) gw[o + i] = g.readUInt32LE(4 * i);
    for (let i = 1; i < n; i++) if (compareFp(gw, o + 4 * (i - 1), gw, o + 4 * i) > 0) throw new DamagedRowIndex('gone fingerprints out of order');
    this.nGone += n;
  }

  /**
   * The net count per fingerprint, over adds and gone ones together (those that cancel out
   * left out); `layerBufs` and `layerWords` are the layers' rowindex.bin as readAdds read them.
   */
  net(layerBufs: Buffer[], layerWords: Uint32Array[]): NetChanges {
    const { addFp: aw, addRef, goneFp: gw, nAdd, nGone } = this;
    const aOrder = sortFingerprints(aw, 4, nAdd);
    const gOrder = sortFingerprints(gw, 4, nGone);
    const most = nAdd + nGone;
    const fps = new Uint32Array(4 * most);
    const net = new Int32Array(most);
    const layer = new Int32Array(most);
    const atOf = new Int32Array(most);
    let m = 0;
    let i = 0;
    let j = 0;
    while (i < nAdd || j < nGone) {
      const c = i >= nAdd ? 1 : j >= nGone ? -1 : compareFp(aw, 4 * aOrder[i]!, gw, 4 * gOrder[j]!);
      const src = c <= 0 ? aw : gw;
      const at = 4 * (c <= 0 ? aOrder[i]! : gOrder[j]!);
      let k = 0;
      let ref = -1;
      while (i < nAdd && compareFp(aw, 4 * aOrder[i]!, src, at) === 0) {
        ref = aOrder[i++]!;
        k++;
      }
      while (j < nGone && compareFp(gw, 4 * gOrder[j]!, src, at) === 0) {
        j++;
        k--;
      }
      if (k === 0) continue;
      fps[4 * m] = src[at]!;
      fps[4 * m + 1] = src[at + 1]!;
      fps[4 * m + 2] = src[at + 2]!;
      fps[4 * m + 3] = src[at + 3]!;
      net[m] = k;
      layer[m] = k > 0 ? addRef[2 * ref]! : -1;
      atOf[m] = k > 0 ? addRef[2 * ref + 1]! : 0;
      m++;
    }
    return { fps: fps.subarray(0, 4 * m), net: net.subarray(0, m), layer: layer.subarray(0, m), at: atOf.subarray(0, m), layerBufs, layerWords };
  }
}

/**
 * The base's entries merged with the layers' net changes, piece by piece: plain methods, since
 * the same loop in the async generator that reads the pieces ran several times slower (a
 * million entries a churn sync).
 */
class BaseMerge {
  private d = 0;
  private cancelled = 0;
  entries = 0;
  baseEntries = 0;
  private readonly prev = new Uint32Array(4);
  private readonly table: boolean;
  private readonly linesBytes: number;
  private readonly fps: Uint32Array;
  private readonly net: Int32Array;

  constructor(
    private readonly changes: NetChanges,
    base: RowIndexBase,
    private readonly visitor: EntryVisitor,
  ) {
    this.fps = changes.fps;
    this.net = changes.net;
    this.table = 'format' in base;
    this.linesBytes = 'format' in base ? base.linesBytes : 0;
  }

  /** The changes before the entry at words[w] (all of them when words is null). */
  flush(words: Uint32Array | null, w: number): void {
    const { fps, net, visitor } = this;
    while (this.d < net.length && (words === null || compareFp(fps, 4 * this.d, words, w) < 0)) {
      const d = this.d;
      const k = net[d]!;
      if (k < 0 && this.cancelled !== -k) throw new DamagedRowIndex('a layer names a line gone that the index does not hold');
      if (k > 0) {
        const { layer, at, layerBufs, layerWords } = this.changes;
        const li = layer[d]!;
        for (let x = 0; x < k; x++) {
          visitor.entry(layerWords[li]!, at[d]! >>> 2, layerBufs[li]!, at[d]!);
          this.entries++;
        }
      }
      this.d++;
      this.cancelled = 0;
    }
  }

  /** A piece of the base: a table base's (tableEntries), or a format 1 base's, whose entries hold their lines. */
  piece(piece: Buffer): void {
    const { net, visitor, prev, table } = this;
    const m = net.length;
    const words = new Uint32Array(piece.buffer, piece.byteOffset, piece.length >>> 2);
    if (table) {
      this.tableEntries(words);
      return;
    }
    let entries = 0;
    for (let at = 0; at < piece.length; ) {
      const w = at >>> 2;
      const size = entrySize(words[w + 4]!);
      if (compareFp(prev, 0, words, w) > 0) throw new DamagedRowIndex('entries out of order');
      prev[0] = words[w]!;
      prev[1] = words[w + 1]!;
      prev[2] = words[w + 2]!;
      prev[3] = words[w + 3]!;
      entries++;
      if (m > 0 && this.takesChange(words, w)) {
        at += size;
        continue;
      }
      visitor.entry(words, w, piece, at);
      this.entries++;
      at += size;
    }
    this.baseEntries += entries;
  }

  /**
   * Emits the changes before the entry at words[w] and says whether a gone fingerprint takes
   * the entry (then it is not visited).
   */
  private takesChange(words: Uint32Array, w: number): boolean {
    const { fps, net } = this;
    this.flush(words, w);
    const d = this.d;
    if (d < net.length && net[d]! < 0 && this.cancelled < -net[d]! && compareFp(fps, 4 * d, words, w) === 0) {
      this.cancelled++;
      return true;
    }
    return false;
  }

  /**
   * A piece of a table base: the runs of entries between the layers' changes go to tableRun
   * at once (with 1% churn layers, runs of tens of entries); the entry at each change, one by one.
   */
  private tableEntries(words: Uint32Array): void {
    const { fps, net, visitor, prev, linesBytes } = this;
    const m = net.length;
    const n = words.length;
    let w = 0;
    while (w < n) {
      let end = n;
      const d = this.d;
      if (d < m) {
        // The first entry not before the next change.
        const f = 4 * d;
        const f0 = fps[f]!;
        let e = w;
        for (; e < n; e += TABLE_WORDS) {
          const a = words[e]!;
          if (a > f0 || (a === f0 && compareFp(words, e, fps, f) >= 0)) break;
        }
        end = e;
      }
      if (end > w) {
        this.tableRun(words, w, end);
        w = end;
        if (w >= n) break;
      }
      if (compareFp(prev, 0, words, w) > 0) throw new DamagedRowIndex('entries out of order');
      if (words[w + 4]! + words[w + 5]! >= linesBytes) throw new DamagedRowIndex('an entry points past its lines');
      prev[0] = words[w]!;
      prev[1] = words[w + 1]!;
      prev[2] = words[w + 2]!;
      prev[3] = words[w + 3]!;
      this.baseEntries++;
      if (!this.takesChange(words, w)) {
        visitor.entry(words, w, null, 4 * w);
        this.entries++;
      }
      w += TABLE_WORDS;
    }
  }

  /** Table entries words[from, to), none of them at a change: one loop with no branch on the form. */
  private tableRun(words: Uint32Array, from: number, n: number): void {
    const { prev, linesBytes } = this;
    if (n === from) return;
    if (compareFp(prev, 0, words, from) > 0) throw new DamagedRowIndex('entries out of order');
    // The first words decide the order of nearly every pair of entries: the whole fingerprints
    // are compared only where they are equal.
    // (One loop: this runs a few times a sync, optimized on the stack, and a second loop would
    // meet code without type feedback there.)
    for (let w = from; w < n; w += TABLE_WORDS) {
      if (w > from) {
        const a = words[w - TABLE_WORDS]!;
        const b = words[w]!;
        if (a > b || (a === b && compareFp(words, w - TABLE_WORDS, words, w) > 0)) throw new DamagedRowIndex('entries out of order');
      }
      if (words[w + 4]! + words[w + 5]! >= linesBytes) throw new DamagedRowIndex('an entry points past its lines');
    }
    this.visitor.run(words, from, n);
    const last = n - TABLE_WORDS;
    prev[0] = words[last]!;
    prev[1] = words[last + 1]!;
    prev[2] = words[last + 2]!;
    prev[3] = words[last + 3]!;
    this.entries += (n - from) / TABLE_WORDS;
    this.baseEntries += (n - from) / TABLE_WORDS;
  }
}

