import { Readable } from 'node:stream';
import type { IdentifierType } from '../identifiers/schema';
import { SnapshotReader, rejectsToCsv, type RejectRecord, type RejectValueMode, type SnapshotCounts, type SnapshotPosition, type SnapshotReadOptions } from '../snapshot';
import { readJsonObject, type BlobStore } from '../storage';
import { layout, type InputSet } from './layout';
import { SpillPartSchema, type SpillPart } from './schemas';
import { ShardBuffer } from './shards';
import { ownChunks, pieces } from './reusedReads';
import { DEFAULT_ROW_INDEX_MEMORY } from './rowIndex';

export interface PrepareTuning {
  /**
   * Digest bytes buffered before a spill (a checkpoint). Bounds prepare's memory: twice
   * this at most, while one checkpoint's spill is stored and the next fills.
   */
  maxBufferBytes: number;
  /** Reject CSV bytes buffered before a checkpoint. */
  maxRejectBytes: number;
  /** A checkpoint at least this often while data flows, so a crash loses little work. */
  checkpointIntervalMs: number;
  /** SnapshotReader piece size (tests use small pieces to get many batches). */
  readerPieceBytes?: number;
  /** Bytes a delta prepare reads of the snapshot at a time (1 MiB; tests use a few, to put lines across reads). */
  snapshotPieceBytes?: number;
  /**
   * Largest CSV snapshot (bytes) that gets a row index (rowIndex.ts; 0: none): building one
   * stores a copy of the snapshot, and its offsets are 32-bit (so 4 GiB at most).
   */
  rowIndexMaxBytes: number;
  /**
   * Bytes of table entries (28 a line) a row index build holds in memory; past them it
   * stores them in a spill and reads them back when it writes the index.
   */
  rowIndexMemoryBytes: number;
  /**
   * A delta sync writes a new whole row index (a compaction) instead of a layer once the
   * layers' bytes would pass this fraction of the base's (rowIndexLayers.ts): reads of the
   * index stay within 1 + this of its size. 0: a whole index every time.
   */
  rowIndexCompactAt: number;
}

export const DEFAULT_PREPARE_TUNING: PrepareTuning = {
  maxBufferBytes: 64 << 20,
  maxRejectBytes: 8 << 20,
  checkpointIntervalMs: 60_000,
  rowIndexMaxBytes: 2 ** 32 - 1,
  rowIndexMemoryBytes: DEFAULT_ROW_INDEX_MEMORY,
  rowIndexCompactAt: 0.25,
};

/**
 * Where prepare of one input stands: all data before `position` is in spill parts
 * 0..parts-1 and reject parts `rejectParts`. Heartbeated; holds counts and offsets only.
 */
export interface SetCheckpoint {
  set: InputSet;
  /** The input object's generation: a resume on a changed object starts over. */
  generation: string;
  position: SnapshotPosition | null;
  /** Checkpoints taken: the next one writes parts numbered `seq`. */
  seq: number;
  spillParts: number[];
  rejectParts: number[];
  counts: SnapshotCounts;
}

export interface SetResult {
  set: InputSet;
  counts: SnapshotCounts;
  rejects: number;
  rejectsUri: string;
  parts: SpillPart[];
  bytes: number;
  createdAt: string;
  generation: string;
  /** The final checkpoint: resuming from it re-lists the parts without reading the input again. */
  checkpoint: SetCheckpoint;
}

export interface PrepareSource {
  store: BlobStore;
  key: string;
  /** Explicit creation time (ISO); the object's storage creation time otherwise. */
  createdAt?: string;
}

export interface PrepareHooks {
  /** Persist the checkpoint (heartbeat) and throw if the activity was cancelled. */
  checkpoint(cp: SetCheckpoint): Promise<void>;
  /** Liveness between checkpoints (heartbeat the last checkpoint again). */
  tick?(): void;
  now?: () => number;
}

/**
 * Streams one input object through the SnapshotReader into spill parts: the accepted
 * digests of one checkpoint go to one object laid out shard-major (so a diff of a shard
 * reads one byte range a part), and its rejects to one CSV part. Parts are named by the
 * checkpoint sequence, so a resumed run rewrites exactly the parts written after its last
 * checkpoint and never counts a part twice.
 */
