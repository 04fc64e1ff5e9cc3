import { createHash } from 'node:crypto';
import { isStorageError, type BlobStore, type PreparedWrite, type WriteResult } from '../storage';
import { anonymizerFor, type AnonymizeCounts, type Anonymizer } from './anonymize';
import { isDone, OBJECT_STATE_VERSION, ObjectStates, policyDigest, readObjectState, writeObjectState, type ObjectState } from './audit';
import type { DatasetConfig } from './config';
import { RetentionError, RetentionFailureType } from './failures';
import type { ObjectResult, RetentionPlan } from './messages';
import { rowPolicyOf, type RowPolicy } from './rowPolicy';
import { addDays, cutoffDate, dateToMs, partitionDateOf } from './window';

/*
 * The storage side of the policy: which partition objects are due, and one object's new
 * version written, checked, put in place and recorded.
 */

export interface RetentionStores {
  records: BlobStore;
  audit: BlobStore;
}

export interface ObjectJobHooks {
  /** Called about every second of streaming (activities heartbeat here). */
  progress?(p: { key: string; bytes: number; rows: number }): void;
  now?(): Date;
  /** Bytes read per step (tests make it small, so records cross pieces). */
  pieceBytes?: number;
  /** processBatch: prepared bytes that end a round (tests make it small). */
  preparedBytes?: number;
}

const PROGRESS_EVERY_MS = 1000;
/** Reads land in a buffer of this size: few, large steps through the anonymizer, the hashes and the write. */
const PIECE_BYTES = 1 << 20;
/**
 * A batch publishes what it prepared once this many new bytes wait (two more progress writes
 * per round): the disk a batch holds beside its objects is bounded, whatever their size.
 */
const PREPARED_BYTES = 1 << 30;
/** Room for rewritten rows that grow (the anonymizer grows its output buffer beyond it). */
const OUTPUT_SLACK = 4096;

/** The cutoff per network, and how far partitions are scanned, for as-of day `asOf`. */
export function cutoffsOf(config: DatasetConfig, asOf: string): { cutoffs: Record<string, string>; scanUpTo: string } {
  const cutoffs: Record<string, string> = {};
  for (const n of config.tiktokNetworks) cutoffs[n] = cutoffDate(config.windowMonthsByNetwork[n] ?? config.windowMonths, asOf);
  const latest = Object.values(cutoffs).sort().at(-1)!;
  return { cutoffs, scanUpTo: addDays(latest, config.slackDays) };
}

/**
 * The objects to stream on `asOf`: every object of a partition dated up to the latest cutoff
 * plus the slack, unless its progress record says it is done for that day (same generation,
 * same policy, no kept TikTok row due). Also what the next day will add, for the status.
 */
export async function planRetention(stores: RetentionStores, config: DatasetConfig, asOf: string): Promise<RetentionPlan> {
  const { cutoffs, scanUpTo } = cutoffsOf(config, asOf);
  const tomorrow = addDays(asOf, 1);
  const next = cutoffsOf(config, tomorrow).scanUpTo;
  const asOfMs = dateToMs(asOf)!;
  const policy = policyDigest(config);
  const due: RetentionPlan['due'] = [];
  const nextDue = new Set<string>();
  let skipped = 0;
  const states = new ObjectStates(stores.audit, config.datasetId);
  await states.listObjectRecords();
  for await (const info of stores.records.list('')) {
    const partition = partitionDateOf(info.key);
    if (!partition || partition > next) continue;
    const state = await states.get(info.key);
    if (partition <= scanUpTo) {
      if (isDone(state, info.generation, policy, asOfMs)) skipped++;
      else {
        due.push({ key: info.key, partition });
        continue;
      }
    }
    if (!isDone(state, info.generation, policy, asOfMs + 86_400_000)) nextDue.add(partition);
  }
  return { asOf, cutoffs, scanUpTo, due, skipped, nextDue: [...nextDue].sort() };
}

