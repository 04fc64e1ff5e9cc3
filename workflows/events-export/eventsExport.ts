import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { EventsDataActivities, EventsTikTokActivities } from '../../activities/events-export';
import type { NoticeActivities } from '../../activities';
import { durationMs } from '../../src/config/duration';
import { EventsConfigError, parseEventsConfig, type EventsDestinationConfig } from '../../src/events-export/config';
import { EVENTS_EXPORT_NON_RETRYABLE, EventsExportFailureType } from '../../src/events-export/failures';
import { eventsRunId } from '../../src/events-export/layout';
import {
  EVENTS_ANSWERED_KEEP,
  eventsExportStatusQuery,
  eventsPauseSignal,
  eventsReauthorizedSignal,
  eventsResumeSignal,
  eventsSyncNowSignal,
  initialEventsExportStatus,
  inputLandedSignal,
  type EventsExportInput,
  type EventsExportPhase,
  type EventsExportStatus,
  type EventsInputObject,
  type QueuedEventsRequest,
} from '../../src/events-export/messages';
import { SearchAttributeKeys } from '../../src/temporal/searchAttributes';
import { EVENTS_TASK_QUEUE, TaskQueues } from '../../src/temporal/taskQueues';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { REAUTHORIZATION_FAILURES } from '../../src/tiktok/errorTypes';
import { KEEP_RUNS, NO_TOTALS, SENDING_LANES, addTotals, rejectedByReason, runLine, sendRanges, type RangeTotals } from './plan';

/*
 * ONE long-running workflow per events destination (id events-export:<destinationId>): the
 * one sender of its events, so runs happen one at a time, in landing order, each against
 * the previous snapshot for audience triggers. A run prepares its input into batch files
 * (data queue), then sends them (events queue, its own rate limit), each batch recorded in
 * the run's ledger once acknowledged. The workflow holds URIs, counts and phases only;
 * events, identifiers and tokens stay in storage and activities. It continues as new after
 * each run, so history stays bounded.
 */

interface Carried {
  status: EventsExportStatus;
  queue: QueuedEventsRequest[];
  nextRunAtMs: number;
}

/** A request put back after a failed send: it runs again (same run, ledger skips what was acknowledged) on the next trigger. */
interface HeldRequest extends QueuedEventsRequest {
  runId?: string;
  held?: boolean;
}