export async function prepareSet(
  work: BlobStore,
  runId: string,
  set: InputSet,
  source: PrepareSource,
  read: SnapshotReadOptions,
  types: readonly IdentifierType[],
  tuning: PrepareTuning,
  hooks: PrepareHooks,
  resume?: SetCheckpoint,
  /** What the rejects file keeps of each value (the destination's rejects.values). */
  rejectValues: RejectValueMode = 'raw',
  /** Sees the object's raw bytes and the rejects as they are read (the row index builder, rowIndex.ts). */
  tap?: PrepareTap,
): Promise<SetResult> {
  const info = await source.store.stat(source.key);
  const now = hooks.now ?? Date.now;
  let cp: SetCheckpoint =
    resume && resume.set === set && resume.generation === info.generation
      ? structuredClone(resume)
      : { set, generation: info.generation, position: null, seq: 0, spillParts: [], rejectParts: [], counts: { rows: 0, rowsRejected: {}, types: {} } };
  const base = structuredClone(cp.counts);
  const typeIndex = new Map(types.map((t, i) => [t, i]));
  const buffer = new ShardBuffer(types.length, 'records');
  let rejectChunks: string[] = [];
  let rejectBytes = 0;
  let lastCheckpoint = now();

  const reader = new SnapshotReader(
    source.store.uriOf(source.key),
    read,
    cp.position ?? undefined,
    {
      ...(tuning.readerPieceBytes ? { maxPieceBytes: tuning.readerPieceBytes } : {}),
      // Spill parts hold raw digests: the kernel writes them so (no hex to decode here).
      rawDigests: true,
    },
  );
  // A range starting at the end is unsatisfiable on GCS (416): a run resumed after its last
  // checkpoint has nothing left to read.
  const atEnd = cp.position !== null && cp.position.byteOffset >= info.size;
  // The reader keeps nothing of a chunk once it asks for the next, so one recycled buffer
  // does (reusedReads.ts) unless the tap keeps chunks: a buffer per chunk is an allocation
  // per MiB read, and fresh memory wherever the allocator has given the last one back.
  const start = cp.position?.byteOffset ?? 0;
  const input: AsyncGenerator<Buffer> = atEnd ? noBytes() : tap?.keepsChunks ? ownChunks(source.store, source.key, start) : pieces(source.store, source.key, undefined, start);
  let last: SnapshotPosition | null = cp.position;

  // A checkpoint's parts are stored while the reader goes on (waiting for a 64 MiB spill
  // and its fsync held the reader for about a fifth of prepare's wall time): `storing` is
  // the last checkpoint's writes and heartbeat, `cp` moves only once they are done, and at
  // most one is in flight. `ahead` is what the checkpoints taken so far will have stored.
  let storing: Promise<void> = Promise.resolve();
  let ahead = { seq: cp.seq, spillParts: cp.spillParts, rejectParts: cp.rejectParts };
  const checkpoint = async (position: SnapshotPosition): Promise<void> => {
    await storing;
    const seq = ahead.seq;
    const part = buffer.take();
    const rejects = rejectChunks;
    rejectChunks = [];
    rejectBytes = 0;
    const spillParts = part.ids > 0 ? [...ahead.spillParts, seq] : ahead.spillParts;
    const rejectParts = rejects.length ? [...ahead.rejectParts, seq] : ahead.rejectParts;
    ahead = { seq: seq + 1, spillParts, rejectParts };
    const next: SetCheckpoint = { set, generation: cp.generation, position, seq: seq + 1, spillParts, rejectParts, counts: merged(base, reader.counts) };
    lastCheckpoint = now();
    storing = (async () => {
      if (part.ids > 0) {
        const key = layout.spillLines(runId, set, seq);
        // Working data: nobody reads its MD5 (the local store then skips hashing it).
        await work.write(key, Readable.from(part.chunks), { md5: false });
        buffer.recycle(part);
        const index: SpillPart = { key, ids: part.ids, offsets: part.offsets, format: 'records' };
        await work.write(layout.spillIndex(runId, set, seq), JSON.stringify(index));
      }
      if (rejects.length) await work.write(layout.rejectsPart(runId, set, seq), rejects.join(''));
      cp = next;
      await hooks.checkpoint(cp);
    })();
    // Its failure surfaces at the next await of `storing`, not as an unhandled rejection.
    storing.catch(() => undefined);
  };

  try {
    for await (const batch of reader.read(tap && !atEnd ? tapped(input, tap) : input)) {
      if (tap && batch.rejects.length) tap.rejects(batch.rejects);
      last = batch.position;
      for (const d of batch.digests) {
        const t = typeIndex.get(d.type)!;
        buffer.add(t, d.digests);
      }
      if (batch.rejects.length) {
        const csv = rejectsToCsv(batch.rejects, false, rejectValues);
        rejectChunks.push(csv);
        rejectBytes += csv.length;
      }
      if (buffer.bytes >= tuning.maxBufferBytes || rejectBytes >= tuning.maxRejectBytes || now() - lastCheckpoint >= tuning.checkpointIntervalMs)
        await checkpoint(batch.position);
      else hooks.tick?.();
    }
  } catch (err) {
    await storing.catch(() => undefined);
    throw err;
  } finally {
    // An input left early (a failure) closes its file or stream.
    await input.return(undefined).catch(() => undefined);
  }
  // The reader's last batch already ended at the end of the object.
  if (!last) throw new RangeError('the snapshot reader yielded no batch');
  await checkpoint(last);
  await storing;

  const parts: SpillPart[] = [];
  for (const seq of cp.spillParts) {
    parts.push(await readJsonObject(work, layout.spillIndex(runId, set, seq), SpillPartSchema));
  }
  const rejectsKey = layout.rejects(runId, set);
  const rejectParts = cp.rejectParts;
  await work.write(
    rejectsKey,
    (async function* () {
      yield Buffer.from(rejectsToCsv([], true));
      for (const seq of rejectParts) {
        const part = await work.readBuffer(layout.rejectsPart(runId, set, seq));
        yield part;
      }
    })(),
    { contentType: 'text/csv' },
  );
  return {
    set,
    counts: cp.counts,
    rejects: totalRejects(cp.counts),
    rejectsUri: work.uriOf(rejectsKey),
    parts,
    bytes: info.size,
    createdAt: source.createdAt ?? info.created.toISOString(),
    generation: info.generation,
    checkpoint: cp,
  };
}