/**
 * Buffers of finished passes, for the next ones: a fresh megabyte per object counts as
 * external memory, and V8 answers every ~64 MiB of it with a full GC, which on a worker's
 * heap costs more than the bytes. Passes may run side by side (concurrent activities):
 * each takes its own, and a few are kept.
 */
const pool: Buffer[] = [];
const POOL_KEEP = 4;

function takeBuffer(size: number): Buffer {
  const i = pool.findIndex((b) => b.length >= size);
  return i === -1 ? Buffer.allocUnsafe(size) : pool.splice(i, 1)[0]!;
}

function giveBuffer(buf: Buffer | null): void {
  if (buf && pool.length < POOL_KEEP) pool.push(buf);
}

/** Fills a buffer from `offset` on; 0 at the end. */
type Fill = (into: Buffer, offset: number) => Promise<number>;

/**
 * The object's bytes as a Fill into the pass's own buffer: through the store's reader when it
 * has one (no buffer per read), else copied out of its read stream.
 */
async function openFill(store: BlobStore, key: string): Promise<{ fill: Fill; close(): Promise<void> }> {
  if (store.openReader) {
    const reader = await store.openReader(key);
    return { fill: (into, offset) => reader.read(into, offset), close: () => reader.close() };
  }
  const stream = await store.openRead(key);
  const it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let rest: Buffer | null = null;
  return {
    async fill(into, offset) {
      let at = offset;
      while (at < into.length) {
        if (!rest?.length) {
          const next = await it.next();
          if (next.done) break;
          rest = next.value;
        }
        const n = Math.min(rest.length, into.length - at);
        rest.copy(into, at, 0, n);
        rest = rest.subarray(n);
        at += n;
      }
      return at - offset;
    },
    async close() {
      stream.destroy();
    },
  };
}

function throttle(fn: () => void): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last >= PROGRESS_EVERY_MS) {
      last = now;
      fn();
    }
  };
}

