import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AudienceDataActivities, InputObject, PrepareResult } from '../activities/audienceData';
import type { AudienceStatus, TikTokAudienceActivities, TikTokTarget } from '../activities/tiktokAudience';
import { DestinationConfigSchema, audienceNameFor, problemsOf, type DestinationConfig, type DestinationConfigInput } from '../src/config/destination';
import { SearchAttributeKeys } from '../src/temporal/searchAttributes';
import { TaskQueues } from '../src/temporal/taskQueues';
import type { AudienceAction } from '../src/tiktok/types';
import {
  AUDIENCE_CAP,
  FailureTypes,
  MIN_TARGETABLE,
  MAX_REUPLOADS,
  REAUTHORIZATION_FAILURES,
  SEGMENT_CONFLICT_ADVICE,
  TIKTOK_ACTIVITY_NON_RETRYABLE,
  TOO_SMALL_ADVICE,
  audienceCalculateType,
  audienceSyncWorkflowId,
  chunks,
  cycleRunId,
  initialAudienceSyncStatus,
  msOf,
  nextPollDelay,
  rejectedByReason,
  shardGroups,
  shouldFlushNow,
  uploadCalculateType,
} from './audienceSyncPlan';

/*
 * The control plane of one destination audience: ONE long-running workflow per destination
 * (workflowId audience-sync:<destinationId>), so exactly one writer ever edits its TikTok
 * audience. Heavy work runs on the data queue, TikTok calls on the TikTok queue; the
 * workflow holds ids, URIs, counts and phases only, never identifiers or tokens.
 */

/** A change batch: an enters file and/or an exits file, with the sizes its sender knows. */
export interface ChangeBatch {
  enters?: InputObject;
  exits?: InputObject;
  /** Users in the batch (enters + exits), when the sender knows: 500,000 pending flush at once. */
  users?: number;
  /** Bytes of the batch's files, when known: 250 MB pending flush at once. */
  bytes?: number;
}

export interface AudienceSyncTiming {
  /** How often pending change batches flush and storage.snapshot re-syncs (default 1h). */
  cadence?: string;
  /** First processing poll delay (default 30s); doubles up to pollMax. */
  pollInitial?: string;
  /** Longest delay between processing polls (default 30m). */
  pollMax?: string;
  /**
   * Heartbeat timeout of streaming steps (default 2m for data work, 5m for uploads): how soon
   * a step whose worker died is retried on another worker, from its last heartbeat.
   */
  heartbeatTimeout?: string;
  /** Start-to-close timeout of single TikTok calls (default 5m): how soon a call whose worker died is retried. */
  tiktokCallTimeout?: string;
}

export type AudienceSyncPhase =
  | 'idle'
  | 'inspecting'
  | 'loading_state'
  | 'checking_cap'
  | 'preparing'
  | 'diffing'
  | 'building'
  | 'uploading'
  | 'creating'
  | 'waiting_for_processing'
  | 'processing_overdue'
  | 'replacing'
  | 'appending'
  | 'removing'
  | 'committing'
  | 'reauthorization_required'
  | 'synced'
  | 'too_small_to_target'
  | 'stale_snapshot'
  | 'audience_cap_reached'
  /** The source segment is already synced to another advertiser (the two-advertiser rule). */
  | 'segment_conflict'
  /** Looking up, by its literal name, the existing audience action append/replace feeds. */
  | 'finding_audience'
  /** The audience is gone from TikTok (deleted) or was never there: parked until recreateAudience. */
  | 'audience_missing'
  | 'error';

export interface LastSync {
  runId: string;
  kind: 'snapshot' | 'changes';
  /** The snapshot this sync read (uri and creation time), for snapshot syncs. */
  snapshot?: { uri: string; createdAt: string; bytes: number };
  /** Ids sent in APPEND (or REPLACE) files. */
  added: number;
  /** Ids sent in REMOVE files. */
  removed: number;
  /** Rows and values prepare refused, by reason (the rejects files list each one). */
  rejected: Record<string, number>;
  rejectsUris: string[];
  files: number;
  bytes: number;
  /** Ids in the applied state after this sync, per identifier type. */
  appliedCounts: Record<string, number>;
  finishedAt: string;
}

export interface SyncError {
  at: string;
  phase: AudienceSyncPhase;
  /** The failure type (e.g. InvalidRequest, SnapshotUnreadable) when known. */
  type: string | null;
  message: string;
}