export async function eventsExport(input: EventsExportInput): Promise<void> {
  const config = checkedConfig(input);
  checkWorkflowId(config.destinationId);
  const cadenceMs = msOf(input.timing?.cadence, '1h');
  const heartbeatTimeout = input.timing?.heartbeatTimeout ?? '2m';
  const status: EventsExportStatus = input.carried?.status ?? initialEventsExportStatus(config);
  const queue: HeldRequest[] = [...(input.carried?.queue ?? [])];
  let nextRunAtMs = input.carried?.nextRunAtMs ?? Date.now() + cadenceMs;
  if (input.input) queue.push({ input: input.input, requestIds: [] });
  let reauthorized = false;

  const queues = { data: input.queues?.data ?? TaskQueues.data, events: input.queues?.events ?? EVENTS_TASK_QUEUE };
  const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...EVENTS_EXPORT_NON_RETRYABLE] };
  const data = proxyActivities<EventsDataActivities>({ taskQueue: queues.data, startToCloseTimeout: '6h', heartbeatTimeout, retry });
  const notices = proxyActivities<NoticeActivities>({ taskQueue: queues.data, startToCloseTimeout: '2m', retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 } });
  // Does not heartbeat: a worker that dies in it holds the next run for this long.
  const housekeeping = proxyActivities<EventsDataActivities>({ taskQueue: queues.data, startToCloseTimeout: input.timing?.dataStepTimeout ?? '10m', retry: { ...retry, maximumAttempts: 3 } });
  // Throttling and 5xx are retried here after the client's own attempts, for as long as it takes.
  const events = proxyActivities<EventsTikTokActivities>({ taskQueue: queues.events, startToCloseTimeout: '1h', heartbeatTimeout, retry });

  const view = (): EventsExportStatus => ({ ...status, queued: queue.map((q) => q.input?.uri ?? '(config input)') });
  const show = (): void => {
    upsertSearchAttributes([{ key: SearchAttributeKeys.SyncState, value: status.paused && status.currentRunId === null ? 'paused' : status.phase }]);
    setCurrentDetails(
      [
        `**Events export** ${config.destinationId} → ${config.source} ${config.eventSourceId}`,
        `phase: ${status.paused ? 'paused' : status.phase}`,
        `last run: ${runLine(status.lastRun)}`,
        `queued: ${queue.length}`,
        status.lastError ? `last error: ${status.lastError.type ?? ''} ${status.lastError.message}` : '',
        status.advice ? `advice: ${status.advice}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  };
  const setPhase = (phase: EventsExportPhase): void => {
    status.phase = phase;
    show();
  };
  const release = (): void => {
    for (const q of queue) q.held = false;
  };

  setHandler(eventsExportStatusQuery, view);
  setHandler(inputLandedSignal, ({ input: obj, requestId }) => {
    queue.push({ input: obj, requestIds: requestId ? [requestId] : [] });
    release();
    show();
  });
  setHandler(eventsSyncNowSignal, (req) => {
    release();
    // With a failed run held, syncNow retries it; otherwise it exports the config's default input.
    if (queue.length === 0) queue.push({ requestIds: req?.requestId ? [req.requestId] : [], ...(req?.onCadence ? { onCadence: true } : {}) });
    else if (req?.requestId) queue[0]!.requestIds.push(req.requestId);
    show();
  });
  setHandler(eventsPauseSignal, () => {
    status.paused = true;
    show();
  });
  setHandler(eventsResumeSignal, () => {
    status.paused = false;
    reauthorized = true;
    release();
    show();
  });
  setHandler(eventsReauthorizedSignal, () => {
    reauthorized = true;
  });

  upsertSearchAttributes([
    { key: SearchAttributeKeys.DestinationId, value: config.destinationId },
    { key: SearchAttributeKeys.Lifecycle, value: 'events_export' },
  ]);
  show();

  const answer = (req: QueuedEventsRequest, ok: boolean): void => {
    for (const requestId of req.requestIds) status.answered.push({ requestId, run: status.runs, ok });
    status.answered = status.answered.slice(-EVENTS_ANSWERED_KEEP);
  };
  const fail = (phase: EventsExportPhase, err: unknown): void => {
    const f = failureOf(err);
    status.lastError = { at: new Date(Date.now()).toISOString(), phase, type: f.type, message: f.message };
  };

  /**
   * Tells the destination's contacts (config alerts, else the deployment's route) that it
   * entered a state that needs a person, or that the state cleared. The key is derived from
   * the destination, the state and the run, so a retried or replayed post is the same notice.
   * An alert that cannot be posted is logged; it never fails or holds the export.
   */
  async function alert(state: string, event: 'entered' | 'cleared', text: string): Promise<void> {
    const run = event === 'cleared' ? (status.alerting?.run ?? status.runs) : status.runs;
    try {
      await notices.postNotice({
        key: `events-export:${config.destinationId}:${state}:${event}:${run}`,
        ...(config.alerts ? { route: config.alerts } : {}),
        subject: event === 'entered' ? `ttsync events export ${config.destinationId}: ${state}` : `ttsync events export ${config.destinationId}: ${state} cleared`,
        text,
        metadata: { lifecycle: 'events_export', subjectId: config.destinationId, state, event, workflowId: workflowInfo().workflowId },
      });
    } catch (err) {
      log.warn('events alert not posted', { state, event, error: failureOf(err).message });
    }
    status.alerting = event === 'entered' ? { state, run } : null;
  }

  const lastErrorText = (): string => {
    const e = status.lastError;
    return e ? `${e.type ?? 'Error'}: ${e.message}` : '';
  };

  /** Runs a step; a token problem parks it until `reauthorized` (or `resume`), then the same step runs again. */
  async function withReauth<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const f = failureOf(err);
        if (f.type === null || !REAUTHORIZATION_FAILURES.includes(f.type)) throw err;
        fail(status.phase, err);
        const before = status.phase;
        status.advice = `the events token was refused (${f.type}): replace the secret behind ${config.accessToken}, then run: ttsync events reauthorized ${config.destinationId} (or signal "reauthorized")`;
        setPhase('reauthorization_required');
        reauthorized = false;
        await alert('reauthorization_required', 'entered', `${status.advice}\n\nTikTok's answer: ${f.message}`);
        await condition(() => reauthorized);
        status.advice = null;
        setPhase(before);
      }
    }
  }

  async function run(req: HeldRequest): Promise<void> {
    const obj: EventsInputObject | undefined = req.input ?? defaultInput(config);
    if (!obj) {
      status.lastError = { at: new Date(Date.now()).toISOString(), phase: 'idle', type: EventsExportFailureType.NothingToExport, message: 'no file was named and the config has no input.uri (or input.snapshot) to export' };
      answer(req, false);
      setPhase('error');
      return;
    }
    if (!req.runId) {
      status.runs++;
      req.runId = eventsRunId(config.destinationId, status.runs);
    }
    const runId = req.runId;
    status.currentRunId = runId;
    status.lastError = null;
    setPhase('preparing');
    let prepared;
    try {
      prepared = await data.prepareEventsRun({
        config: input.config,
        runId,
        input: obj,
        previous: config.input.kind === 'audienceTrigger' ? status.baseline : null,
        detectedAtMs: Date.now(),
        // Only the schedule's re-export of the same object may be skipped: a person who asks gets a run.
        ...(req.onCadence && status.lastInput?.uri === obj.uri ? { unchangedMd5: status.lastInput.md5 } : {}),
      });
    } catch (err) {
      // A bad input stays bad: the run ends in error and the next input goes ahead.
      fail('preparing', err);
      status.currentRunId = null;
      answer(req, false);
      setPhase('error');
      await alert('error', 'entered', `run ${runId} could not read ${obj.uri}: ${lastErrorText()}\nThe next input runs as usual.`);
      return;
    }
    if (prepared.unchanged) {
      log.info('scheduled export skipped: the input has not changed since the last run', { runId, uri: obj.uri });
      status.runs--;
      status.currentRunId = null;
      answer(req, true);
      setPhase(status.lastRun ? 'exported' : 'idle');
      return;
    }
    setPhase('sending');
    let totals: RangeTotals = NO_TOTALS;
    try {
      const ranges = sendRanges(prepared.batches);
      let next = 0;
      // The first failure stops the lanes from taking new ranges, and the run waits for the
      // ranges in flight to end, so no activity is left running behind a held run.
      let failure: { err: unknown } | undefined;
      const lane = async (): Promise<void> => {
        while (!failure && next < ranges.length) {
          const r = ranges[next++]!;
          try {
            // Await first, then add: lanes finish in any order, and `totals` must be read after each one's await.
            const t = await withReauth(() => events.sendEventBatches({ config: input.config, runId, from: r.from, to: r.to }));
            totals = addTotals(totals, t);
          } catch (err) {
            failure ??= { err };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(SENDING_LANES, ranges.length) }, lane));
      if (failure) throw failure.err;
    } catch (err) {
      // Held with its run id: the next trigger resumes it, and the ledger skips what TikTok acknowledged.
      fail('sending', err);
      status.currentRunId = null;
      status.advice = `the run ${runId} stopped while sending; fix the cause, then run: ttsync events export --config <events.json> (or signal "syncNow") to resume it`;
      queue.unshift({ ...req, held: true });
      setPhase('error');
      await alert('error', 'entered', `run ${runId} stopped while sending: ${lastErrorText()}\n${status.advice}`);
      return;
    }
    if (prepared.snapshotCopy) status.baseline = prepared.snapshotCopy;
    if (prepared.inputMd5) status.lastInput = { uri: obj.uri, md5: prepared.inputMd5 };
    status.lastRun = {
      runId,
      input: obj,
      kind: prepared.kind,
      rows: prepared.rows,
      events: prepared.events,
      sent: totals.sent,
      rejected: rejectedByReason(prepared.rejected, totals.rejected),
      rejectsUris: [...(prepared.rejectsUri ? [prepared.rejectsUri] : []), ...totals.rejectsUris],
      batches: prepared.batches,
      skippedBatches: totals.skippedBatches,
      requests: totals.requests,
      partialFailures: totals.partialFailures,
      retries: totals.retries,
      ...(prepared.changes ? { changes: prepared.changes } : {}),
      ok: true,
      finishedAt: new Date(Date.now()).toISOString(),
    };
    status.advice = null;
    status.currentRunId = null;
    answer(req, true);
    log.info('events run finished', { runId, sent: totals.sent, batches: prepared.batches });
    setPhase('exported');
    if (status.alerting) await alert(status.alerting.state, 'cleared', `run ${runId} exported ${totals.sent} events: the destination is working again.`);
    // Batch files hold personal data: a finished run's go once newer runs exist. The baseline's
    // run keeps its snapshot copy for the next diff. Housekeeping never fails the run.
    const baselineRun = status.baseline ? /events-runs\/([^/]+)\//.exec(status.baseline.uri)?.[1] : undefined;
    try {
      await housekeeping.deleteOldEventsRuns({ config: input.config, keep: KEEP_RUNS, alsoKeep: baselineRun ? [baselineRun] : [] });
    } catch (err) {
      log.warn('old events runs not deleted', { runId, error: failureOf(err).message });
    }
  }

  const runnable = (): boolean => !status.paused && queue.length > 0 && !queue[0]!.held;
  for (;;) {
    if (Date.now() >= nextRunAtMs) {
      nextRunAtMs = Date.now() + cadenceMs;
      if (defaultInput(config) && queue.length === 0) queue.push({ requestIds: [], onCadence: true });
      release();
    }
    status.nextRunAt = new Date(nextRunAtMs).toISOString();
    if (runnable()) {
      await run(queue.shift()!);
      await condition(allHandlersFinished);
      const carried: Carried = { status: view(), queue, nextRunAtMs };
      await continueAsNew<typeof eventsExport>({
        config: input.config,
        ...(input.queues ? { queues: input.queues } : {}),
        ...(input.timing ? { timing: input.timing } : {}),
        carried,
      });
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof eventsExport>({ config: input.config, ...(input.queues ? { queues: input.queues } : {}), ...(input.timing ? { timing: input.timing } : {}), carried: { status: view(), queue, nextRunAtMs } });
    }
    await condition(() => runnable() || workflowInfo().continueAsNewSuggested, Math.max(1, nextRunAtMs - Date.now()), { summary: 'cadence: the next scheduled export, unless an input lands first' });
  }
}