async function sha256Of(store: BlobStore, key: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of (await store.openRead(key)) as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

/** Why a replace stopped on purpose: nothing in the object had to change. */
class NothingToReplace extends Error {}

/**
 * One pass over an object: the old bytes hashed as they are read, anonymized, the new bytes
 * hashed and counted again (a second anonymizer reads the output as a reader would) as they
 * go out. `gate` runs after the last byte went out and before the stream ends, so a store
 * that publishes only on the end (BlobStore.writeIfGeneration) publishes only what it let through.
 * One input buffer and one output buffer serve the whole object: the reads land after the
 * unfinished record of the last piece, and each output is written before the next piece is
 * read over it (the write is told so: WriteOptions.reusesChunks).
 */
class ObjectPass {
  readonly inHash = createHash('sha256');
  readonly outHash = createHash('sha256');
  readonly anonymizer: Anonymizer;
  /** The output read back through the same rules, on the way out: what the count check compares. */
  readonly check: Anonymizer | null;
  bytesIn = 0;
  bytesOut = 0;
  private input: Buffer | null = null;
  private closed = false;

  constructor(
    private readonly source: { fill: Fill; close(): Promise<void> },
    make: () => Anonymizer,
    withCheck: boolean,
    private readonly tick: () => void,
    private readonly pieceBytes: number,
  ) {
    this.anonymizer = make();
    this.anonymizer.recycleOutput(takeBuffer(pieceBytes + OUTPUT_SLACK));
    this.check = withCheck ? make() : null;
  }

  /** Hands the pass's buffers to the next pass: only once the write that took its output is over. */
  async release(): Promise<void> {
    // A write that failed before pulling the stream never ran its end.
    if (!this.closed) await this.close();
    giveBuffer(this.input);
    giveBuffer(this.anonymizer.outputBuffer);
    this.input = null;
  }

  private async close(): Promise<void> {
    this.closed = true;
    await this.source.close();
  }

  private emit(out: Buffer): Buffer {
    this.outHash.update(out);
    this.bytesOut += out.length;
    this.check?.push(out);
    return out;
  }

  async *run(gate: () => Promise<void> = async () => undefined): AsyncGenerator<Buffer> {
    let buf = (this.input = takeBuffer(this.pieceBytes)).subarray(0, this.pieceBytes);
    // Bytes at the start of buf that the anonymizer has not taken: an unfinished record.
    let held = 0;
    try {
      for (;;) {
        if (held === buf.length) {
          // One record longer than the buffer: room for it.
          const grown = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(grown, 0, 0, held);
          buf = this.input = grown;
        }
        const n = await this.source.fill(buf, held);
        if (n === 0) break;
        this.inHash.update(buf.subarray(held, held + n));
        this.bytesIn += n;
        const end = held + n;
        const { out, consumed } = this.anonymizer.pushWhole(buf.subarray(0, end));
        this.tick();
        if (out.length) yield this.emit(out);
        if (consumed > 0 && consumed < end) buf.copyWithin(0, consumed, end);
        held = end - consumed;
      }
    } finally {
      await this.close();
    }
    const last = this.anonymizer.finish(buf.subarray(0, held));
    if (last.length) this.emit(last);
    this.check?.end();
    await gate();
    if (last.length) yield last;
  }
}

export interface ProcessObjectInput {
  config: DatasetConfig;
  key: string;
  asOf: string;
  dryRun: boolean;
  /** The workflow run, recorded in the progress record. */
  runId: string;
}

/** How an object's progress is read and recorded: per object (processObject) or per batch (processBatch). */
interface Progress {
  /** `fresh`: read from the store again, not from what this batch read before. */
  prior(key: string, fresh?: boolean): Promise<ObjectState | null>;
  /** Records `state` durably before it returns. */
  record(state: ObjectState): Promise<void>;
}

/** What one object's scan came to: a result (with a state still to record), or new bytes prepared and not yet visible. */
type Scanned =
  | { kind: 'result'; result: ObjectResult; record?: ObjectState }
  | { kind: 'prepared'; write: PreparedWrite; staged: ObjectState; bytesOut: number; partition: string };

/**
 * One partition object, in one streaming pass straight into a compare-and-swap on the
 * generation that was read: the old bytes hashed as they are read, the new ones hashed and
 * counted as they go out. Before the write's source ends (so before anything is visible)
 * the counts are checked (rows in = rows out, no TikTok row past the window left, the kept
 * TikTok and unreadable rows unchanged) and the object is recorded as `staged` with both
 * digests; then the store publishes, and the record says `replaced`. The store's own
 * temporary file (locally) or unfinished upload (GCS) is the staged copy: a run that dies
 * before the publish leaves the old version and is redone, one that dies after it finds the
 * new digest in place and records it.
 */
export async function processObject(stores: RetentionStores, input: ProcessObjectInput, hooks: ObjectJobHooks = {}): Promise<ObjectResult> {
  const ds = input.config.datasetId;
  const progress: Progress = {
    prior: (key) => readObjectState(stores.audit, ds, key),
    record: (state) => writeObjectState(stores.audit, ds, state),
  };
  const scanned = await scanObject(stores, input, progress, hooks, false);
  if (scanned.kind === 'prepared') throw new Error('unreachable: processObject publishes as it writes');
  if (scanned.record) await recordDone(stores, progress, scanned.record);
  return scanned.result;
}

export interface ProcessBatchInput {
  config: DatasetConfig;
  /** The objects of the batch (process them in this order). */
  keys: string[];
  asOf: string;
  dryRun: boolean;
  runId: string;
}

/**
 * Several partition objects with two durable progress writes in all, not two per object:
 * each object is streamed, checked and prepared (its new bytes durable in the store's
 * temporary file, nothing visible), then ONE write records every prepared object `staged`
 * (old generation, old and new SHA-256) in its month record, then each is published by its
 * compare-and-swap, then ONE write records them `replaced`. A crash anywhere leaves each
 * object old or new, never a mix: before the staged write nothing was published; after it,
 * each object resumes on its own from its entry, as after processObject's staged record
 * (new digest in place → recorded, anything else → read again). Once the prepared bytes
 * reach a bound (1 GiB) the batch publishes them in a round of its own and goes on, so the
 * disk it holds beside the objects stays bounded. A store without prepared writes (GCS)
 * gets the per-object protocol (processObject), object by object.
 */
export async function processBatch(stores: RetentionStores, input: ProcessBatchInput, hooks: ObjectJobHooks = {}): Promise<ObjectResult[]> {
  const { keys, ...rest } = input;
  if (input.dryRun || !stores.records.prepareIfGeneration) {
    const out: ObjectResult[] = [];
    for (const key of keys) out.push(await processObject(stores, { ...rest, key }, hooks));
    return out;
  }
  const states = new ObjectStates(stores.audit, input.config.datasetId);
  await states.noteObjectRecords();
  const now = hooks.now ?? (() => new Date());
  const limit = hooks.preparedBytes ?? PREPARED_BYTES;
  const doneLater: ObjectState[] = [];
  const progress: Progress = { prior: (key, fresh) => states.get(key, fresh), record: async (s) => void doneLater.push(s) };
  const results: ObjectResult[] = [];
  let prepared: { i: number; write: PreparedWrite; staged: ObjectState; bytesOut: number; partition: string }[] = [];
  let preparedBytes = 0;

  /** One round: the prepared objects recorded staged, published, then recorded done with what else finished. */
  const publish = async (): Promise<void> => {
    const round = prepared;
    prepared = [];
    preparedBytes = 0;
    try {
      // Before any publish: every prepared object named with its old generation and both digests.
      if (round.length) await states.put(round.map((p) => p.staged));
    } catch (err) {
      for (const p of round) await p.write.abort();
      throw err;
    }
    let failure: unknown;
    for (const p of round) {
      if (failure !== undefined) {
        // Left staged: its old version is in place, and the next attempt reads it again.
        await p.write.abort();
        continue;
      }
      try {
        const written = await p.write.commit();
        if (written.size !== p.bytesOut) throw new RetentionError(RetentionFailureType.CountMismatch, `${stores.records.uriOf(p.staged.key)}: ${written.size} bytes were stored of the ${p.bytesOut} checked`);
        const done = replacedState(p.staged, written.generation, now);
        doneLater.push(done);
        results[p.i] = resultOf(done, p.partition, 'anonymized');
      } catch (err) {
        try {
          if (!isStorageError(err, 'precondition_failed')) throw err;
          const done = await landedOrChanged(stores, p.staged, p.staged.key, now);
          doneLater.push(done);
          results[p.i] = resultOf(done, p.partition, 'anonymized');
        } catch (e) {
          failure = e;
        }
      }
    }
    // After the publishes: what finished, in one write (those that failed stay staged).
    const finished = doneLater.splice(0);
    if (finished.length) {
      await states.put(finished);
      for (const s of finished) if (s.stagedKey) await stores.audit.delete(s.stagedKey, { ignoreNotFound: true });
    }
    if (failure !== undefined) throw failure;
  };

  try {
    for (const key of keys) {
      const scanned = await scanObject(stores, { ...rest, key }, progress, hooks, true);
      if (scanned.kind === 'result') {
        if (scanned.record) doneLater.push(scanned.record);
        results.push(scanned.result);
        continue;
      }
      prepared.push({ ...scanned, i: results.length });
      results.push(resultOf(scanned.staged, scanned.partition, 'anonymized'));
      // Prepared copies take disk beside the objects until published: a round is bounded in bytes.
      preparedBytes += scanned.bytesOut;
      if (preparedBytes >= limit) await publish();
    }
  } catch (err) {
    for (const p of prepared) await p.write.abort();
    throw err;
  }
  await publish();
  return results;
}

/**
 * A batch's objects share one config and as-of date: their row policy (and the anonymizer
 * tables made from it, cached per policy) is made once, not per object.
 */
const rowPolicies = new WeakMap<DatasetConfig, Map<string, RowPolicy>>();
function cachedRowPolicy(config: DatasetConfig, asOf: string): RowPolicy {
  let byAsOf = rowPolicies.get(config);
  if (!byAsOf) rowPolicies.set(config, (byAsOf = new Map()));
  let policy = byAsOf.get(asOf);
  if (!policy) byAsOf.set(asOf, (policy = rowPolicyOf(config, asOf)));
  return policy;
}

/**
 * One object up to its new version: published as it is written and recorded (`prepare`
 * false: the staged record is written by the gate, before the write's source ends), or only
 * prepared (`prepare` true: the caller records it staged, with others, then publishes).
 */
async function scanObject(stores: RetentionStores, input: ProcessObjectInput, progress: Progress, hooks: ObjectJobHooks, prepare: boolean): Promise<Scanned> {
  const { config, key, asOf, dryRun, runId } = input;
  const now = hooks.now ?? (() => new Date());
  const policy = policyDigest(config);
  const partition = partitionDateOf(key) ?? '';
  const recordsUri = stores.records.uriOf(key);
  let info = await stores.records.stat(key).catch((err: unknown) => {
    if (isStorageError(err, 'not_found')) throw new RetentionError(RetentionFailureType.ObjectChanged, `${recordsUri} is gone since the run listed it`);
    throw err;
  });
  const prior = await progress.prior(key);

  // A retry within this run after an attempt that put the new version in place and recorded
  // it (its worker died before the activity completed): that record stands. A second scan
  // would find nothing to anonymize and record the object clean, and the audit would lose the
  // rows this run anonymized.
  if (!dryRun && prior?.phase === 'replaced' && prior.runId === runId && prior.generation === info.generation) return { kind: 'result', result: resultOf(prior, partition, 'anonymized') };

  if (!dryRun && prior?.phase === 'staged') {
    const resumed = await resume(stores, prior, info.generation, key, now);
    if (resumed) return { kind: 'result', result: resultOf(resumed, partition, 'resumed'), record: resumed };
    info = await stores.records.stat(key);
  }

  const rowPolicy = cachedRowPolicy(config, asOf);
  const make = (): Anonymizer => anonymizerFor(config.records.format, rowPolicy, config.records.delimiter, recordsUri);
  let pass: ObjectPass | undefined = undefined;
  const report = throttle(() => pass && hooks.progress?.({ key, bytes: pass.bytesIn, rows: pass.anonymizer.counts.rowsSeen }));
  pass = new ObjectPass(await openFill(stores.records, key), make, !dryRun, report, hooks.pieceBytes ?? PIECE_BYTES);
  const c = pass.anonymizer.counts;

  if (dryRun) {
    try {
      for await (const _ of pass.run()) void _;
    } finally {
      await pass.release();
    }
    const sha = pass.inHash.digest('hex');
    return {
      kind: 'result',
      result: {
        key,
        partition,
        outcome: c.rowsAnonymized > 0 ? 'would_anonymize' : 'clean',
        ...countsOf(c),
        oldSha256: sha,
        newSha256: c.rowsAnonymized > 0 ? pass.outHash.digest('hex') : sha,
        oldGeneration: info.generation,
        newGeneration: info.generation,
        nextDueAt: c.nextDueMs === null ? null : new Date(c.nextDueMs).toISOString(),
      },
    };
  }

  const base = (): Omit<ObjectState, 'phase' | 'generation' | 'sha256' | 'updatedAt'> => ({
    version: OBJECT_STATE_VERSION,
    key,
    policy,
    counts: countsOf(c),
    nextDueAt: c.nextDueMs === null ? null : new Date(c.nextDueMs).toISOString(),
    unreadableSamples: c.unreadableSamples,
    absentColumns: c.absentColumns,
    asOf,
    runId,
  });
  let staged: ObjectState | undefined;
  let oldSha = '';
  const p = pass;
  const gate = async (): Promise<void> => {
    oldSha = p.inHash.digest('hex');
    const problems = countProblems(c, p.check!.counts);
    if (problems.length) throw new RetentionError(RetentionFailureType.CountMismatch, `${recordsUri}: the new version failed its count check, nothing was replaced: ${problems.join('; ')}`);
    if (c.rowsAnonymized === 0) throw new NothingToReplace();
    const newSha = p.outHash.digest('hex');
    staged = { ...base(), phase: 'staged', generation: info.generation, sha256: oldSha, oldGeneration: info.generation, oldSha256: oldSha, newSha256: newSha, updatedAt: now().toISOString() };
    if (!prepare) await progress.record(staged);
  };

  const options = { contentType: config.records.format === 'csv' ? 'text/csv' : 'application/x-ndjson', md5: false, reusesChunks: true };
  let written: WriteResult | PreparedWrite | null = null;
  try {
    try {
      written = prepare ? await stores.records.prepareIfGeneration!(key, p.run(gate), info.generation, options) : await stores.records.writeIfGeneration(key, p.run(gate), info.generation, options);
    } finally {
      await p.release();
    }
  } catch (err) {
    // An error of ours raised while the store pulled the stream comes back wrapped in the store's.
    const own = causeOf(err, RetentionError);
    if (own) throw own;
    if (!staged) {
      if (!causeOf(err, NothingToReplace)) throw err;
      const theirs = await ownEarlierVersion(stores, progress, key, runId, oldSha, now);
      if (theirs) return { kind: 'result', result: resultOf(theirs.state, partition, theirs.outcome), ...(theirs.outcome === 'resumed' ? { record: theirs.state } : {}) };
      const state: ObjectState = { ...base(), phase: 'clean', generation: info.generation, sha256: oldSha, updatedAt: now().toISOString() };
      return { kind: 'result', result: resultOf(state, partition, 'clean'), record: state };
    }
    if (prepare || !isStorageError(err, 'precondition_failed')) throw err;
    const done = await landedOrChanged(stores, staged, key, now);
    return { kind: 'result', result: resultOf(done, partition, 'anonymized'), record: done };
  }
  if (prepare) {
    if (written.size !== p.bytesOut) {
      await (written as PreparedWrite).abort();
      throw new RetentionError(RetentionFailureType.CountMismatch, `${recordsUri}: ${written.size} bytes were stored of the ${p.bytesOut} checked`);
    }
    return { kind: 'prepared', write: written as PreparedWrite, staged: staged!, bytesOut: p.bytesOut, partition };
  }
  if (written.size !== p.bytesOut) throw new RetentionError(RetentionFailureType.CountMismatch, `${recordsUri}: ${written.size} bytes were stored of the ${p.bytesOut} checked`);
  const done = replacedState(staged!, written.generation, now);
  return { kind: 'result', result: resultOf(done, partition, 'anonymized'), record: done };
}

/**
 * Whether the bytes a scan found nothing to change in (digest `readSha`) are the new version
 * another attempt of this run wrote after this one read the object's record: an attempt whose
 * heartbeat timed out goes on while its retry runs, and may replace the object between the
 * retry's record read and its scan. Its record (read again now) stands and its rows count;
 * recorded clean, the run's audit would lose them.
 */
async function ownEarlierVersion(stores: RetentionStores, progress: Progress, key: string, runId: string, readSha: string, now: () => Date): Promise<{ state: ObjectState; outcome: 'anonymized' | 'resumed' } | null> {
  const latest = await progress.prior(key, true);
  if (!latest || latest.runId !== runId || latest.newSha256 !== readSha) return null;
  if (latest.phase === 'replaced') return { state: latest, outcome: 'anonymized' };
  if (latest.phase !== 'staged') return null;
  return { state: replacedState(latest, (await stores.records.stat(key)).generation, now), outcome: 'resumed' };
}

function causeOf<T>(err: unknown, type: new (...a: never[]) => T): T | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof type) return e;
  return undefined;
}

