import { randomUUID } from 'node:crypto';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { firstFailure, lastGoodPoint, missingSignals, signalsAfter, startPoint, workDone, type ResetPoint, type ResetTo, type RunFailure } from './resetPoints';
import { workflowUiUrl } from './uiLinks';

/*
 * `ttsync rerun` for every lifecycle: after an engineer fixed what made a run fail, run it
 * again with one command. Temporal's reset where the history allows it (completed activities
 * are not repeated; the failed step and what follows run again), otherwise the same input
 * started again under the lifecycle's own id rules. Each lifecycle plugs in a RerunSource
 * that says which reset points its workflows allow, which id a run must have, and how a
 * failure looks while its workflow still runs (a single writer that parks a failed cycle
 * and carries on). Like DoctorSource and ScheduleSource, the contract lives in the kernel.
 *
 * Never a second writer: a restart uses conflict policy FAIL (Temporal refuses while a run
 * of that id is open), and a reset of a run that is not the latest of its chain, which
 * would terminate the current run, happens only when that run has done nothing but wait
 * since it continued from the failed one; its signals are checked in the new run and sent
 * again if the server did not reapply them.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type RunStatus = WorkflowExecutionDescription['status']['name'];

/** A run of a workflow id, as describe and its history show it. */
export interface RunFacts {
  workflowId: string;
  runId: string;
  workflowType: string;
  status: RunStatus;
  description: WorkflowExecutionDescription;
  /** The run this one continued from (continue-as-new), if any. */
  continuedFromRunId?: string;
}

/** What a lifecycle says of its chain's open current run. */
export type OpenRunVerdict =
  /** The run before the current one failed (e.g. a cycle ended in error, then continued as new): re-run that one. */
  | { kind: 'previous-run-failed'; state: string }
  /** Nothing to re-run, or not this way: the message says why and what to do instead. */
  | { kind: 'refuse'; message: string };

/** What a lifecycle plugs into `ttsync rerun`. */
export interface RerunSource {
  /** The lifecycle's name. */
  lifecycle: string;
  /** The workflow types it owns. */
  workflowTypes: readonly string[];
  /**
   * The reset points a run of this type may go back to, the default first. Empty: never
   * reset, start the input again. (A dry run that cleans up its data when it fails can only
   * start again from the beginning.)
   */
  resetPoints(workflowType: string): readonly ResetTo[];
  /** Why this point is safe for this type, for the output (activities idempotent, state committed last, …). */
  resetNote?(workflowType: string, to: ResetTo): string | undefined;
  /** The id a run of this type with this input must have (a single writer's derived id); undefined when any id will do. */
  workflowIdFor(workflowType: string, input: unknown): string | undefined;
  /**
   * Whether a run that is not the latest of its id may run again when the latest has ended.
   * Not for a single writer: later runs moved its state on, and an old cycle would send old
   * edits over newer ones.
   */
  olderRunsRerunnable(workflowType: string): boolean;
  /** The chain's current run is open: is it parked on a failure of the run before it? */
  openRun(run: RunFacts): OpenRunVerdict;
}

/** A rerun that was refused: nothing was changed; the message says why and what to do. */
export class RerunRefused extends Error {
  override name = 'RerunRefused';
}

export interface RerunOptions {
  workflowId: string;
  /** The failed run; default: the latest run, or for an open chain the one its lifecycle names. */
  runId?: string;
  /** Default: the first reset point the lifecycle allows. */
  resetTo?: ResetTo;
  /** Temporal Web UI base, for the link printed. */
  uiUrl: string;
  /** Recorded as the reset's reason. */
  reason?: string;
}

interface RerunBase {
  workflowId: string;
  workflowType: string;
  lifecycle: string;
  /** The failed run. */
  fromRunId: string;
  failure: string | null;
  newRunId: string;
  url: string;
  notes: string[];
}

export type RerunResult =
  | (RerunBase & {
      action: 'reset';
      resetTo: ResetTo;
      eventId: number;
      why: string;
      /** The chain's open run the reset ended (it had only waited since the failure). */
      terminatedRunId: string | null;
      /** Signals after the reset point, and of the ended run, that the new run has. */
      signalsCarried: number;
      /** Of those, the ones ttsync sent again because the server had not reapplied them. */
      signalsResent: number;
    })
  | (RerunBase & { action: 'restarted'; fromWorkflowId: string });

