import { randomUUID } from 'node:crypto';
import { QueryNotRegisteredError, WorkflowContinuedAsNewError, WorkflowFailedError, WorkflowNotFoundError, isGrpcDeadlineError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  AudienceSyncWorkflowType,
  audienceSyncConfigQuery, audienceSyncStatusQuery, snapshotLandedSignal, syncNowSignal, updateConfigUpdate, type AudienceSyncInput, type AudienceSyncPhase, type AudienceSyncStatus, type AudienceSyncTiming,
  type AudienceSyncWorkflow,
  type InputObject,
  type SnapshotLandedArgs,
  type SyncNowArgs,
} from './messages';
import { WorkflowIds } from '../temporal/workflowIds';
import { askClosedRun } from './closedQuery';
import { parseDestinationConfig, type DestinationConfig, type DestinationConfigInput } from './config';
import { TaskQueues } from '../temporal/taskQueues';

/*
 * The client side of the audience sync control plane: ask the ONE workflow of a destination
 * to sync (starting it when missing), follow a cycle to its end, read its status. Used by
 * the CLI and by the schedule tick activity; it carries ids, URIs and secret references,
 * never identifiers or tokens.
 */

/**
 * A cycle ended in one of these; the phase says how (segment_conflict: another advertiser
 * claims the segment; audience_missing: the audience is gone from TikTok).
 */
export const END_PHASES = ['synced', 'too_small_to_target', 'stale_snapshot', 'audience_cap_reached', 'segment_conflict', 'audience_missing', 'audience_conflict', 'error'] as const satisfies readonly AudienceSyncPhase[];
/** Ended well: the audience holds the snapshot (too_small_to_target is synced, just not targetable yet). */
export const SUCCESS_PHASES: readonly AudienceSyncPhase[] = ['synced', 'too_small_to_target'];
/**
 * Parked, not ended: the workflow waits for an operator (new token + "reauthorized") or for
 * TikTok (processing past maxProcessingWait; it keeps polling). A waiter reports these with
 * their advice and keeps waiting: the cycle resumes by itself once the cause is fixed.
 */
export const PARK_PHASES = ['reauthorization_required', 'processing_overdue', 'audience_missing'] as const satisfies readonly AudienceSyncPhase[];

export class AudienceSyncNotFoundError extends Error {
  override name = 'AudienceSyncNotFoundError';
  constructor(readonly destinationId: string) {
    super(
      `no audience sync workflow for destination "${destinationId}" (workflow id ${WorkflowIds.audienceSync(destinationId)}); start one with: ttsync audience sync --config <destination.json>`,
    );
  }
}

/** A query or update got no answer: no worker polls the workflow's task queue. */
export class NoWorkerAnswerError extends Error {
  override name = 'NoWorkerAnswerError';
  constructor(workflowId: string, taskQueue: string, ms: number) {
    super(`no worker answered ${workflowId} within ${Math.round(ms / 1000)}s: is a ttsync worker polling the task queue ${taskQueue}?`);
  }
}

export class NothingToSyncError extends Error {
  override name = 'NothingToSyncError';
}

/** How a destination's workflow ended: what `audience status` shows of a run that is not running. */
export interface AudienceSyncClosure {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: FAILED, TERMINATED, TIMED_OUT, CANCELED, COMPLETED. */
  executionStatus: string;
  closedAt: string | null;
  /**
   * Why it ended, from its close event: the failure's type (an ApplicationFailure's type such
   * as InvalidConfig or WrongWorkflowId; TerminatedFailure, TimeoutFailure, CancelledFailure)
   * and message (a terminate's reason). null when it completed.
   */
  failure: { type: string | null; message: string } | null;
  /** The status the closed run still answers (a worker replays it), when it had one: its last phase and counts. */
  lastStatus: AudienceSyncStatus | null;
  /** Why no worker gave that status within the deadline, when the run had one to give. */
  lastStatusUnanswered?: string;
}

/** The workflow ended (failed, terminated, ...) instead of running its cycle. */
export class AudienceSyncClosedError extends Error {
  override name = 'AudienceSyncClosedError';
  constructor(
    readonly workflowId: string,
    readonly workflowStatus: string,
    readonly closure?: AudienceSyncClosure,
  ) {
    const why = closure?.failure ? `: ${closure.failure.type ? `${closure.failure.type}: ` : ''}${closure.failure.message}` : '';
    super(`audience sync workflow ${workflowId} is ${workflowStatus.toLowerCase()}, not running${why}; start it again with: ttsync audience sync --config <destination.json>`);
  }
}