/** What the count check finds wrong in the output, read as a reader would, against the input. */
function countProblems(first: AnonymizeCounts, out: AnonymizeCounts): string[] {
  const problems: string[] = [];
  if (out.rowsSeen !== first.rowsSeen) problems.push(`rows in ${first.rowsSeen}, rows out ${out.rowsSeen}`);
  if (out.rowsAnonymized !== 0) problems.push(`${out.rowsAnonymized} TikTok rows past the window are left`);
  if (out.tiktokWithinWindow !== first.tiktokWithinWindow) problems.push(`TikTok rows within the window ${first.tiktokWithinWindow} in, ${out.tiktokWithinWindow} out`);
  if (out.unreadableRows !== first.unreadableRows) problems.push(`unreadable rows ${first.unreadableRows} in, ${out.unreadableRows} out`);
  return problems;
}

function countsOf(c: AnonymizeCounts) {
  return { rowsSeen: c.rowsSeen, rowsAnonymized: c.rowsAnonymized, tiktokWithinWindow: c.tiktokWithinWindow, unreadableRows: c.unreadableRows };
}

function resultOf(s: ObjectState, partition: string, outcome: ObjectResult['outcome']): ObjectResult {
  return {
    key: s.key,
    partition,
    outcome,
    ...s.counts,
    oldSha256: s.oldSha256 ?? s.sha256,
    newSha256: s.newSha256 ?? s.sha256,
    oldGeneration: s.oldGeneration ?? s.generation,
    newGeneration: s.generation,
    nextDueAt: s.nextDueAt,
  };
}

