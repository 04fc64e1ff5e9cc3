import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ApplicationFailure, CancelledFailure, Context, activityInfo, heartbeat, log } from '@temporalio/activity';
import { ZodError } from 'zod';
import {
  AudienceDataError,
  AudienceDataErrorTypes,
  DEFAULT_PREPARE_TUNING,
  DiffGroupSchema,
  ListIntegrityError,
  ManifestSchema,
  NON_RETRYABLE_AUDIENCE_DATA_ERRORS,
  PreparedRunSchema,
  Stores,
  buildFiles,
  commitAppliedState as commitState,
  diffGroup,
  layout,
  prepareSet,
  readAppliedState,
  type BuiltFile,
  type DiffCheckpoint,
  type DiffGroup,
  type InputSet,
  type PrepareTuning,
  type PreparedRun,
  type SetCheckpoint,
  type SetResult,
  type StoreOpener,
  type CommitResult,
  claimSegment,
  SegmentConflictError,
  AudienceConflictError,
  AudienceSyncFailureType,
  takeAudienceLeases,
  releaseAudienceLease,
  type AudienceRef,
  batchSet,
  collectRunGarbage,
  DEFAULT_KEEP_RUNS,
  type RunGcResult,
} from '../../src/audience-sync';
import { columnMappingOf, parseDestinationConfig, type DestinationConfig, type DestinationConfigInput } from '../../src/audience-sync/config';
import { durationMsOf } from '../../src/config/duration';
import { ConfigError } from '../../src/config/errors';
import type { IdentifierType } from '../../src/identifiers/schema';
import { DEFAULT_WORKDIR } from '../../src/paths';
import { SnapshotFormatError, type SnapshotCounts, type SnapshotFormat, type SnapshotReadOptions } from '../../src/snapshot';
import { VERSION } from '../../src/version';
import { StorageError, StoredJsonError, openBlobStore, readJsonObject, type BlobStore } from '../../src/storage';
import type { InputObject } from '../../src/audience-sync/messages';
import { defaultRegistryUri } from '../../src/audience-sync/release';
import { discardPreviewRuns, previewRunId, trimPreviewRun } from '../../src/audience-sync/previewRuns';
import { RowIndexBuilder, cloneSnapshotLines, rowIndexKey } from '../../src/audience-sync/rowIndex';
import { mayCloneLines, openRowIndex, runsOfView } from '../../src/audience-sync/rowIndexLayers';
import { prepareSnapshotDelta } from '../../src/audience-sync/snapshotDelta';
import { STATE_DELTA_COMPACT_AT } from '../../src/audience-sync/stateDelta';



/** The phone rules come from this library's metadata: another version may normalize differently. */
const LIBPHONENUMBER_VERSION: string = (JSON.parse(readFileSync(createRequire(__filename).resolve('libphonenumber-js/package.json'), 'utf8')) as { version: string }).version;

export interface SegmentClaimResult {
  written: boolean;
  owner: { destinationId: string; advertiserId: string };
  registryUri: string;
}

export interface AudienceDataDeps {
  /** Opens a store for a folder URI (the worker decides GCS endpoint and credentials). */
  openStore: StoreOpener;
  now?: () => Date;
  /** Workdir when the destination names none (default: the local data folder). */
  defaultWorkdir?: string;
  tuning?: Partial<PrepareTuning>;
  /** Bytes of spill data diff reads at once. */
  diffReadBudgetBytes?: number;
  /**
   * How large a churn's net change may grow (a fraction of the list) before a state list is
   * written whole again (stateDelta.ts); 0 writes every changed list whole, as workers from
   * before state deltas read them (TTSYNC_STATE_DELTA_COMPACT_AT).
   */
  stateDeltaCompactAt?: number;
  /**
   * Folder of the segment claim registry (the two-advertiser rule). One per deployment, shared
   * by every worker: default the default workdir's store (TTSYNC_SEGMENT_REGISTRY in production).
   */
  segmentRegistry?: string;
}