export class AudienceWaitTimeoutError extends Error {
  override name = 'AudienceWaitTimeoutError';
  constructor(
    readonly workflowId: string,
    readonly last: AudienceSyncStatus | undefined,
    timeoutMs: number,
  ) {
    super(
      `the sync cycle did not finish within ${Math.round(timeoutMs / 1000)}s (last phase: ${last?.phase ?? 'unknown'}); it keeps running in ${workflowId}: follow it with ttsync audience status ${last?.destinationId ?? ''}`.trim(),
    );
  }
}

export interface AudienceSyncRequest {
  config: DestinationConfig | DestinationConfigInput;
  /** Sync this snapshot (signal snapshotLanded); without it, syncNow (pending batches and storage.snapshot). */
  snapshot?: InputObject;
  /** Control queue the workflow runs on when it has to be started (default ttsync-control). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
  /**
   * When the workflow is already running, send it this config first (updateConfig, validated
   * by the workflow; applies from its next cycle). Default true: the config given is the one
   * that syncs. A change of destinationId or advertiserId is refused by the workflow.
   */
  updateConfig?: boolean;
  /**
   * Asked for by a schedule, not a person: the workflow is started when missing and does what
   * its cadence timer does (flushes pending batches, re-syncs storage.snapshot only when the
   * export changed), so a tick never re-applies an old export over change batches. A
   * destination with nothing to sync is only started (kept alive for change batches).
   */
  onCadence?: boolean;
  /** How long a running workflow's worker has to answer the status query and config update (default 30s). */
  answerTimeoutMs?: number;
  /** Names this request in status.answered once its cycle ends (default: a new random id). */
  requestId?: string;
}

export interface AudienceSyncRequested {
  workflowId: string;
  /** True when no run was open and this request started one. */
  started: boolean;
  /** status.cycles before the request (0 when it was not running): the requested cycle is numbered above it. */
  cyclesBefore: number;
  /** True once the sync signal is sent (an onCadence one may run no cycle: nothing changed). */
  signalled: boolean;
  /** The running workflow will not start the requested cycle until an operator acts (paused, audience_missing). */
  heldBy?: string;
  /**
   * The request's id: give it to waitForAudienceCycle (status.answered lists it when its
   * cycle ends). None for onCadence requests: nobody waits on a tick, which may run nothing.
   */
  requestId?: string;
}

function isRunning(d: WorkflowExecutionDescription): boolean {
  return d.status.name === 'RUNNING';
}