/** A refused compare-and-swap: a lost answer to our own write, or another writer. The digest tells which. */
async function landedOrChanged(stores: RetentionStores, staged: ObjectState, key: string, now: () => Date): Promise<ObjectState> {
  const info = await stores.records.stat(key);
  if ((await sha256Of(stores.records, key)) !== staged.newSha256)
    throw new RetentionError(RetentionFailureType.ObjectChanged, `${stores.records.uriOf(key)} changed while it was anonymized (now generation ${info.generation}); it is read again`);
  return replacedState(staged, info.generation, now);
}

function replacedState(staged: ObjectState, generation: string, now: () => Date): ObjectState {
  return { ...staged, phase: 'replaced', generation, sha256: staged.newSha256!, updatedAt: now().toISOString() };
}

/** Records a finished object, then drops the staged copy an older version may have left for it. */
async function recordDone(stores: RetentionStores, progress: Progress, done: ObjectState): Promise<void> {
  await progress.record(done);
  if (done.stagedKey) await stores.audit.delete(done.stagedKey, { ignoreNotFound: true });
}

/**
 * A progress record of a run that died after its count check: the new digest already in
 * place → its finished state (for the caller to record); still the old generation with a
 * staged copy in the audit folder (what versions before the one-pass write left) → that
 * copy streamed in place, its digest checked before the write ends; anything else → null,
 * read again (the old version is whole).
 */
async function resume(stores: RetentionStores, prior: ObjectState, generation: string, key: string, now: () => Date): Promise<ObjectState | null> {
  if (generation === prior.oldGeneration) {
    const stagedKey = prior.stagedKey;
    if (!stagedKey || !(await stores.audit.exists(stagedKey))) return null;
    const hash = createHash('sha256');
    let ok = true;
    async function* checked(): AsyncGenerator<Buffer> {
      let held: Buffer | null = null;
      for await (const chunk of (await stores.audit.openRead(stagedKey!)) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        if (held) yield held;
        held = chunk;
      }
      if (hash.digest('hex') !== prior.newSha256) {
        ok = false;
        throw new NothingToReplace();
      }
      if (held) yield held;
    }
    try {
      const written = await stores.records.writeIfGeneration(key, checked(), generation, { md5: false });
      return replacedState(prior, written.generation, now);
    } catch (err) {
      if (!ok && causeOf(err, NothingToReplace)) return null;
      if (!isStorageError(err, 'precondition_failed')) throw err;
      return landedOrChanged(stores, prior, key, now);
    }
  }
  if ((await sha256Of(stores.records, key)) === prior.newSha256) return replacedState(prior, generation, now);
  return null;
}