export interface AudienceSyncStatus {
  destinationId: string;
  advertiserId: string;
  phase: AudienceSyncPhase;
  audienceId: string | null;
  paused: boolean;
  /** Sync cycles started by this workflow (across continue-as-new). */
  cycles: number;
  /** The cycle in progress, if any. */
  currentRunId: string | null;
  lastSync: LastSync | null;
  /** The last snapshot applied (change batches since then are on top of it). */
  appliedSnapshot: { uri: string; createdAt: string; bytes: number } | null;
  isValid: boolean | null;
  coverNum: number | null;
  /** What the operator should do when phase asks for action. */
  advice: string | null;
  /** When the cadence timer fires next (ISO). */
  nextRunAt: string;
  lastError: SyncError | null;
  pendingBatches: number;
  /**
   * The last requests (syncNow / snapshotLanded with a requestId) whose cycle has finished,
   * oldest first, at most ANSWERED_KEEP: a client waiting on its own request looks for its id
   * here instead of guessing from the cycle count (a cadence cycle may start in between).
   * Absent in runs of older code.
   */
  answered?: AnsweredRequest[];
}

/** Answered requests kept in status (enough for every client waiting at once on one destination). */
const ANSWERED_KEEP = 20;

export interface AnsweredRequest {
  requestId: string;
  /** The cycle that ran it (status.cycles at its end) and whether it succeeded. */
  cycle: number;
  ok: boolean;
}

/** What continue-as-new carries to the next run. */
export interface CarriedState {
  status: AudienceSyncStatus;
  pending: ChangeBatch[];
  flushRequested: boolean;
  /** A snapshot sync asked for and not yet run; no `snapshot` means the config's storage.snapshot. */
  snapshotRequest: SnapshotRequest | null;
  nextRunAtMs: number;
  /** recreateAudience was signalled and no cycle has completed since. */
  recreateRequested?: boolean;
  /** Request ids the next flush of change batches answers. */
  flushRequestIds?: string[];
}

/** Plain JSON an operator can paste into the Temporal UI's start form. */
export interface AudienceSyncInput {
  config: DestinationConfigInput;
  /** Sync this snapshot at once. */
  snapshot?: InputObject;
  /** Apply this change batch at once. */
  changes?: ChangeBatch;
  /** Task queues of the data and TikTok activities (default ttsync-data, ttsync-tiktok). */
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
  carried?: CarriedState;
}

export const audienceSyncStatusQuery = defineQuery<AudienceSyncStatus>('audienceSyncStatus');
/**
 * Run a cycle now: the given snapshot, else flush pending batches and re-sync storage.snapshot.
 * `onCadence` (a schedule tick) asks for what the cadence timer does: flush pending batches and
 * re-sync storage.snapshot only if the export changed, so a tick can never undo change batches
 * by re-applying an old export.
 */
export const syncNowSignal = defineSignal<[{ snapshot?: InputObject; onCadence?: boolean; requestId?: string }?]>('syncNow');
/** `requestId`, on this and syncNow: the caller's name for the request, listed in status.answered once its cycle ends. */
export const snapshotLandedSignal = defineSignal<[{ snapshot: InputObject; requestId?: string }]>('snapshotLanded');
export const addChangeBatchSignal = defineSignal<[ChangeBatch]>('addChangeBatch');
export const pauseSignal = defineSignal<[]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
/** The token was replaced: a workflow parked in reauthorization_required retries its step. */
export const reauthorizedSignal = defineSignal<[]>('reauthorized');
/**
 * The way out of audience_missing: the next cycle creates the audience (or finds one of the
 * configured literal name) and sends it the whole applied state plus whatever is pending.
 */
export const recreateAudienceSignal = defineSignal<[]>('recreateAudience');
/** Validated by DestinationConfigSchema before it is accepted; applies from the next cycle. */
export const updateConfigUpdate = defineUpdate<{ destinationId: string; appliesFrom: 'next_cycle' }, [DestinationConfigInput]>('updateConfig');

/** `onCadence`: asked for by the timer, not by anyone: an unchanged snapshot is skipped. */
export interface SnapshotRequest {
  snapshot?: InputObject;
  onCadence?: boolean;
  /** Requests this sync answers (a superseded snapshot's requests included). */
  requestIds?: string[];
}

/** `batches`: the pending change batches this cycle applies, in order (all of them, in one cycle). */
type SyncRequest = ({ kind: 'snapshot' } & SnapshotRequest) | { kind: 'changes'; batches: ChangeBatch[]; requestIds?: string[] };

function configProblems(input: unknown): { config: DestinationConfig } | { message: string } {
  const r = DestinationConfigSchema.safeParse(input);
  if (r.success) return { config: r.data };
  return { message: `invalid destination config: ${problemsOf(r.error).map((p) => `${p.path}: ${p.message}`).join('; ')}` };
}