function defaultInput(config: EventsDestinationConfig): EventsInputObject | undefined {
  const i = config.input;
  const uri = i.kind === 'files' ? i.uri : i.snapshot;
  return uri ? { uri, ...(i.format ? { format: i.format } : {}) } : undefined;
}

function checkedConfig(input: EventsExportInput): EventsDestinationConfig {
  if (typeof input !== 'object' || input === null || typeof (input as { config?: unknown }).config !== 'object')
    throw ApplicationFailure.nonRetryable(
      'the input must be {"config": {<events destination config>}, "input"?: {"uri": …}}: a config pasted without its {"config": …} wrapper is not an input',
      EventsExportFailureType.InvalidConfig,
    );
  try {
    return parseEventsConfig(input.config, 'workflow input config');
  } catch (err) {
    if (err instanceof EventsConfigError) throw ApplicationFailure.nonRetryable(err.message, EventsExportFailureType.InvalidConfig);
    throw err;
  }
}

/** One workflow per destination is what keeps one ledger and one order of runs per event source. */
function checkWorkflowId(destinationId: string): void {
  const expected = WorkflowIds.eventsExport(destinationId);
  const actual = workflowInfo().workflowId;
  if (actual === expected) return;
  throw ApplicationFailure.nonRetryable(
    `eventsExport for destination "${destinationId}" must run as workflow id "${expected}", not "${actual}": one workflow per destination keeps one sender per event source. ` +
      `Start it with: ttsync events export --config <events.json>`,
    EventsExportFailureType.WrongWorkflowId,
  );
}

function msOf(text: string | undefined, fallback: string): number {
  const ms = durationMs(text ?? fallback);
  if (ms === undefined || ms <= 0) throw ApplicationFailure.nonRetryable(`invalid timing ${JSON.stringify(text)}: use a duration such as "1h"`, EventsExportFailureType.InvalidConfig);
  return ms;
}

function failureOf(err: unknown): { type: string | null; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? null, message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: null, message: String(cause) };
}
