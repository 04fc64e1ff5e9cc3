import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isStorageError, type BlobStore } from '../storage';
import { anonymizerFor, type AnonymizeCounts } from './anonymize';
import { AuditKeys, isDone, OBJECT_STATE_VERSION, policyDigest, readObjectState, writeObjectState, type ObjectState } from './audit';
import type { DatasetConfig } from './config';
import { RetentionError, RetentionFailureType } from './failures';
import type { ObjectResult, RetentionPlan } from './messages';
import { rowPolicyOf } from './rowPolicy';
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
  progress?(p: { key: string; bytes: number; rows: number; pass: 'anonymize' | 'verify' }): void;
  now?(): Date;
}

const PROGRESS_EVERY_MS = 1000;
const VERIFY_CHUNK = 1 << 20;

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
  for await (const info of stores.records.list('')) {
    const partition = partitionDateOf(info.key);
    if (!partition || partition > next) continue;
    const state = await readObjectState(stores.audit, config.datasetId, info.key);
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

/** Streams `source` through the anonymizer; yields the output and hashes both sides. */
async function* transformed(source: Readable, a: ReturnType<typeof anonymizerFor>, inHash: Hash, outHash: Hash, tick: (bytes: number) => void): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    inHash.update(chunk);
    bytes += chunk.length;
    const out = a.push(chunk);
    tick(bytes);
    if (out.length) {
      outHash.update(out);
      yield out;
    }
  }
  const last = a.end();
  if (last.length) {
    outHash.update(last);
    yield last;
  }
}

async function drain(it: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of it) void _;
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

export interface ProcessObjectInput {
  config: DatasetConfig;
  key: string;
  asOf: string;
  dryRun: boolean;
  /** The workflow run, recorded in the progress record. */
  runId: string;
}

/**
 * One partition object: read, anonymized into a staged version, checked (rows in = rows out,
 * no TikTok row past the window left, the kept TikTok and unreadable rows unchanged, the
 * digest as written), recorded as staged, put in place by a compare-and-swap on the
 * generation that was read, recorded as replaced, staged copy deleted.
 */