async function describeRun(client: Client, workflowId: string, runId?: string): Promise<RunFacts> {
  let description: WorkflowExecutionDescription;
  try {
    description = await client.workflow.getHandle(workflowId, runId).describe();
  } catch (err) {
    if ((err as { name?: string }).name === 'WorkflowNotFoundError')
      throw new RerunRefused(`no workflow ${workflowId}${runId ? ` run ${runId}` : ''} in namespace "${client.options.namespace}"`);
    throw err;
  }
  const events = await historyOf(client, workflowId, description.runId, 1);
  const from = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
  return {
    workflowId,
    runId: description.runId,
    workflowType: description.type,
    status: description.status.name,
    description,
    ...(from ? { continuedFromRunId: from } : {}),
  };
}

/** A run's events (all of them, or the first `limit`). */
async function historyOf(client: Client, workflowId: string, runId: string, limit?: number): Promise<HistoryEvent[]> {
  if (limit !== undefined) {
    const res = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: limit });
    return res.history?.events ?? [];
  }
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

const isClosedFailed = (s: RunStatus): boolean => s === 'FAILED' || s === 'TIMED_OUT';

function sourceFor(sources: readonly RerunSource[], workflowType: string): RerunSource {
  const source = sources.find((s) => s.workflowTypes.includes(workflowType));
  if (!source)
    throw new RerunRefused(
      `ttsync does not know how to re-run workflows of type ${workflowType} (it re-runs ${sources.flatMap((s) => s.workflowTypes).join(', ')}); use the Temporal UI's Reset or start it again yourself`,
    );
  return source;
}

/** The failed run, its first failure, and its lifecycle. Refuses what is not a failed run. */
async function findFailedRun(client: Client, sources: readonly RerunSource[], opts: RerunOptions) {
  const current = await describeRun(client, opts.workflowId);
  const source = sourceFor(sources, current.workflowType);
  let target: RunFacts;
  if (opts.runId && opts.runId !== current.runId) target = await describeRun(client, opts.workflowId, opts.runId);
  else if (current.status !== 'RUNNING') target = current;
  else {
    const verdict = source.openRun(current);
    if (verdict.kind === 'refuse') throw new RerunRefused(verdict.message);
    if (!current.continuedFromRunId) throw new RerunRefused(`${opts.workflowId} is ${verdict.state}, but its current run ${current.runId} continued from no earlier run: nothing to reset; see its history in the UI`);
    if (opts.runId === current.runId)
      throw new RerunRefused(`run ${current.runId} is the one waiting in ${verdict.state}; the cycle that failed ran in ${current.continuedFromRunId}: run ttsync rerun ${opts.workflowId} without --run-id (or with --run-id ${current.continuedFromRunId})`);
    target = await describeRun(client, opts.workflowId, current.continuedFromRunId);
  }
  if (target.workflowType !== current.workflowType) sourceFor(sources, target.workflowType);
  const events = await historyOf(client, opts.workflowId, target.runId);
  const failure = firstFailure(events);
  if (target.runId === current.runId) {
    if (current.status === 'RUNNING')
      throw new RerunRefused(
        `run ${current.runId} of ${opts.workflowId} is open and still working: a step that fails is retried by Temporal, or parks with advice (ttsync's status commands show it); nothing to re-run`,
      );
    if (current.status === 'COMPLETED') throw new RerunRefused(`${opts.workflowId} completed (run ${current.runId}): nothing failed, nothing to re-run`);
    if (current.status === 'TERMINATED' || current.status === 'CANCELLED')
      throw new RerunRefused(
        `${opts.workflowId} was ${current.status.toLowerCase()} (run ${current.runId}), which a person or a program decided, not a failure; rerun does not undo that. Start it again with the lifecycle's own command if that is intended`,
      );
  } else if (!failure && !isClosedFailed(target.status))
    throw new RerunRefused(`run ${target.runId} of ${opts.workflowId} did not fail (it ${target.status === 'CONTINUED_AS_NEW' ? 'continued as new' : `is ${target.status.toLowerCase()}`} with no failed step): nothing to re-run`);
  return { current, target, source, events, failure };
}

/**
 * Re-runs a failed run: a reset where its history and its lifecycle allow one, else its input
 * started again under the lifecycle's id rules. Refuses (RerunRefused, nothing changed) when
 * neither is safe.
 */