/** Rejected values and rows: one line each in the rejects file. */
export function totalRejects(c: SnapshotCounts): number {
  let n = 0;
  for (const v of Object.values(c.rowsRejected)) n += v ?? 0;
  for (const t of Object.values(c.types)) for (const v of Object.values(t?.rejected ?? {})) n += v ?? 0;
  return n;
}

/** Counts saved at the checkpoint plus what this attempt's reader counted since (rows are absolute). */
export function merged(base: SnapshotCounts, since: SnapshotCounts): SnapshotCounts {
  const out: SnapshotCounts = structuredClone(base);
  out.rows = since.rows;
  for (const [r, n] of Object.entries(since.rowsRejected)) {
    const k = r as keyof SnapshotCounts['rowsRejected'];
    out.rowsRejected[k] = (out.rowsRejected[k] ?? 0) + (n ?? 0);
  }
  for (const [type, c] of Object.entries(since.types)) {
    if (!c) continue;
    const t = (out.types[type as IdentifierType] ??= { accepted: 0, prehashed: 0, empty: 0, rejected: {} });
    t.accepted += c.accepted;
    t.prehashed += c.prehashed;
    t.empty += c.empty;
    for (const [r, n] of Object.entries(c.rejected)) {
      const k = r as keyof typeof t.rejected;
      t.rejected[k] = (t.rejected[k] ?? 0) + (n ?? 0);
    }
  }
  return out;
}

/** What a whole read of an object shows a tap: its bytes in order, then the rejects of each batch. */
export interface PrepareTap {
  /**
   * The next chunk; a promise: the read waits for it before going on. The chunk's memory is
   * reused for the next one unless `keepsChunks`.
   */
  push(chunk: Buffer): Promise<void> | undefined;
  /** push() holds chunks past its call (a copy being stored): each must be memory of its own. */
  readonly keepsChunks?: boolean;
  rejects(records: readonly RejectRecord[]): void;
}

async function* tapped(input: AsyncIterable<Buffer>, tap: PrepareTap): AsyncGenerator<Buffer> {
  for await (const b of input) {
    const wait = tap.push(b);
    if (wait) await wait;
    yield b;
  }
}

async function* noBytes(): AsyncGenerator<Buffer> {
  // An input with nothing left to read.
}