/** The ApplicationFailure type behind an activity failure, if any. */
function failureTypeOf(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? null;
  if (err instanceof ApplicationFailure) return err.type ?? null;
  return null;
}

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure) return `${err.activityType ?? 'activity'}: ${err.cause?.message ?? err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export async function audienceSync(input: AudienceSyncInput): Promise<void> {
  const checked = configProblems(input?.config);
  // Bad input fails the run at once: retrying the same JSON cannot make it valid.
  if ('message' in checked) throw ApplicationFailure.nonRetryable(checked.message, 'InvalidConfig');
  let config = checked.config;
  let cadenceMs: number, pollInitialMs: number, pollMaxMs: number, dataHeartbeatMs: number, uploadHeartbeatMs: number, tiktokCallMs: number;
  try {
    cadenceMs = msOf(input.timing?.cadence, '1h');
    pollInitialMs = msOf(input.timing?.pollInitial, '30s');
    pollMaxMs = msOf(input.timing?.pollMax, '30m');
    dataHeartbeatMs = msOf(input.timing?.heartbeatTimeout, '2m');
    uploadHeartbeatMs = msOf(input.timing?.heartbeatTimeout, '5m');
    tiktokCallMs = msOf(input.timing?.tiktokCallTimeout, '5m');
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`invalid timing: ${(err as Error).message}`, 'InvalidConfig');
  }
  const queues = { data: input.queues?.data ?? TaskQueues.data, tiktok: input.queues?.tiktok ?? TaskQueues.tiktok };

  const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...TIKTOK_ACTIVITY_NON_RETRYABLE] };
  // Quick data-plane calls (stat, manifest read/write) do not heartbeat.
  const dataQuick = proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: '10m', retry });
  const dataHousekeeping = proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: '10m', retry: { ...retry, maximumAttempts: 3 } });
  // Streaming work heartbeats its progress; a lost worker is noticed within heartbeatTimeout
  // and the retry resumes from the last heartbeat.
  const dataHeavy = proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: '6h', heartbeatTimeout: dataHeartbeatMs, retry });
  const tiktok = proxyActivities<TikTokAudienceActivities>({ taskQueue: queues.tiktok, startToCloseTimeout: tiktokCallMs, retry });
  // AudienceBusy is the workflow's to handle: wait on durable timers until editable, then edit again.
  const tiktokEdit = proxyActivities<TikTokAudienceActivities>({
    taskQueue: queues.tiktok,
    startToCloseTimeout: tiktokCallMs,
    retry: { ...retry, nonRetryableErrorTypes: [...retry.nonRetryableErrorTypes, FailureTypes.AudienceBusy] },
  });
  const tiktokUpload = proxyActivities<TikTokAudienceActivities>({ taskQueue: queues.tiktok, startToCloseTimeout: '2h', heartbeatTimeout: uploadHeartbeatMs, retry });

  const carried = input.carried;
  const status: AudienceSyncStatus = carried?.status ?? initialAudienceSyncStatus(config);
  const pending: ChangeBatch[] = [...(carried?.pending ?? [])];
  let flushRequested = carried?.flushRequested ?? false;
  let snapshotRequest: SnapshotRequest | null = carried?.snapshotRequest ?? null;
  let nextRunAtMs = carried?.nextRunAtMs ?? Date.now() + cadenceMs;
  let reauthorized = false;
  let recreateRequested = carried?.recreateRequested ?? false;
  const flushRequestIds: string[] = [...(carried?.flushRequestIds ?? [])];
  if (input.snapshot) snapshotRequest = { snapshot: input.snapshot };
  if (input.changes) {
    pending.push(input.changes);
    flushRequested = true;
  }

  // `answered` always present from this code on: its absence tells a client the worker is older.
  const view = (): AudienceSyncStatus => ({ ...status, pendingBatches: pending.length, nextRunAt: new Date(nextRunAtMs).toISOString(), answered: status.answered ?? [] });

  /**
   * A request is answered by the last of the cycles it set going: the snapshot sync if one
   * is waiting (change batches flush before it), else the flush of pending batches.
   */
  function awaitLastCycle(requestId: string | undefined): void {
    if (requestId === undefined) return;
    if (snapshotRequest) (snapshotRequest.requestIds ??= []).push(requestId);
    else if (pending.length) flushRequestIds.push(requestId);
    else answer([requestId], false);
  }

  function answer(ids: readonly string[] | undefined, ok: boolean): void {
    if (!ids?.length) return;
    const list = (status.answered ??= []);
    for (const requestId of ids) list.push({ requestId, cycle: status.cycles, ok });
    list.splice(0, Math.max(0, list.length - ANSWERED_KEEP));
  }
  setHandler(audienceSyncStatusQuery, view);
  setHandler(syncNowSignal, (req) => {
    if (pending.length) flushRequested = true;
    if (req?.onCadence && !req.snapshot) {
      if (config.storage.snapshot && !snapshotRequest) snapshotRequest = { onCadence: true };
      awaitLastCycle(req.requestId);
      return;
    }
    const ids = snapshotRequest?.requestIds;
    if (req?.snapshot) snapshotRequest = { snapshot: req.snapshot, ...(ids ? { requestIds: ids } : {}) };
    // Asked for explicitly: runs even if the snapshot has not changed since the last sync.
    else if (config.storage.snapshot) snapshotRequest = { ...(snapshotRequest?.snapshot ? { snapshot: snapshotRequest.snapshot } : {}), ...(ids ? { requestIds: ids } : {}) };
    else if (!pending.length && !snapshotRequest) {
      status.lastError = {
        at: new Date(Date.now()).toISOString(),
        phase: status.phase,
        type: 'NothingToSync',
        message: 'syncNow without a snapshot: the config names no storage.snapshot and no change batch is pending',
      };
      if (req?.requestId) answer([req.requestId], false);
      return;
    }
    awaitLastCycle(req?.requestId);
  });
  setHandler(snapshotLandedSignal, (req) => {
    // The newest full snapshot supersedes one that is still waiting (and answers its requests).
    const ids = snapshotRequest?.requestIds;
    snapshotRequest = { snapshot: req.snapshot, ...(ids ? { requestIds: ids } : {}) };
    awaitLastCycle(req.requestId);
  });
  setHandler(addChangeBatchSignal, (batch) => {
    pending.push(batch);
    if (shouldFlushNow(pending)) flushRequested = true;
  });
  setHandler(pauseSignal, () => {
    status.paused = true;
  });
  setHandler(resumeSignal, () => {
    status.paused = false;
    reauthorized = true;
  });
  setHandler(reauthorizedSignal, () => {
    reauthorized = true;
  });
  setHandler(recreateAudienceSignal, () => {
    recreateRequested = true;
    // Forget the missing audience; an audience a failed recreate cycle made is remembered again.
    status.audienceId = null;
  });
  setHandler(
    updateConfigUpdate,
    (next) => {
      const r = configProblems(next);
      if ('config' in r) config = r.config;
      return { destinationId: config.destinationId, appliesFrom: 'next_cycle' as const };
    },
    {
      validator: (next) => {
        const r = configProblems(next);
        if ('message' in r) throw new Error(r.message);
        // One workflow is the one writer of one audience; another destination or advertiser is another workflow.
        if (r.config.destinationId !== config.destinationId)
          throw new Error(`destinationId cannot change (${config.destinationId} → ${r.config.destinationId}): start the workflow ${audienceSyncWorkflowId(r.config.destinationId)} instead`);
        if (r.config.advertiserId !== config.advertiserId)
          throw new Error(`advertiserId cannot change (${config.advertiserId} → ${r.config.advertiserId}): an audience lives in one advertiser; configure a new destination`);
      },
    },
  );

  let syncState = '';
  const setPhase = (phase: AudienceSyncPhase): void => {
    status.phase = phase;
    if (phase === syncState) return;
    syncState = phase;
    upsertSearchAttributes([{ key: SearchAttributeKeys.SyncState, value: phase }]);
  };
  const attrs = [
    { key: SearchAttributeKeys.DestinationId, value: config.destinationId },
    { key: SearchAttributeKeys.AdvertiserId, value: config.advertiserId },
    { key: SearchAttributeKeys.Lifecycle, value: 'audience_sync' },
  ];
  upsertSearchAttributes(status.audienceId ? [...attrs, { key: SearchAttributeKeys.AudienceId, value: status.audienceId }] : attrs);
  setPhase(status.phase);

  const errorOf = (err: unknown): SyncError => ({ at: new Date(Date.now()).toISOString(), phase: status.phase, type: failureTypeOf(err), message: messageOf(err) });

  /**
   * Runs a TikTok step; on an expired or revoked token (or an unresolvable secret) parks in
   * reauthorization_required until signalled, then runs the same step again. Nothing is
   * lost: the data plane's results stay in storage and APPEND/REMOVE are set operations.
   */
  async function withReauth<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const type = failureTypeOf(err);
        if (type === null || !REAUTHORIZATION_FAILURES.includes(type)) throw err;
        const was = status.phase;
        status.lastError = errorOf(err);
        status.advice = `update the secret ${config.accessToken} with a valid token for advertiser ${config.advertiserId}, then signal "reauthorized"`;
        setPhase('reauthorization_required');
        log.warn('audience sync parked: reauthorization required', { destinationId: config.destinationId, type });
        reauthorized = false;
        await condition(() => reauthorized);
        reauthorized = false;
        status.lastError = null;
        status.advice = null;
        setPhase(was);
      }
    }
  }

  /**
   * Waits until TikTok reports the audience valid (editable): polls on durable timers with
   * exponential backoff. Past maxProcessingWait it enters processing_overdue, visible in
   * status and SyncState, and keeps polling: it never gives up silently.
   */
  async function waitUntilValid(cfg: DestinationConfig, target: TikTokTarget, audienceId: string): Promise<AudienceStatus> {
    const started = Date.now();
    const maxWaitMs = msOf(cfg.maxProcessingWait, '48h');
    const resumeTo = status.phase;
    let delay = pollInitialMs;
    let overdue = false;
    setPhase('waiting_for_processing');
    for (;;) {
      const s = await withReauth(() => tiktok.getCustomAudienceStatus({ ...target, audienceId }));
      status.isValid = s.isValid;
      status.coverNum = s.coverNum;
      if (s.isValid) {
        if (overdue) {
          status.lastError = null;
          status.advice = null;
        }
        setPhase(resumeTo);
        return s;
      }
      if (!overdue && Date.now() - started >= maxWaitMs) {
        overdue = true;
        status.lastError = {
          at: new Date(Date.now()).toISOString(),
          phase: 'processing_overdue',
          type: null,
          message: `TikTok has been processing audience ${audienceId} for longer than maxProcessingWait (${cfg.maxProcessingWait})${s.errorMessage ? `: ${s.errorMessage}` : ''}`,
        };
        status.advice = 'check the audience in TikTok Ads Manager; ttsync keeps polling and continues when it becomes valid';
        log.warn('audience processing overdue', { destinationId: cfg.destinationId, audienceId });
      }
      if (overdue) setPhase('processing_overdue');
      else if (status.phase !== 'waiting_for_processing') setPhase('waiting_for_processing');
      await sleep(delay);
      delay = nextPollDelay(delay, pollMaxMs);
    }
  }

  /** One edit, preceded by the processing wait; AudienceBusy means "wait again", not an error. */
  async function edit(cfg: DestinationConfig, target: TikTokTarget, audienceId: string, action: AudienceAction, filePaths: string[]): Promise<void> {
    for (;;) {
      await waitUntilValid(cfg, target, audienceId);
      setPhase(action === 'REMOVE' ? 'removing' : action === 'REPLACE' ? 'replacing' : 'appending');
      try {
        await withReauth(() => tiktokEdit.updateCustomAudience({ ...target, audienceId, action, filePaths }));
        return;
      } catch (err) {
        if (failureTypeOf(err) !== FailureTypes.AudienceBusy) throw err;
      }
    }
  }

  const setAudienceId = (id: string): void => {
    if (status.audienceId === id) return;
    status.audienceId = id;
    upsertSearchAttributes([{ key: SearchAttributeKeys.AudienceId, value: id }]);
  };

  async function cycle(cfg: DestinationConfig, runId: string, req: SyncRequest): Promise<void> {
    const phaseBefore = status.phase;
    const target: TikTokTarget = { advertiserId: cfg.advertiserId, accessTokenRef: cfg.accessToken, ...(cfg.appId ? { appId: cfg.appId } : {}) };
    if (req.kind === 'snapshot') {
      setPhase('inspecting');
      const info = await dataQuick.inspectSnapshot({ config: cfg, ...(req.snapshot ? { snapshot: req.snapshot } : {}) });
      if (info.stale) {
        status.lastError = {
          at: new Date(Date.now()).toISOString(),
          phase: 'stale_snapshot',
          type: 'StaleSnapshot',
          message: `snapshot ${info.uri} was created ${info.createdAt}, older than the readiness window (${cfg.readinessWindow}); nothing was sent to TikTok`,
        };
        status.advice = 'export a fresh snapshot and signal snapshotLanded (or syncNow)';
        setPhase('stale_snapshot');
        return;
      }
      // The hourly re-sync of storage.snapshot skips an export it has already applied.
      // Re-applying it after change batches would undo them.
      const last = status.appliedSnapshot;
      if (req.onCadence && !recreateRequested && last && last.uri === info.uri && last.createdAt === info.createdAt && last.bytes === info.bytes) {
        setPhase(phaseBefore);
        return;
      }
    }

    // The two-advertiser rule, before any TikTok call, whichever way the workflow was started.
    if (patched('segment-claim')) await dataQuick.claimSourceSegment({ config: cfg });

    setPhase('loading_state');
    const applied = await dataQuick.loadAppliedState({ config: cfg });
    // The manifest names the audience its applied state describes; the carried id covers an
    // audience created by a cycle that failed before its commit (a new create could make a
    // second audience when the name is a template with the time in it). Recreating, only the
    // latter counts: the manifest's audience is the one that went missing.
    const recreating = recreateRequested;
    let audienceId = recreating ? status.audienceId : (applied.audienceId ?? cfg.audienceId ?? status.audienceId ?? null);
    let existedBefore = audienceId !== null && !recreating;
    if (audienceId) setAudienceId(audienceId);
    if (!audienceId && !recreating && cfg.action !== 'create') {
      // append/replace feed an audience that exists: found by its literal name, never created.
      setPhase('finding_audience');
      const name = audienceNameFor(cfg, new Date(Date.now()));
      const found = await withReauth(() => tiktok.findCustomAudience({ ...target, name }));
      if (!found.audienceId)
        throw ApplicationFailure.create({
          type: FailureTypes.AudienceNotFound,
          nonRetryable: true,
          message: `action "${cfg.action}" feeds an existing audience, but advertiser ${cfg.advertiserId} has no audience named "${name}"; nothing was uploaded`,
        });
      audienceId = found.audienceId;
      existedBefore = true;
      setAudienceId(audienceId);
    }
    if (!audienceId) {
      setPhase('checking_cap');
      const count = await withReauth(() => tiktok.countCustomAudiences(target));
      if (count >= AUDIENCE_CAP) {
        status.lastError = {
          at: new Date(Date.now()).toISOString(),
          phase: 'audience_cap_reached',
          type: 'AudienceCapReached',
          message: `advertiser ${cfg.advertiserId} already has ${count} custom audiences, TikTok's cap is ${AUDIENCE_CAP}; nothing was uploaded`,
        };
        status.advice = 'delete unused audiences in TikTok, or set audienceId to feed an existing audience';
        setPhase('audience_cap_reached');
        return;
      }
    }

    setPhase('preparing');
    const prepared: PrepareResult =
      req.kind === 'snapshot'
        ? await dataHeavy.prepareSnapshot({ config: cfg, runId, ...(req.snapshot ? { snapshot: req.snapshot } : {}) })
        : await dataHeavy.prepareChangeBatch({
            config: cfg,
            runId,
            batches: req.batches.map((b) => ({ ...(b.enters ? { enters: b.enters } : {}), ...(b.exits ? { exits: b.exits } : {}) })),
          });
    setPhase('diffing');
    // Recreating, the new audience gets the whole state after this run, not only its changes.
    const diffs = await Promise.all(
      shardGroups(4).map(([from, to]) => dataHeavy.diffShards({ config: cfg, runId, baseVersion: applied.version, from, to, ...(recreating ? { resend: true } : {}) })),
    );
    const diffUris = diffs.map((d) => d.summaryUri);
    setPhase('building');
    const built = await dataHeavy.buildCustomerFiles({ config: cfg, runId, diffUris });
    const inputs = [prepared.snapshot, ...(prepared.changes ?? [{ enters: prepared.enters, exits: prepared.exits }]).flatMap((b) => [b.enters, b.exits])];

    const appendFiles = built.files.filter((f) => f.action === 'APPEND');
    const removeFiles = cfg.syncMode === 'mirror' ? built.files.filter((f) => f.action === 'REMOVE') : [];
    const toSend = [...appendFiles, ...removeFiles];
    if (toSend.length && (audienceId || appendFiles.length)) {
      const audienceType = audienceCalculateType(cfg);
      const pathOf = new Map<string, string>();
      const upload = async (files: typeof toSend): Promise<void> => {
        setPhase('uploading');
        const uploaded = await withReauth(() =>
          tiktokUpload.uploadCustomerFiles({
            ...target,
            files: files.map((f) => ({ uri: f.uri, md5: f.md5, calculateType: uploadCalculateType(audienceType, f.calculateType) })),
          }),
        );
        for (const u of uploaded) pathOf.set(u.uri, u.filePath);
      };
      const paths = (files: typeof toSend): string[] =>
        files.map((f) => {
          const p = pathOf.get(f.uri);
          if (p === undefined) throw ApplicationFailure.create({ type: 'UploadIncomplete', message: `upload returned no file path for ${f.uri}` });
          return p;
        });
      await upload(toSend);
      // The calls that use file paths, in order; a call's files and every later call's.
      const steps: { action: AudienceAction | 'CREATE'; files: typeof toSend }[] = [];
      const appendChunks = chunks(appendFiles);
      if (!audienceId) steps.push({ action: 'CREATE', files: appendChunks.shift() ?? [] });
      // action "replace" on an audience ttsync has never written: its first edit replaces
      // whatever TikTok holds, so the audience ends up equal to the snapshot.
      const replaceFirst = cfg.action === 'replace' && applied.version === null && existedBefore && req.kind === 'snapshot';
      for (const [i, files] of appendChunks.entries()) steps.push({ action: replaceFirst && i === 0 ? 'REPLACE' : 'APPEND', files });
      for (const files of chunks(removeFiles)) steps.push({ action: 'REMOVE', files });
      let reuploads = 0;
      /**
       * Runs step i with its files' paths. TikTok's file paths last 24 hours; a long processing
       * wait or reauthorization park can outlive them: the files not sent yet (uploaded
       * together, so they expire together) are uploaded again and the step runs again, from
       * the same built files: nothing is rebuilt.
       */
      const withPaths = async (i: number, call: (filePaths: string[]) => Promise<void>): Promise<void> => {
        for (;;) {
          try {
            return await call(paths(steps[i]!.files));
          } catch (err) {
            if (failureTypeOf(err) !== FailureTypes.FilePathExpired || reuploads >= MAX_REUPLOADS) throw err;
            reuploads += 1;
            log.warn('file paths expired before use: uploading the unsent files again', { destinationId: cfg.destinationId, runId, reuploads });
            await upload(steps.slice(i).flatMap((s) => s.files));
          }
        }
      };
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i]!;
        if (step.action === 'CREATE') {
          await withPaths(i, async (filePaths) => {
            setPhase('creating');
            const name = audienceNameFor(cfg, new Date(Date.now()));
            const created = await withReauth(() =>
              tiktok.createCustomAudience({ ...target, name, calculateType: audienceType, filePaths, ...(cfg.retentionDays ? { retentionDays: cfg.retentionDays } : {}) }),
            );
            audienceId = created.audienceId;
            setAudienceId(audienceId);
            // Found rather than created (a retried create, or an audience of that name): its
            // first files were not added by the create, so they go in as an APPEND.
            if (!created.created) steps.splice(i + 1, 0, { action: 'APPEND', files: step.files });
          });
        } else {
          const id = audienceId;
          if (id === null) throw ApplicationFailure.create({ type: 'AudienceNotFound', message: 'no audience to edit' });
          await withPaths(i, (filePaths) => edit(cfg, target, id, step.action as AudienceAction, filePaths));
        }
      }
    }

    // Only now has TikTok accepted every file: the applied state may move on.
    setPhase('committing');
    const committed = await dataQuick.commitAppliedState({ config: cfg, runId, baseVersion: applied.version, audienceId, diffUris });
    if (recreating) recreateRequested = false;
    // Old run folders go once a commit no longer needs them. Housekeeping: a failure is logged,
    // never fails the cycle (the next commit collects what is left).
    if (patched('run-gc')) {
      try {
        await dataHousekeeping.collectRunGarbage({ config: cfg });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('run folder garbage collection failed', { destinationId: cfg.destinationId, runId, type: failureTypeOf(err) });
      }
    }

    let final: AudienceStatus | null = null;
    if (audienceId) final = await waitUntilValid(cfg, target, audienceId);
    status.lastSync = {
      runId,
      kind: req.kind,
      ...(prepared.snapshot ? { snapshot: { uri: prepared.snapshot.uri, createdAt: prepared.snapshot.createdAt, bytes: prepared.snapshot.bytes } } : {}),
      added: built.appendIds,
      removed: removeFiles.reduce((n, f) => n + f.ids, 0),
      rejected: rejectedByReason(inputs),
      rejectsUris: inputs.flatMap((i) => (i ? [i.rejectsUri] : [])),
      files: toSend.length,
      bytes: toSend.reduce((n, f) => n + f.bytes, 0),
      appliedCounts: Object.fromEntries(Object.entries(committed.counts).map(([t, n]) => [t, n ?? 0])),
      finishedAt: new Date(Date.now()).toISOString(),
    };
    if (status.lastSync.snapshot) status.appliedSnapshot = status.lastSync.snapshot;
    status.lastError = null;
    status.advice = null;
    // cover_num is optional in TikTok's answer: unknown is not "too small" (runs from before the patch read it as 0).
    const coverUnknown = final?.coverNum === null && patched('unknown-cover-num-is-not-too-small');
    if (final && !coverUnknown && (final.coverNum ?? 0) < MIN_TARGETABLE) {
      status.advice = `audience ${audienceId} matches ${final.coverNum ?? 0} TikTok users, fewer than ${MIN_TARGETABLE}, so it cannot be targeted: ${TOO_SMALL_ADVICE}`;
      setPhase('too_small_to_target');
    } else setPhase('synced');
  }

  /** Runs one cycle; false when it failed (recorded in status). */
  async function runCycle(req: SyncRequest): Promise<boolean> {
    status.cycles += 1;
    const cfg = config;
    const runId = cycleRunId(cfg.destinationId, status.cycles, workflowInfo().runId);
    status.currentRunId = runId;
    try {
      await cycle(cfg, runId, req);
      return true;
    } catch (err) {
      // A failed step fails the cycle, not the destination: record it and wait for the next
      // trigger. Anything that is not a failure (a bug) fails the workflow task instead, so
      // a fixed deployment can carry on from here.
      if (!(err instanceof ActivityFailure) && !(err instanceof ApplicationFailure)) throw err;
      status.lastError = errorOf(err);
      status.advice = null;
      if (status.lastError.type === FailureTypes.AudienceNotFound) {
        const gone = status.audienceId;
        status.advice = gone
          ? `audience ${gone} no longer exists in advertiser ${cfg.advertiserId} (deleted in TikTok?); ttsync holds every cycle until you signal "recreateAudience": the next cycle then creates the audience again and sends it the whole applied state plus what is pending`
          : `create the audience in TikTok under its configured name and signal "recreateAudience" (the next cycle finds it by name), or signal "recreateAudience" to let ttsync create it`;
        log.warn('audience sync parked: audience missing', { destinationId: cfg.destinationId, runId });
        setPhase('audience_missing');
        return false;
      }
      if (status.lastError.type === FailureTypes.UnexpectedResponse) {
        const failure = err instanceof ActivityFailure ? err.cause : err;
        const endpoint = failure instanceof ApplicationFailure ? (failure.details?.[0] as { endpoint?: string } | undefined)?.endpoint : undefined;
        status.advice = `TikTok's answer to ${endpoint ?? 'a TikTok call'} lacked a field ttsync needs (see lastError); ttsync retries at the next cycle; if it persists, report the request_id in lastError to TikTok support`;
      }
      if (status.lastError.type === FailureTypes.SegmentConflict) {
        status.advice = SEGMENT_CONFLICT_ADVICE;
        log.warn('audience sync refused: source segment claimed by another advertiser', { destinationId: cfg.destinationId, runId });
        setPhase('segment_conflict');
        return false;
      }
      log.error('audience sync cycle failed', { destinationId: cfg.destinationId, runId, type: status.lastError.type });
      setPhase('error');
      return false;
    } finally {
      status.currentRunId = null;
    }
  }

  const nextRequest = (): SyncRequest | null => {
    if (status.paused) return null;
    // Parked: sending to an audience that is gone would fail the same way every time.
    if (status.phase === 'audience_missing' && !recreateRequested) return null;
    if (flushRequested && pending.length) return { kind: 'changes', batches: [] };
    if (snapshotRequest) return { kind: 'snapshot', ...snapshotRequest };
    // Nothing new to send: the recreate cycle re-states the applied state alone.
    if (recreateRequested) return { kind: 'changes', batches: [] };
    return null;
  };

  for (;;) {
    if (Date.now() >= nextRunAtMs) {
      if (pending.length) flushRequested = true;
      if (config.storage.snapshot && !snapshotRequest) snapshotRequest = { onCadence: true };
      nextRunAtMs = Date.now() + cadenceMs;
    }
    const req = nextRequest();
    if (req) {
      if (req.kind === 'changes') {
        // Every pending batch in one cycle: one prepare, one diff, one processing wait.
        // (Runs from before the patch took one batch per cycle; their replay must too.)
        req.batches = pending.splice(0, patched('flush-all-batches') ? pending.length : 1);
        if (!pending.length) {
          flushRequested = false;
          req.requestIds = flushRequestIds.splice(0);
        }
      } else snapshotRequest = null;
      const ok = await runCycle(req);
      answer(req.requestIds, ok);
      // Batches apply in order, so a failed one goes back to the head of the queue and
      // runs again at the next cadence or syncNow (status shows the error meanwhile).
      if (!ok && req.kind === 'changes') pending.unshift(...req.batches);
    }
    if (req || workflowInfo().continueAsNewSuggested) {
      // Each cycle starts a fresh run, so history stays bounded however long the destination lives.
      await condition(allHandlersFinished);
      const carriedNext: CarriedState = {
        status: view(),
        pending: [...pending],
        flushRequested,
        snapshotRequest,
        nextRunAtMs,
        ...(recreateRequested ? { recreateRequested } : {}),
        ...(flushRequestIds.length ? { flushRequestIds: [...flushRequestIds] } : {}),
      };
      await continueAsNew<typeof audienceSync>({
        config,
        ...(input.queues ? { queues: input.queues } : {}),
        ...(input.timing ? { timing: input.timing } : {}),
        carried: carriedNext,
      });
    }
    await condition(() => nextRequest() !== null || workflowInfo().continueAsNewSuggested, Math.max(1, nextRunAtMs - Date.now()));
  }
}