export async function rerun(client: Client, sources: readonly RerunSource[], opts: RerunOptions): Promise<RerunResult> {
  const { current, target, source, events, failure } = await findFailedRun(client, sources, opts);
  const type = target.workflowType;
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const input = started?.input?.payloads?.length ? client.options.loadedDataConverter.payloadConverter.fromPayload(started.input.payloads[0]!) : undefined;
  const ownId = source.workflowIdFor(type, input);
  const base = { workflowType: type, lifecycle: source.lifecycle, fromRunId: target.runId, failure: failure?.summary ?? null };
  const notes: string[] = [];

  // A run under another id than its lifecycle's rule (a writer started from the UI under a free
  // id fails with WrongWorkflowId): a reset would fail the same way, so start it where it belongs.
  if (ownId && ownId !== opts.workflowId) {
    notes.push(`its input belongs under ${ownId} (the lifecycle's id rule), not ${opts.workflowId}`);
    return restart(client, opts, target, started, ownId, { ...base, notes });
  }

  const latest = target.runId === current.runId;
  const chainOpen = current.status === 'RUNNING';
  if (!latest && !chainOpen) {
    if (!source.olderRunsRerunnable(type))
      throw new RerunRefused(
        `run ${target.runId} is not the latest of ${opts.workflowId} (run ${current.runId} came after it, ${current.status.toLowerCase()}): later runs moved this workflow's state on, and re-running an older one would send its old work over theirs. ` +
          (isClosedFailed(current.status) ? `Re-run the latest: ttsync rerun ${opts.workflowId}` : 'Start the workflow again with its own command'),
      );
    notes.push(`run ${current.runId} came after it, so its input is started again rather than reset`);
    return restart(client, opts, target, started, opts.workflowId, { ...base, notes });
  }
  let terminatedRunId: string | null = null;
  let expectedSignalsOfCurrent: ReturnType<typeof signalsAfter> = [];
  if (!latest) {
    // Resetting an older run terminates the open current one: only when that run has only
    // waited since it continued from the failed run, and its signals go to the new run.
    if (current.continuedFromRunId !== target.runId)
      throw new RerunRefused(
        `run ${target.runId} is not the run before the current one (${current.runId}, open): runs in between have run since, and a reset would terminate the current run and undo their work; nothing was changed`,
      );
    const currentEvents = await historyOf(client, opts.workflowId, current.runId);
    const done = workDone(currentEvents);
    if (done.activities || done.children || done.updates || done.timersFired)
      throw new RerunRefused(
        `the current run ${current.runId} of ${opts.workflowId} has done work since the failure (${done.activities} activities, ${done.updates} accepted updates, ${done.timersFired} timers fired): ` +
          `a reset of ${target.runId} would terminate it and undo that; nothing was changed. Let it run its next cycle, or ask it for one with the lifecycle's own command`,
      );
    terminatedRunId = current.runId;
    expectedSignalsOfCurrent = signalsAfter(currentEvents, 0);
  }

  const allowed = source.resetPoints(type);
  if (!allowed.length) {
    notes.push(`${type} is never reset: it starts again from its input`);
    if (!latest) throw new RerunRefused(`${type} runs are not reset, and run ${current.runId} is open: nothing was changed`);
    return restart(client, opts, target, started, opts.workflowId, { ...base, notes });
  }
  const wanted = opts.resetTo ?? allowed[0]!;
  const to = allowed.includes(wanted) ? wanted : allowed[0]!;
  if (to !== wanted) notes.push(`${type} allows only reset to ${allowed.join(' or ')}, so ${to} instead of ${wanted}`);
  const point = resetPointOf(events, to, failure);
  if (!point) throw new RerunRefused(`run ${target.runId} has no completed workflow task to reset to (it never ran): start it again with the lifecycle's own command`);
  const note = source.resetNote?.(type, to);
  if (note) notes.push(note);

  // fromObject takes the event id as a number (the field is an int64).
  const request = temporal.api.workflowservice.v1.ResetWorkflowExecutionRequest.fromObject({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: opts.workflowId, runId: target.runId },
    reason: opts.reason ?? `ttsync rerun: ${to}${failure ? ` after ${failure.summary}` : ''}`.slice(0, 1000),
    workflowTaskFinishEventId: point.eventId,
    requestId: randomUUID(),
    // Signals after the point (and of runs continued from it) go to the new run.
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
    identity: client.options.identity,
  });
  const res = await client.workflowService.resetWorkflowExecution(request);
  const newRunId = res.runId ?? '';
  const expected = [...signalsAfter(events, point.eventId), ...expectedSignalsOfCurrent];
  const resent = await carrySignals(client, opts.workflowId, newRunId, expected);
  return {
    ...base,
    action: 'reset',
    workflowId: opts.workflowId,
    resetTo: to,
    eventId: point.eventId,
    why: point.why,
    terminatedRunId,
    signalsCarried: expected.length,
    signalsResent: resent,
    newRunId,
    url: workflowUiUrl(opts.uiUrl, client.options.namespace, opts.workflowId, newRunId),
    notes,
  };
}