async function describeOrUndefined(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Retries the status query across the short gap between a run's end and its continue-as-new successor. */
async function queryStatus(client: Client, workflowId: string, attempts = 20): Promise<AudienceSyncStatus> {
  const handle = client.workflow.getHandle(workflowId);
  for (let i = 1; ; i++) {
    try {
      return await handle.query(audienceSyncStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || isGrpcDeadlineError(err) || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Queries and updates are answered by a worker: without one they would wait for as long
 * as the server lets them. A deadline turns that into an error that names the queue.
 */
async function answered<T>(client: Client, desc: WorkflowExecutionDescription, ms: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + ms, fn);
  } catch (err) {
    if (isGrpcDeadlineError(err)) throw new NoWorkerAnswerError(desc.workflowId, desc.taskQueue, ms);
    throw err;
  }
}

/**
 * Whether the running workflow already holds this config (both parsed by the same schema, so
 * equal configs serialize alike). A schedule tick asks every cadence: sending the Update only
 * when something changed keeps Updates rare (see audienceSyncConfigQuery for why that
 * matters). A workflow from before the query cannot say: it gets the Update, as before.
 */
async function holdsConfig(client: Client, desc: WorkflowExecutionDescription, ms: number, config: DestinationConfig): Promise<boolean> {
  try {
    const held = await answered(client, desc, ms, () => client.workflow.getHandle(desc.workflowId).query(audienceSyncConfigQuery));
    return JSON.stringify(held) === JSON.stringify(config);
  } catch (err) {
    if (err instanceof NoWorkerAnswerError) throw err;
    return false;
  }
}

/**
 * Starts the destination's workflow or signals the running one: signalWithStart keeps it to
 * one writer per destination whoever asks. The signal carries a request id, which the
 * workflow lists in status.answered when the cycle that ran the request ends: a waiter
 * given it cannot mistake a cadence cycle that started just before the signal for its own.
 */
export async function requestAudienceSync(client: Client, opts: AudienceSyncRequest): Promise<AudienceSyncRequested> {
  // Validated here too, so a bad file is reported before anything reaches Temporal.
  const config = parseDestinationConfig(opts.config, 'config');
  const workflowId = WorkflowIds.audienceSync(config.destinationId);
  const desc = await describeOrUndefined(client, workflowId);
  const running = desc !== undefined && isRunning(desc);
  let cyclesBefore = 0;
  let pendingBatches = 0;
  let heldBy: string | undefined;
  const answerMs = opts.answerTimeoutMs ?? 30_000;
  if (running) {
    const status = await answered(client, desc, answerMs, () => queryStatus(client, workflowId));
    cyclesBefore = status.cycles;
    pendingBatches = status.pendingBatches;
    if (status.paused) heldBy = 'the workflow is paused: signal "resume" to let it sync';
    else if (status.phase === 'audience_missing') heldBy = `audience_missing: ${status.advice ?? 'signal "recreateAudience"'}`;
  }
  const nothingToSync = !opts.snapshot && !config.storage.snapshot && pendingBatches === 0;
  if (nothingToSync && !opts.onCadence)
    throw new NothingToSyncError(
      `nothing to sync for destination "${config.destinationId}": give a snapshot (--snapshot <uri>), or set storage.snapshot in the config (no change batch is pending)`,
    );
  const handle = client.workflow.getHandle(workflowId);
  if (running && opts.updateConfig !== false && !(await holdsConfig(client, desc, answerMs, config)))
    await answered(client, desc, answerMs, () => handle.executeUpdate(updateConfigUpdate, { args: [config] }));

  const input: AudienceSyncInput = {
    config,
    ...(opts.queues ? { queues: opts.queues } : {}),
    ...(opts.timing ? { timing: opts.timing } : {}),
  };
  const common = { workflowId, taskQueue: opts.taskQueue ?? TaskQueues.control, args: [input] as [AudienceSyncInput], ...startMetadata(config) };
  const result = { workflowId, started: !running, cyclesBefore, ...(heldBy ? { heldBy } : {}) };
  if (opts.onCadence && !opts.snapshot) {
    // The workflow applies the cadence rules itself, in the same step as its own timer:
    // flush pending batches, re-sync storage.snapshot only when the export changed.
    await client.workflow.signalWithStart<AudienceSyncWorkflow, SyncNowArgs>(AudienceSyncWorkflowType.sync, { ...common, signal: syncNowSignal, signalArgs: [{ onCadence: true }] });
    return { ...result, signalled: true };
  }
  const requestId = opts.requestId ?? randomUUID();
  if (opts.snapshot) await client.workflow.signalWithStart<AudienceSyncWorkflow, SnapshotLandedArgs>(AudienceSyncWorkflowType.sync, { ...common, signal: snapshotLandedSignal, signalArgs: [{ snapshot: opts.snapshot, requestId }] });
  else await client.workflow.signalWithStart<AudienceSyncWorkflow, SyncNowArgs>(AudienceSyncWorkflowType.sync, { ...common, signal: syncNowSignal, signalArgs: [{ requestId }] });
  return { ...result, signalled: true, requestId };
}

/**
 * What the Temporal UI shows at the top of the workflow's page (user metadata of the start;
 * the workflow's own current details show its phase and last sync). Ids and names only.
 */
export function startMetadata(config: DestinationConfig): { staticSummary: string; staticDetails: string } {
  const name = typeof config.audienceName === 'string' ? `"${config.audienceName}"` : `template "${config.audienceName.template}"`;
  return {
    staticSummary: `TikTok audience sync: destination ${config.destinationId} → advertiser ${config.advertiserId}`,
    staticDetails: [
      `Audience ${config.audienceId ?? name} (action ${config.action}, ${config.syncMode}), source segment ${config.sourceSegmentId}`,
      ...(config.storage.snapshot ? [`Snapshot ${config.storage.snapshot}`] : []),
      `Status: \`ttsync audience status ${config.destinationId}\` (query audienceSyncStatus)`,
    ].join('\n\n'),
  };
}

/** A destination's workflow as `audience status` reads it: the running one's status, or how the last run ended. */
export type AudienceSyncState = { running: true; workflowId: string; status: AudienceSyncStatus } | { running: false; workflowId: string; closure: AudienceSyncClosure };

/**
 * The status of a destination's sync workflow, or how its last run ended (failure type and
 * message from the close event); AudienceSyncNotFoundError when there is none.
 */
export async function readAudienceSync(client: Client, destinationId: string): Promise<AudienceSyncState> {
  const workflowId = WorkflowIds.audienceSync(destinationId);
  const desc = await describeOrUndefined(client, workflowId);
  if (!desc) throw new AudienceSyncNotFoundError(destinationId);
  if (!isRunning(desc)) return { running: false, workflowId, closure: await closureOf(client, desc) };
  return { running: true, workflowId, status: await answered(client, desc, 30_000, () => queryStatus(client, workflowId)) };
}

/** The status of a destination's running sync workflow; AudienceSyncNotFoundError when there is none, AudienceSyncClosedError (with why) when it ended. */
export async function getAudienceStatus(client: Client, destinationId: string): Promise<AudienceSyncStatus> {
  const state = await readAudienceSync(client, destinationId);
  if (!state.running) throw new AudienceSyncClosedError(state.workflowId, state.closure.executionStatus, state.closure);
  return state.status;
}

/** How long a closed run may take to answer its status (a worker replays its history); none answers without a worker. */
const CLOSED_QUERY_MS = 5_000;

/**
 * How a closed run ended: its close event's failure, read through result() of that very run
 * (it returns at once: the run is closed), and the last status it answers, if any. A run that
 * failed on its input never set its query handler: lastStatus is null then.
 */
async function closureOf(client: Client, desc: WorkflowExecutionDescription): Promise<AudienceSyncClosure> {
  const handle = client.workflow.getHandle(desc.workflowId, desc.runId, { followRuns: false });
  let failure: AudienceSyncClosure['failure'] = null;
  try {
    await client.withDeadline(Date.now() + 10_000, () => handle.result());
  } catch (err) {
    if (err instanceof WorkflowFailedError) failure = failureOf(err.cause) ?? { type: null, message: err.message };
    else if (err instanceof WorkflowContinuedAsNewError) failure = null;
    else failure = { type: null, message: `the close event could not be read: ${(err as Error).message ?? String(err)}` };
  }
  // A run that failed before its query handler existed has no status: the close event says enough.
  const last = await askClosedRun((deadline) => client.withDeadline(deadline, () => handle.query(audienceSyncStatusQuery)), {
    deadlineMs: Date.now() + CLOSED_QUERY_MS,
    notRegistered: (err) => err instanceof QueryNotRegisteredError && /register/i.test(err.message),
  });
  return {
    workflowId: desc.workflowId,
    runId: desc.runId,
    executionStatus: desc.status.name,
    closedAt: desc.closeTime ? desc.closeTime.toISOString() : null,
    failure,
    lastStatus: last.value,
    ...(last.unanswered ? { lastStatusUnanswered: last.unanswered } : {}),
  };
}

/** A workflow failure's type and message: an ApplicationFailure's own type, else the failure's class (TerminatedFailure, TimeoutFailure, ...). */
function failureOf(cause: Error | undefined): { type: string | null; message: string } | null {
  if (!cause) return null;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  return { type: cause.name || null, message: cause.message };
}

export interface WaitOptions {
  /** Called with every status read that differs from the previous one (phase, counts, advice). */
  onStatus?(s: AudienceSyncStatus): void;
  pollMs?: number;
  /** Give up after this long (AudienceWaitTimeoutError; the workflow keeps running). Default: no limit. */
  timeoutMs?: number;
  /** The request to wait for (AudienceSyncRequested.requestId): done when status.answered lists it. */
  requestId?: string;
}

/**
 * True once the request has been answered and no cycle runs: status.answered lists
 * `requestId` (from workers that keep the list), else (older workers, or no id) a cycle
 * numbered above `afterCycles` has finished.
 */
export function cycleFinished(s: AudienceSyncStatus, afterCycles: number, requestId?: string): boolean {
  if (s.currentRunId !== null) return false;
  if (requestId !== undefined && s.answered) return s.answered.some((a) => a.requestId === requestId);
  return s.cycles > afterCycles;
}

export function isParked(s: AudienceSyncStatus): boolean {
  return (PARK_PHASES as readonly string[]).includes(s.phase);
}

export function isSuccess(s: AudienceSyncStatus): boolean {
  return SUCCESS_PHASES.includes(s.phase);
}

/**
 * Polls the status query until the request `opts.requestId` has been answered (or, without
 * it or from older workers, a cycle numbered above `afterCycles` has finished) and no cycle
 * runs, and returns that status (its phase is one of END_PHASES). Parks (reauthorization_required,
 * processing_overdue) and a paused workflow only reach onStatus, with their advice: the
 * cycle continues once they clear, so waiting on is right; timeoutMs bounds the wait.
 * Follows continue-as-new (the handle has no run id); fails when the workflow closes.
 */
export async function waitForAudienceCycle(client: Client, destinationId: string, afterCycles: number, opts: WaitOptions = {}): Promise<AudienceSyncStatus> {
  const workflowId = WorkflowIds.audienceSync(destinationId);
  const handle = client.workflow.getHandle(workflowId);
  const pollMs = opts.pollMs ?? 500;
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
  let last: AudienceSyncStatus | undefined;
  let lastKey = '';
  let lastDescribe = Date.now();
  for (;;) {
    let s: AudienceSyncStatus | undefined;
    try {
      // Bounded: a query nobody answers (worker down) must not stall the wait past timeoutMs.
      s = await client.withDeadline(Date.now() + Math.min(10_000, Math.max(1_000, deadline - Date.now())), () => handle.query(audienceSyncStatusQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new AudienceSyncNotFoundError(destinationId);
      // Between runs (continue-as-new) a query can fail; a closed workflow fails it for good.
      const desc = await describeOrUndefined(client, workflowId);
      if (!desc) throw new AudienceSyncNotFoundError(destinationId);
      if (!isRunning(desc) && desc.status.name !== 'CONTINUED_AS_NEW') throw new AudienceSyncClosedError(workflowId, desc.status.name, await closureOf(client, desc));
    }
    if (s) {
      const key = JSON.stringify([s.phase, s.cycles, s.currentRunId, s.paused, s.advice, s.isValid, s.coverNum, s.lastError?.message]);
      if (key !== lastKey) {
        lastKey = key;
        opts.onStatus?.(s);
      }
      last = s;
      if (cycleFinished(s, afterCycles, opts.requestId)) return s;
    }
    // A closed run still answers queries; check now and then that it is still running.
    if (Date.now() - lastDescribe > 5_000) {
      lastDescribe = Date.now();
      const desc = await describeOrUndefined(client, workflowId);
      if (desc && !isRunning(desc)) throw new AudienceSyncClosedError(workflowId, desc.status.name, await closureOf(client, desc));
    }
    if (Date.now() + pollMs > deadline) throw new AudienceWaitTimeoutError(workflowId, last, opts.timeoutMs ?? 0);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** What a finished cycle did, for people and scripts (counts and URIs only). */
export interface AudienceCycleSummary {
  destinationId: string;
  workflowId: string;
  ok: boolean;
  phase: AudienceSyncPhase;
  cycle: number;
  audienceId: string | null;
  added: number | null;
  removed: number | null;
  rejected: Record<string, number>;
  files: number | null;
  bytes: number | null;
  isValid: boolean | null;
  coverNum: number | null;
  rejectsUris: string[];
  advice: string | null;
  error: { type: string | null; message: string } | null;
}

/**
 * The summary of the cycle that ended in `s`. lastSync belongs to the last successful cycle,
 * so counts are given only when this cycle succeeded.
 */
export function cycleSummary(s: AudienceSyncStatus): AudienceCycleSummary {
  const ok = isSuccess(s);
  const sync = ok ? s.lastSync : null;
  return {
    destinationId: s.destinationId,
    workflowId: WorkflowIds.audienceSync(s.destinationId),
    ok,
    phase: s.phase,
    cycle: s.cycles,
    audienceId: s.audienceId,
    added: sync?.added ?? null,
    removed: sync?.removed ?? null,
    rejected: sync?.rejected ?? {},
    files: sync?.files ?? null,
    bytes: sync?.bytes ?? null,
    isValid: s.isValid,
    coverNum: s.coverNum,
    rejectsUris: sync?.rejectsUris ?? [],
    advice: s.advice,
    error: ok || !s.lastError ? null : { type: s.lastError.type, message: s.lastError.message },
  };
}