export async function processObject(stores: RetentionStores, input: ProcessObjectInput, hooks: ObjectJobHooks = {}): Promise<ObjectResult> {
  const { config, key, asOf, dryRun, runId } = input;
  const now = hooks.now ?? (() => new Date());
  const ds = config.datasetId;
  const policy = policyDigest(config);
  const partition = partitionDateOf(key) ?? '';
  const recordsUri = stores.records.uriOf(key);
  let info = await stores.records.stat(key).catch((err: unknown) => {
    if (isStorageError(err, 'not_found')) throw new RetentionError(RetentionFailureType.ObjectChanged, `${recordsUri} is gone since the run listed it`);
    throw err;
  });
  const prior = await readObjectState(stores.audit, ds, key);

  if (!dryRun && prior?.phase === 'staged') {
    const resumed = await resume(stores, ds, prior, info.generation, key, now);
    if (resumed) return resultOf(resumed, partition, 'resumed');
    info = await stores.records.stat(key);
  }

  const rowPolicy = rowPolicyOf(config, asOf);
  const anonymizer = anonymizerFor(config.records.format, rowPolicy, config.records.delimiter, recordsUri);
  const inHash = createHash('sha256');
  const outHash = createHash('sha256');
  let bytesRead = 0;
  const report = throttle(() => hooks.progress?.({ key, bytes: bytesRead, rows: anonymizer.counts.rowsSeen, pass: 'anonymize' }));
  const source = await stores.records.openRead(key);
  const output = transformed(source, anonymizer, inHash, outHash, (b) => {
    bytesRead = b;
    report();
  });
  const stagedKey = AuditKeys.staging(ds, key, info.generation);

  if (dryRun) {
    await drain(output);
    const c = anonymizer.counts;
    const sha = inHash.digest('hex');
    return {
      key,
      partition,
      outcome: c.rowsAnonymized > 0 ? 'would_anonymize' : 'clean',
      ...countsOf(c),
      oldSha256: sha,
      newSha256: c.rowsAnonymized > 0 ? outHash.digest('hex') : sha,
      oldGeneration: info.generation,
      newGeneration: info.generation,
      nextDueAt: c.nextDueMs === null ? null : new Date(c.nextDueMs).toISOString(),
    };
  }

  // The new version is staged beside the audit, never next to the data users' tools read.
  const written = await stores.audit.write(stagedKey, output, { contentType: 'application/octet-stream', md5: false });
  const c = anonymizer.counts;
  const oldSha = inHash.digest('hex');
  const newSha = outHash.digest('hex');
  const base = {
    version: OBJECT_STATE_VERSION,
    key,
    policy,
    counts: countsOf(c),
    nextDueAt: c.nextDueMs === null ? null : new Date(c.nextDueMs).toISOString(),
    unreadableSamples: c.unreadableSamples,
    absentColumns: c.absentColumns,
    asOf,
    runId,
  } as const;

  if (c.rowsAnonymized === 0) {
    await stores.audit.delete(stagedKey, { ignoreNotFound: true });
    const state: ObjectState = { ...base, phase: 'clean', generation: info.generation, sha256: oldSha, updatedAt: now().toISOString() };
    await writeObjectState(stores.audit, ds, state);
    return resultOf(state, partition, 'clean');
  }

  const stagedBytes = await stores.audit.readBuffer(stagedKey);
  const problems = await verifyStaged(stagedBytes, config, asOf, c, newSha, written.size, recordsUri, (bytes, rows) => hooks.progress?.({ key, bytes, rows, pass: 'verify' }));
  if (problems.length) {
    await stores.audit.delete(stagedKey, { ignoreNotFound: true });
    throw new RetentionError(RetentionFailureType.CountMismatch, `${recordsUri}: the new version failed its count check, nothing was replaced: ${problems.join('; ')}`);
  }
  const staged: ObjectState = {
    ...base,
    phase: 'staged',
    generation: info.generation,
    sha256: oldSha,
    oldGeneration: info.generation,
    oldSha256: oldSha,
    newSha256: newSha,
    stagedKey,
    updatedAt: now().toISOString(),
  };
  await writeObjectState(stores.audit, ds, staged);
  const done = await putInPlace(stores, ds, staged, key, now, stagedBytes);
  return resultOf(done, partition, 'anonymized');
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

/**
 * The staged version, read back once, through the same rules: what the count check compares.
 * The same bytes then go in place, so what was checked is what users read.
 */
async function verifyStaged(
  bytes: Buffer,
  config: DatasetConfig,
  asOf: string,
  first: AnonymizeCounts,
  sha: string,
  size: number,
  source: string,
  progress: (bytes: number, rows: number) => void,
): Promise<string[]> {
  const check = anonymizerFor(config.records.format, rowPolicyOf(config, asOf), config.records.delimiter, source);
  let at = 0;
  const report = throttle(() => progress(at, check.counts.rowsSeen));
  for (; at < bytes.length; at += VERIFY_CHUNK) {
    check.push(bytes.subarray(at, at + VERIFY_CHUNK));
    report();
    // Let heartbeats out on a large object.
    if ((at / VERIFY_CHUNK) % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  check.end();
  const v = check.counts;
  const problems: string[] = [];
  if (createHash('sha256').update(bytes).digest('hex') !== sha || bytes.length !== size) problems.push(`the staged bytes differ from those written (${bytes.length} of ${size} bytes)`);
  if (v.rowsSeen !== first.rowsSeen) problems.push(`rows in ${first.rowsSeen}, rows out ${v.rowsSeen}`);
  if (v.rowsAnonymized !== 0) problems.push(`${v.rowsAnonymized} TikTok rows past the window are left`);
  if (v.tiktokWithinWindow !== first.tiktokWithinWindow) problems.push(`TikTok rows within the window ${first.tiktokWithinWindow} in, ${v.tiktokWithinWindow} out`);
  if (v.unreadableRows !== first.unreadableRows) problems.push(`unreadable rows ${first.unreadableRows} in, ${v.unreadableRows} out`);
  return problems;
}

/** Compare-and-swap the staged version over the generation it was made from; record it; delete the staged copy. */
async function putInPlace(stores: RetentionStores, ds: string, staged: ObjectState, key: string, now: () => Date, checked?: Buffer): Promise<ObjectState> {
  const bytes = checked ?? (await stores.audit.readBuffer(staged.stagedKey!));
  let generation: string;
  try {
    generation = (await stores.records.writeIfGeneration(key, bytes, staged.oldGeneration!)).generation;
  } catch (err) {
    if (!isStorageError(err, 'precondition_failed')) throw err;
    // A lost answer to our own write, or another writer: the digest tells which.
    const info = await stores.records.stat(key);
    if ((await sha256Of(stores.records, key)) !== staged.newSha256)
      throw new RetentionError(RetentionFailureType.ObjectChanged, `${stores.records.uriOf(key)} changed while it was anonymized (now generation ${info.generation}); it is read again`);
    generation = info.generation;
  }
  return finish(stores, ds, staged, generation, now);
}

async function finish(stores: RetentionStores, ds: string, staged: ObjectState, generation: string, now: () => Date): Promise<ObjectState> {
  const done: ObjectState = { ...staged, phase: 'replaced', generation, sha256: staged.newSha256!, updatedAt: now().toISOString() };
  await writeObjectState(stores.audit, ds, done);
  await stores.audit.delete(staged.stagedKey!, { ignoreNotFound: true });
  return done;
}

/** A progress record of a run that died after staging: finish its work if the object allows. */
async function resume(stores: RetentionStores, ds: string, prior: ObjectState, generation: string, key: string, now: () => Date): Promise<ObjectState | null> {
  if (generation === prior.oldGeneration) {
    const staged = prior.stagedKey!;
    if (!(await stores.audit.exists(staged))) return null;
    if ((await sha256Of(stores.audit, staged)) !== prior.newSha256) return null;
    return putInPlace(stores, ds, prior, key, now);
  }
  if ((await sha256Of(stores.records, key)) === prior.newSha256) return finish(stores, ds, prior, generation, now);
  return null;
}