export function defaultAudienceDataDeps(): AudienceDataDeps {
  const compactAt = stateDeltaCompactAtOf(process.env.TTSYNC_STATE_DELTA_COMPACT_AT);
  return {
    openStore: (uri) => openBlobStore(uri),
    now: () => new Date(),
    defaultWorkdir: DEFAULT_WORKDIR,
    segmentRegistry: defaultRegistryUri(),
    ...(compactAt === undefined ? {} : { stateDeltaCompactAt: compactAt }),
  };
}

/** TTSYNC_STATE_DELTA_COMPACT_AT: unset, or a fraction from 0 to 1; anything else stops the worker with this message. */
export function stateDeltaCompactAtOf(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!(Number.isFinite(n) && n >= 0 && n <= 1))
    throw new Error(`TTSYNC_STATE_DELTA_COMPACT_AT is ${JSON.stringify(raw)}: give a fraction from 0 to 1 (0 writes every changed state list whole; unset: ${STATE_DELTA_COMPACT_AT})`);
  return n;
}


export interface PrepareSnapshotInput {
  config: DestinationConfigInput;
  runId: string;
  /** Default: the destination's storage.snapshot. */
  snapshot?: InputObject;
}

export interface ChangeBatchFiles {
  enters?: InputObject;
  exits?: InputObject;
}

export interface PrepareChangeBatchInput {
  config: DestinationConfigInput;
  runId: string;
  /**
   * Pending change batches in the order they came, applied in ONE run (a later enter or exit
   * of the same id wins). An empty list prepares nothing: the run re-states the applied state.
   */
  batches?: ChangeBatchFiles[];
  /** One batch, as workflows started before `batches` send it. */
  enters?: InputObject;
  exits?: InputObject;
}

/** What prepare made of one input object; counts only, never values. */
export interface PreparedInput {
  uri: string;
  rows: number;
  counts: SnapshotCounts;
  rejected: number;
  rejectsUri: string;
  bytes: number;
  createdAt: string;
  /** Read against the applied state's row index: lines kept, lines read (new), lines gone. */
  rowIndex?: { kept: number; fresh: number; gone: number };
}

export interface PrepareResult {
  runId: string;
  preparedUri: string;
  kind: 'snapshot' | 'changes';
  snapshot?: PreparedInput;
  /** Per change batch, in order. */
  changes?: { enters?: PreparedInput; exits?: PreparedInput }[];
  /** Batch 0 again (the one batch of a single-batch run; results of older workers have only these). */
  enters?: PreparedInput;
  exits?: PreparedInput;
}

export interface SnapshotInfo {
  uri: string;
  bytes: number;
  createdAt: string;
  ageMs: number;
  /** Older than the destination's readinessWindow: do not sync, ask for a fresh export. */
  stale: boolean;
}

export interface DiffShardsInput {
  config: DestinationConfigInput;
  runId: string;
  /** The applied-state version loadAppliedState returned (null: none yet). */
  baseVersion: string | null;
  /** Shards [from, to) of 0..256; several groups let several workers share the diff. */
  from: number;
  to: number;
  /** For a new, empty audience (recreated): the adds are the whole state after the run, no removes. */
  resend?: boolean;
}

export interface TypeTotals {
  input: number;
  applied: number;
  adds: number;
  removes: number;
  state: number;
}

export interface DiffShardsResult {
  summaryUri: string;
  from: number;
  to: number;
  totals: Partial<Record<IdentifierType, TypeTotals>>;
}

export interface BuildFilesInput {
  config: DestinationConfigInput;
  runId: string;
  /** Every diff group's summaryUri (together they must cover all 256 shards). */
  diffUris: string[];
  /** Write a header row naming the identifier (default true; see customerFiles.headerOf). */
  header?: boolean;
}

export interface BuildFilesResult {
  files: BuiltFile[];
  appendIds: number;
  removeIds: number;
  bytes: number;
}