function resetPointOf(events: HistoryEvent[], to: ResetTo, failure: RunFailure | null): ResetPoint | null {
  if (to === 'start' || !failure) return startPoint(events);
  return lastGoodPoint(events, failure);
}

/** Sends again the signals the new run lacks (the server reapplies them; an older server may not, for runs it terminated). */
async function carrySignals(client: Client, workflowId: string, newRunId: string, expected: ReturnType<typeof signalsAfter>): Promise<number> {
  if (!expected.length) return 0;
  const got = signalsAfter(await historyOf(client, workflowId, newRunId), 0);
  const missing = missingSignals(expected, got);
  for (const s of missing)
    await client.workflowService.signalWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId, runId: newRunId },
      signalName: s.name,
      input: s.input ?? null,
      header: s.header ?? null,
      identity: client.options.identity,
      requestId: randomUUID(),
    });
  return missing.length;
}

/** The failed run's input, started again under `workflowId` (conflict policy FAIL: never beside an open run). */
async function restart(
  client: Client,
  opts: RerunOptions,
  target: RunFacts,
  started: temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes | null | undefined,
  workflowId: string,
  base: Omit<RerunBase, 'workflowId' | 'newRunId' | 'url'>,
): Promise<RerunResult> {
  if (!started) throw new RerunRefused(`run ${target.runId} has no start event to read its input from`);
  const E = temporal.api.enums.v1;
  let runId: string;
  try {
    const res = await client.workflowService.startWorkflowExecution({
      namespace: client.options.namespace,
      workflowId,
      workflowType: started.workflowType ?? null,
      taskQueue: started.taskQueue ?? null,
      input: started.input ?? null,
      header: started.header ?? null,
      memo: started.memo ?? null,
      searchAttributes: started.searchAttributes ?? null,
      workflowExecutionTimeout: started.workflowExecutionTimeout ?? null,
      workflowRunTimeout: started.workflowRunTimeout ?? null,
      workflowTaskTimeout: started.workflowTaskTimeout ?? null,
      identity: client.options.identity,
      requestId: randomUUID(),
      workflowIdReusePolicy: E.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
      workflowIdConflictPolicy: E.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    });
    runId = res.runId ?? '';
  } catch (err) {
    // gRPC ALREADY_EXISTS: a run of that id is open; two would be two writers.
    if ((err as { code?: unknown }).code === 6)
      throw new RerunRefused(`${workflowId} already has an open run: starting the failed input beside it would make a second writer; nothing was started. Let that run do the work, or end it first`);
    throw err;
  }
  return { ...base, action: 'restarted', workflowId, fromWorkflowId: opts.workflowId, newRunId: runId, url: workflowUiUrl(opts.uiUrl, client.options.namespace, workflowId, runId) };
}

/** What the CLI prints: what was done, and the new run's link. */
export function formatRerun(r: RerunResult): string {
  const lines: string[] = [];
  if (r.failure) lines.push(`failed run ${r.fromRunId}: ${r.failure}`);
  if (r.action === 'reset') {
    lines.push(`reset ${r.workflowId} run ${r.fromRunId} to event ${r.eventId} (${r.resetTo}: ${r.why})`);
    if (r.terminatedRunId)
      lines.push(`the waiting run ${r.terminatedRunId} was ended by the reset; its signals and those after the point (${r.signalsCarried}) are in the new run${r.signalsResent ? ` (${r.signalsResent} sent again by ttsync)` : ''}`);
    else if (r.signalsCarried) lines.push(`${r.signalsCarried} signal(s) after the point reapplied${r.signalsResent ? ` (${r.signalsResent} sent again by ttsync)` : ''}`);
  } else lines.push(`restarted the input of ${r.fromWorkflowId} run ${r.fromRunId} as ${r.workflowId}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(`new run ${r.newRunId}: ${r.url}`);
  return lines.join('\n') + '\n';
}