export interface CommitInput {
  config: DestinationConfigInput;
  runId: string;
  baseVersion: string | null;
  audienceId: string | null;
  diffUris: string[];
}

export interface AppliedStateSummary {
  version: string | null;
  manifestUri: string | null;
  audienceId: string | null;
  counts: Partial<Record<IdentifierType, number>>;
  total: number;
}

interface PrepareHeartbeat {
  /** Final checkpoints of the inputs already read (change batches read enters, then exits). */
  finished: SetCheckpoint[];
  current: SetCheckpoint | null;
}

function formatOf(obj: InputObject): SnapshotFormat {
  if (obj.format) return obj.format;
  const name = obj.uri.toLowerCase().replace(/\.gz$/, '');
  if (/\.(csv|tsv|txt)$/.test(name)) return 'csv';
  if (/\.(ndjson|jsonl|json)$/.test(name)) return 'ndjson';
  throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `cannot tell the format of ${obj.uri} from its name: give format "csv" or "ndjson"`);
}

/** Maps any error to the ApplicationFailure type workflows' retry policies name. */
export function toFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof SegmentConflictError)
    return ApplicationFailure.create({ type: AudienceSyncFailureType.SegmentConflict, message: err.message, nonRetryable: true, details: err.owner ? [err.owner] : [] });
  if (err instanceof AudienceConflictError)
    return ApplicationFailure.create({ type: AudienceSyncFailureType.AudienceConflict, message: err.message, nonRetryable: true, details: [err.lease.holder] });
  const fail = (type: string, message: string, cause: unknown): ApplicationFailure =>
    ApplicationFailure.create({
      type,
      message,
      nonRetryable: (NON_RETRYABLE_AUDIENCE_DATA_ERRORS as readonly string[]).includes(type),
      cause: cause instanceof Error ? cause : undefined,
    });
  if (err instanceof AudienceDataError) return fail(err.type, err.message, err);
  if (err instanceof ListIntegrityError || err instanceof StoredJsonError) return fail(AudienceDataErrorTypes.corruptData, err.message, err);
  if (err instanceof SnapshotFormatError) return fail(AudienceDataErrorTypes.unreadableSnapshot, err.message, err);
  if (err instanceof ConfigError) return fail(AudienceDataErrorTypes.badConfig, err.message, err);
  if (err instanceof ZodError) return fail(AudienceDataErrorTypes.badConfig, `invalid input: ${err.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`).join('; ')}`, err);
  if (err instanceof StorageError) {
    switch (err.code) {
      case 'not_found':
      case 'bucket_not_found':
        return fail(AudienceDataErrorTypes.missingObject, err.message, err);
      case 'permission':
      case 'bad_uri':
      case 'invalid_key':
        return fail(AudienceDataErrorTypes.storageAccess, err.message, err);
      default:
        return fail(AudienceDataErrorTypes.storageUnavailable, err.message, err);
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The audience data plane on the data task queue: prepare (snapshot or change batch),
 * diff per shard group, build customer files, and the applied-state manifest. Inputs and
 * results hold URIs, counts and file digests only; identifiers stay in storage.
 */
export function createAudienceDataActivities(deps: AudienceDataDeps) {
  const now = deps.now ?? (() => new Date());
  const tuning: PrepareTuning = { ...DEFAULT_PREPARE_TUNING, ...deps.tuning };
  const stores = new Stores(deps.openStore);

  const configOf = (input: DestinationConfigInput): DestinationConfig => parseDestinationConfig(input, 'destination config');
  const workdirOf = (c: DestinationConfig): BlobStore => stores.folder(c.storage.workdir ?? deps.defaultWorkdir ?? DEFAULT_WORKDIR);
  const readOptionsOf = (c: DestinationConfig, obj: InputObject): SnapshotReadOptions => ({
    format: formatOf(obj),
    ...(obj.delimiter ? { delimiter: obj.delimiter } : {}),
    mapping: columnMappingOf(c),
    normalization: { context: 'audience', phoneFormat: c.phoneFormat, ...(c.defaultCountry ? { defaultCountry: c.defaultCountry } : {}) },
  });
  const typesOf = (c: DestinationConfig): IdentifierType[] => [...new Set(columnMappingOf(c).identifiers.map((i) => i.type))].sort();

  /** Heartbeats `details` and stops if the activity was cancelled (cancellation arrives through heartbeats). */
  const beat = (details: unknown): void => {
    heartbeat(details);
    if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
  };

  /**
   * beat() for progress reported many times a second (each table piece of a delta prepare,
   * each diff step): sends at most one heartbeat per quarter of the heartbeat timeout, and at
   * most one a second, since each one converts its details to a payload (a diff's checkpoint
   * holds every shard's result so far: converting it per step was 35 ms of a churn diff, and its
   * garbage more). Without a heartbeat timeout, every call. Cancellation is checked on every
   * call. A checkpoint left out only means a resume redoes a little more.
   */
  const paced = (): ((details: unknown) => void) => {
    const timeout = Context.current().info.heartbeatTimeoutMs;
    const every = timeout ? Math.min(1000, timeout / 4) : 0;
    let last = -Infinity;
    return (details) => {
      const now = performance.now();
      if (now - last >= every) {
        last = now;
        heartbeat(details);
      }
      if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
    };
  };

  async function wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toFailure(err);
    }
  }

  /**
   * Prepare against the row index the applied state names (snapshotDelta.ts), or null: no
   * applied state, no index, one made under another key or header, or anything going wrong
   * on the way (the caller then reads the snapshot in full, which gives the same result).
   */
  async function tryDelta(
    config: DestinationConfig,
    work: BlobStore,
    runId: string,
    source: { store: BlobStore; key: string; createdAt?: string },
    read: SnapshotReadOptions,
    types: IdentifierType[],
    indexKey: string,
    writeIndex: boolean,
    tick: () => void,
    cur: Awaited<ReturnType<typeof readAppliedState>>,
  ) {
    const ref = cur.manifest?.rowIndex;
    if (!cur.pointer || !ref) return null;
    const meta = await openRowIndex(work, ref.key, indexKey);
    // An index read from this run's own folder would be overwritten while it is read.
    if (!meta || runsOfView(meta).includes(runId)) return null;
    try {
      const result = await prepareSnapshotDelta({ work, stores, runId, source, read, types, tuning, rejectValues: config.rejects?.values ?? 'raw', base: meta, writeIndex, tick });
      return { result, baseVersion: cur.pointer.version, manifestKey: cur.pointer.manifestKey };
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      log.info('row index not used; reading the whole snapshot', { runId, reason: (err as Error).message });
      return null;
    }
  }

  async function prepare(config: DestinationConfig, runId: string, inputs: [InputSet, InputObject][], kind: 'snapshot' | 'changes', batches?: number): Promise<PrepareResult> {
    const work = workdirOf(config);
    const types = typesOf(config);
    const saved = activityInfo().heartbeatDetails as PrepareHeartbeat | undefined;
    const finished: SetCheckpoint[] = [...(saved?.finished ?? [])];
    // Re-sent between checkpoints for liveness; never empty after a resume, or a crash
    // before the next checkpoint would lose the one we resumed from.
    let details: PrepareHeartbeat = saved ?? { finished: [], current: null };
    const results: SetResult[] = [];
    const readOptions = inputs.map(([, obj]) => readOptionsOf(config, obj));
    let rowIndex: { key: string; runs?: string[] } | undefined;
    for (const [i, [set, obj]] of inputs.entries()) {
      const { store, key } = stores.object(obj.uri);
      const resume = finished.find((f) => f.set === set) ?? (saved?.current?.set === set ? saved.current : undefined);
      // A mirrored CSV snapshot read from its start: against the applied state's row index when
      // there is a usable one, and either way it writes the index of this snapshot.
      const indexKey = rowIndexKey({ ttsync: VERSION, libphonenumber: LIBPHONENUMBER_VERSION, read: readOptions[i], types, syncMode: config.syncMode });
      const writeIndex = !runId.startsWith('preview_');
      const indexable = set === 'snapshot' && kind === 'snapshot' && !resume && readOptions[i]!.format === 'csv' && config.syncMode === 'mirror' && tuning.rowIndexMaxBytes > 0 && (await store.stat(key)).size <= tuning.rowIndexMaxBytes;
      // The applied state names the index this snapshot is read against, and tells whether its lines may be cloned.
      const applied = indexable ? await readAppliedState(work, config.destinationId) : undefined;
      if (applied) {
        const tick = paced();
        const delta = await tryDelta(config, work, runId, { store, key, ...(obj.createdAt ? { createdAt: obj.createdAt } : {}) }, readOptions[i]!, types, indexKey, writeIndex, () => tick(details), applied);
        if (delta) {
          const prepared: PreparedRun = {
            schema: 1,
            runId,
            kind: 'delta',
            types,
            sets: { snapshot: delta.result.parts },
            delta: { baseVersion: delta.baseVersion, manifestKey: delta.manifestKey, gone: delta.result.gone },
            ...(delta.result.rowIndexKey ? { rowIndex: { key: delta.result.rowIndexKey, ...(delta.result.rowIndexRuns.length ? { runs: delta.result.rowIndexRuns } : {}) } } : {}),
          };
          const preparedKey = layout.prepared(runId);
          await work.write(preparedKey, JSON.stringify(prepared), { contentType: 'application/json' });
          const d = delta.result;
          return {
            runId,
            preparedUri: work.uriOf(preparedKey),
            kind: 'snapshot',
            snapshot: { uri: obj.uri, rows: d.counts.rows, counts: d.counts, rejected: d.rejects, rejectsUri: d.rejectsUri, bytes: d.bytes, createdAt: d.createdAt, rowIndex: d.stats },
          };
        }
      }
      let tap: RowIndexBuilder | undefined;
      let clone: Awaited<ReturnType<typeof cloneSnapshotLines>> = null;
      if (applied && writeIndex) {
        // The index's lines object a clone of the snapshot where it can be (cloneSnapshotLines).
        const cloneLines = await mayCloneLines(work, applied.manifest?.rowIndex?.key);
        clone = cloneLines
          ? await cloneSnapshotLines(work, runId, { store, key }).catch((err: unknown) => {
              log.warn('row index lines not cloned; copying them as the snapshot is read', { runId, error: (err as Error).message });
              return null;
            })
          : null;
        tap = new RowIndexBuilder(work, runId, tuning.rowIndexMemoryBytes, clone?.lines, cloneLines);
      }
      const r = await prepareSet(
        work,
        runId,
        set,
        { store, key, ...(obj.createdAt ? { createdAt: obj.createdAt } : {}) },
        readOptions[i]!,
        types,
        tuning,
        {
          checkpoint: async (cp) => {
            await Promise.resolve();
            details = { finished: [...finished], current: cp };
            beat(details);
          },
          tick: () => heartbeat(details),
        },
        resume,
        config.rejects?.values ?? 'raw',
        tap,
      ).catch((err: unknown) => {
        // The lines object being copied from the read is not stored.
        tap?.abort(err as Error);
        throw err;
      });
      // The clone is of the generation the snapshot had before the read: it holds the bytes read
      // only if the snapshot had that generation from the read's start to its end.
      if (tap && clone && (r.generation !== clone.generation || (await store.stat(key)).generation !== clone.generation)) {
        log.info('row index not written: the snapshot changed while it was read', { runId });
        tap.abort(new Error('the snapshot changed while it was read'));
        await work.delete(clone.lines.key, { ignoreNotFound: true });
        tap = undefined;
      }
      if (tap) {
        try {
          rowIndex = { key: await tap.write(indexKey, r.counts) ?? '' };
          if (!rowIndex.key) rowIndex = undefined;
        } catch (err) {
          if (err instanceof CancelledFailure) throw err;
          // No index: the next snapshot is read in full, as without one.
          log.warn('row index not written', { runId, error: (err as Error).message });
        }
      }
      results.push(r);
      // The final checkpoint, so a retry after this point only re-lists this input's parts.
      if (!finished.some((f) => f.set === set)) finished.push(r.checkpoint);
    }
    const prepared: PreparedRun = {
      schema: 1,
      runId,
      kind,
      types,
      sets: Object.fromEntries(results.map((r) => [r.set, r.parts])),
      ...(batches !== undefined ? { batches } : {}),
      ...(rowIndex ? { rowIndex } : {}),
    };
    const key = layout.prepared(runId);
    await work.write(key, JSON.stringify(prepared), { contentType: 'application/json' });
    const out: PrepareResult = { runId, preparedUri: work.uriOf(key), kind };
    if (batches !== undefined) out.changes = Array.from({ length: batches }, () => ({}));
    for (const [i, r] of results.entries()) {
      const p: PreparedInput = {
        uri: inputs[i]![1].uri,
        rows: r.counts.rows,
        counts: r.counts,
        rejected: r.rejects,
        rejectsUri: r.rejectsUri,
        bytes: r.bytes,
        createdAt: r.createdAt,
      };
      if (r.set === 'snapshot') out.snapshot = p;
      else {
        const [half, index] = r.set.split('-') as ['enters' | 'exits', string | undefined];
        const slot = out.changes?.[index === undefined ? 0 : Number(index)];
        if (slot) slot[half] = p;
        if (index === undefined) out[half] = p;
      }
    }
    return out;
  }

  async function readGroups(uris: string[]): Promise<DiffGroup[]> {
    if (uris.length === 0) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, 'no diff group summaries given');
    const groups: DiffGroup[] = [];
    for (const uri of uris) {
      const { store, key } = stores.object(uri);
      groups.push(await readJsonObject(store, key, DiffGroupSchema));
    }
    return groups;
  }

  const registryOf = (): BlobStore => stores.folder(deps.segmentRegistry ?? deps.defaultWorkdir ?? DEFAULT_WORKDIR);

  return {
    /**
     * The two-advertiser rule, before any TikTok call of a cycle: claims the destination's
     * source segment in the registry, or fails with SegmentConflict. Idempotent and cheap
     * (one read when the claim is already there).
     */
    async claimSourceSegment(input: { config: DestinationConfigInput }): Promise<SegmentClaimResult> {
      return wrap(async () => claimSegment(registryOf(), configOf(input.config), now()));
    },

    /**
     * The writer lease on the audience this destination is about to write (its id, and its
     * literal name for append/replace), before any upload; `release` drops this
     * destination's leases on an audience it no longer writes (recreateAudience made a new one).
     */
    async claimAudienceLease(input: { config: DestinationConfigInput; audiences: AudienceRef[]; release?: AudienceRef[] }): Promise<{ written: number; registryUris: string[] }> {
      return wrap(async () => {
        const config = configOf(input.config);
        const registry = registryOf();
        const taken = await takeAudienceLeases(registry, { advertiserId: config.advertiserId, destinationId: config.destinationId, audiences: input.audiences }, now());
        for (const audience of input.release ?? []) await releaseAudienceLease(registry, config.advertiserId, audience, config.destinationId);
        return taken;
      });
    },

    /** Size and age of a snapshot before any heavy work: a stale snapshot is not synced. */
    async inspectSnapshot(input: { config: DestinationConfigInput; snapshot?: InputObject }): Promise<SnapshotInfo> {
      return wrap(async () => {
        const config = configOf(input.config);
        const obj = input.snapshot ?? (config.storage.snapshot ? { uri: config.storage.snapshot } : undefined);
        if (!obj) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, 'no snapshot given and the destination config names no storage.snapshot');
        const { store, key } = stores.object(obj.uri);
        const info = await store.stat(key);
        const createdAt = obj.createdAt ?? info.created.toISOString();
        const ageMs = now().getTime() - new Date(createdAt).getTime();
        return { uri: obj.uri, bytes: info.size, createdAt, ageMs, stale: ageMs > durationMsOf(config.readinessWindow) };
      });
    },

    /** Reads a full snapshot into spill parts and rejects; resumes from its last heartbeat. */
    async prepareSnapshot(input: PrepareSnapshotInput): Promise<PrepareResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        const obj = input.snapshot ?? (config.storage.snapshot ? { uri: config.storage.snapshot } : undefined);
        if (!obj) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, 'no snapshot given and the destination config names no storage.snapshot');
        return prepare(config, input.runId, [['snapshot', obj]], 'snapshot');
      });
    },

    /** Reads pending change batches (each an enters file and/or an exits file) the same way, in one run. */
    async prepareChangeBatch(input: PrepareChangeBatchInput): Promise<PrepareResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        const batches: ChangeBatchFiles[] = input.batches ?? [{ ...(input.enters ? { enters: input.enters } : {}), ...(input.exits ? { exits: input.exits } : {}) }];
        const inputs: [InputSet, InputObject][] = [];
        for (const [i, b] of batches.entries()) {
          if (!b.enters && !b.exits) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `change batch ${i + 1} of ${batches.length} needs an enters file, an exits file, or both`);
          if (b.enters) inputs.push([batchSet('enters', i), b.enters]);
          if (b.exits) inputs.push([batchSet('exits', i), b.exits]);
        }
        return prepare(config, input.runId, inputs, 'changes', batches.length);
      });
    },

    /** Diffs shards [from, to) against the applied state `baseVersion`; writes adds, removes and the new state lists. */
    async diffShards(input: DiffShardsInput): Promise<DiffShardsResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        const work = workdirOf(config);
        const prepared = await readJsonObject(work, layout.prepared(input.runId), PreparedRunSchema);
        const base = input.baseVersion === null ? null : await readJsonObject(work, layout.manifest(config.destinationId, input.baseVersion), ManifestSchema);
        const saved = activityInfo().heartbeatDetails as DiffCheckpoint | undefined;
        const progress = paced();
        const group = await diffGroup(
          work,
          stores,
          {
            runId: input.runId,
            prepared,
            base,
            syncMode: config.syncMode,
            from: input.from,
            to: input.to,
            ...(input.resend ? { resend: true } : {}),
            ...(deps.diffReadBudgetBytes ? { readBudgetBytes: deps.diffReadBudgetBytes } : {}),
            ...(deps.stateDeltaCompactAt !== undefined ? { stateDeltaCompactAt: deps.stateDeltaCompactAt } : {}),
          },
          async (cp) => {
            await Promise.resolve();
            progress(cp);
          },
          saved,
        );
        const key = layout.diffGroup(input.runId, input.from, input.to);
        await work.write(key, JSON.stringify(group), { contentType: 'application/json' });
        const totals: Partial<Record<IdentifierType, TypeTotals>> = {};
        for (const byType of Object.values(group.shards))
          for (const [t, r] of Object.entries(byType)) {
            if (!r) continue;
            const x = (totals[t as IdentifierType] ??= { input: 0, applied: 0, adds: 0, removes: 0, state: 0 });
            x.input += r.input;
            x.applied += r.applied;
            x.adds += r.adds;
            x.removes += r.removes;
            x.state += r.state;
          }
        return { summaryUri: work.uriOf(key), from: input.from, to: input.to, totals };
      });
    },

    /** Packs the diff's adds and removes into TikTok customer files (≤ maxIdsPerFile ids, ≤ fileSizeCapBytes each). */
    async buildCustomerFiles(input: BuildFilesInput): Promise<BuildFilesResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        const work = workdirOf(config);
        const groups = await readGroups(input.diffUris);
        const saved = activityInfo().heartbeatDetails as { files: BuiltFile[] } | undefined;
        const files = await buildFiles(
          work,
          stores,
          input.runId,
          groups,
          { maxIds: config.maxIdsPerFile, maxBytes: config.fileSizeCapBytes, header: input.header ?? true },
          async (built) => {
            await Promise.resolve();
            beat({ files: built });
          },
          saved?.files ?? [],
        );
        let appendIds = 0;
        let removeIds = 0;
        let bytes = 0;
        for (const f of files) {
          if (f.action === 'APPEND') appendIds += f.ids;
          else removeIds += f.ids;
          bytes += f.bytes;
        }
        return { files, appendIds, removeIds, bytes };
      });
    },

    /** Makes this run's diff the applied state (after TikTok accepted every file). Idempotent per run. */
    async commitAppliedState(input: CommitInput): Promise<CommitResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        const groups = await readGroups(input.diffUris);
        const work = workdirOf(config);
        // The run's row index, named by the manifest so that it describes the state committed.
        let rowIndex: { key: string; runs?: string[] } | undefined;
        try {
          rowIndex = (await readJsonObject(work, layout.prepared(input.runId), PreparedRunSchema)).rowIndex;
        } catch {
          rowIndex = undefined;
        }
        return commitState(work, config.destinationId, input.runId, input.baseVersion, input.audienceId, groups, now(), rowIndex);
      });
    },

    /**
     * Deletes the destination's run folders that neither the applied state references nor are
     * among the last storage.keepRuns (default 3). Run after a commit; idempotent.
     */
    async collectRunGarbage(input: { config: DestinationConfigInput }): Promise<RunGcResult> {
      return wrap(async () => {
        const config = configOf(input.config);
        return collectRunGarbage(workdirOf(config), config.destinationId, config.storage.keepRuns ?? DEFAULT_KEEP_RUNS);
      });
    },

    /**
     * A dry run's run folder: a run id in the preview namespace (never a writer's, never
     * collected by the writer, never committed), after deleting what the destination's
     * earlier previews left. One preview per destination runs at a time (its workflow id).
     */
    async beginPreviewRun(input: { config: DestinationConfigInput; workflowRunId: string }): Promise<{ runId: string; deletedObjects: number }> {
      return wrap(async () => {
        const config = configOf(input.config);
        const runId = previewRunId(config.destinationId, input.workflowRunId);
        const { deletedObjects } = await discardPreviewRuns(workdirOf(config), config.destinationId, runId);
        return { runId, deletedObjects };
      });
    },

    /** After a dry run: deletes its run folder but its rejects files (the CLI samples them; the next preview deletes them). */
    async endPreviewRun(input: { config: DestinationConfigInput; runId: string }): Promise<{ deletedObjects: number }> {
      return wrap(async () => {
        const config = configOf(input.config);
        const { deletedObjects } = await trimPreviewRun(workdirOf(config), config.destinationId, input.runId);
        return { deletedObjects };
      });
    },

    /** The applied state CURRENT points to; version null before the first commit. */
    async loadAppliedState(input: { config: DestinationConfigInput }): Promise<AppliedStateSummary> {
      return wrap(async () => {
        const config = configOf(input.config);
        const work = workdirOf(config);
        const cur = await readAppliedState(work, config.destinationId);
        const counts: Partial<Record<IdentifierType, number>> = {};
        let total = 0;
        for (const [t, v] of Object.entries(cur.manifest?.types ?? {}))
          if (v) {
            counts[t as IdentifierType] = v.count;
            total += v.count;
          }
        return {
          version: cur.pointer?.version ?? null,
          manifestUri: cur.pointer ? work.uriOf(cur.pointer.manifestKey) : null,
          audienceId: cur.manifest?.audienceId ?? null,
          counts,
          total,
        };
      });
    },
  };
}

export type AudienceDataActivities = ReturnType<typeof createAudienceDataActivities>;
