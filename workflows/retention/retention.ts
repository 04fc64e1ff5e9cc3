import { ApplicationFailure, log, patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NoticeActivities } from '../../activities/notices';
import type { RetentionAlertActivities } from '../../activities/retention/alerts';
import type { RetentionDataActivities } from '../../activities/retention/data';
import { NOTICE_NON_RETRYABLE } from '../../src/notices/failures';
import { DatasetConfigError, parseDatasetConfig, type DatasetConfig } from '../../src/retention/config';
import { RETENTION_NON_RETRYABLE, RetentionFailureType } from '../../src/retention/failures';
import { objectBatches, retentionStatusQuery, type AggregateResult, type ObjectResult, type RetentionInput, type RetentionRunSummary, type RetentionStatus } from '../../src/retention/messages';
import { dateToMs, msToDate } from '../../src/retention/window';
import { SearchAttributeKeys } from '../../src/temporal/searchAttributes';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { retentionIdOf } from '../../src/temporal/workflowIds';

/*
 * One retention run of one dataset, for one as-of day: plan the due partition objects,
 * anonymize them (a heartbeating activity per batch of objects, `parallelism` at a time), move the
 * aggregate rows, write the audit record. Started daily by the dataset's Schedule (through
 * retentionTick), or by `ttsync retention run`. Only keys, counts and digests pass through
 * history.
 */

const MAX_LISTED = 1000;
/** Runs from this change on record a failure as the open alert and announce its clearing. */
const ALERT_CLEARED_PATCH = 'retention-alert-cleared';
/** Runs from this change on anonymize objects in batches (one activity per batch, two progress writes per batch). */
const OBJECT_BATCHES_PATCH = 'retention-object-batches';

const notices = (): NoticeActivities =>
  proxyActivities<NoticeActivities>({ startToCloseTimeout: '2m', retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] } });
// On the workflow's own queue, like postNotice: a failure of the data workers must not keep its alert from being recorded.
const alertState = (): RetentionAlertActivities =>
  proxyActivities<RetentionAlertActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...RETENTION_NON_RETRYABLE] } });

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, RetentionFailureType.InvalidConfig);
}

function configOf(input: RetentionInput): DatasetConfig {
  if (typeof input !== 'object' || input === null || !('config' in input))
    throw invalid('the input must be {"config": {…dataset config…}, "asOf"?: "YYYY-MM-DD", "dryRun"?: true}; a dataset config pasted without its {"config": …} wrapper is refused');
  try {
    return parseDatasetConfig(input.config, 'workflow input config');
  } catch (err) {
    if (err instanceof DatasetConfigError) throw invalid(err.message);
    throw err;
  }
}

/** One run per dataset at a time: Temporal refuses a second start under this id, whatever id an operator types. */
function checkWorkflowId(input: RetentionInput): void {
  const expected = retentionIdOf(input)!;
  const actual = workflowInfo().workflowId;
  if (actual === expected) return;
  throw ApplicationFailure.nonRetryable(
    `retention for dataset "${input.config.datasetId}" must run as workflow id "${expected}", not "${actual}": one run per dataset at a time. ` +
      `Start it with: ttsync retention run --config <dataset.json>${input.dryRun ? ' --dry-run' : ''}`,
    RetentionFailureType.WrongWorkflowId,
  );
}

export async function retention(input: RetentionInput): Promise<RetentionRunSummary> {
  const config = configOf(input);
  checkWorkflowId(input);
  const dryRun = input.dryRun === true;
  const asOf = input.asOf ?? msToDate(Date.now());
  if (dateToMs(asOf) === undefined) throw invalid(`asOf must be a day YYYY-MM-DD (UTC), not ${JSON.stringify(asOf)}`);
  try {
    return await run(input, config, asOf, dryRun);
  } catch (err) {
    if (!dryRun) await alertFailure(config, asOf, err);
    throw err;
  }
}

function describeFailure(err: unknown): string {
  let e = err as { cause?: unknown; type?: unknown; message?: string; name?: string } | undefined;
  // An activity's failure is its cause: name the first failure with a type, not "activity task failed".
  while (e && typeof e.type !== 'string' && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return `${typeof e?.type === 'string' ? e.type : (e?.name ?? 'Error')}: ${e?.message ?? String(err)}`;
}

/**
 * A failed run is announced once, through the notices outbox (idempotent on the run: a
 * replay or a retry never sends a second one). The data is as the failure left it: every
 * object old or new, never a mix. A notice that cannot be delivered stays in the outbox.
 */
async function alertFailure(config: DatasetConfig, asOf: string, err: unknown): Promise<void> {
  const { postNotice } = notices();
  const info = workflowInfo();
  const workflowId = info.workflowId;
  try {
    await postNotice({
      key: `retention:${config.datasetId}:${info.runId}:failed`,
      ...(config.alerts ? { route: config.alerts } : {}),
      subject: `ttsync retention: the run of dataset ${config.datasetId} as of ${asOf} failed`,
      text:
        `The TikTok retention run of dataset ${config.datasetId} as of ${asOf} failed: ${describeFailure(err)}\n` +
        `Each partition is either as it was or fully anonymized (never a mix). Fix the cause, then run: ttsync rerun ${workflowId}`,
      metadata: { lifecycle: 'retention', subjectId: config.datasetId, state: 'failed', event: 'entered', workflowId },
    });
  } catch (noticeErr) {
    log.warn('retention failure notice not delivered; it stays in the notices outbox', { datasetId: config.datasetId, message: describeFailure(noticeErr) });
  }
  if (!patched(ALERT_CLEARED_PATCH)) return;
  try {
    await alertState().retentionOpenAlert({ config, alert: { version: 1, runId: info.runId, workflowId, asOf, failure: failureTypeOf(err) } });
  } catch (stateErr) {
    log.warn('retention failure not recorded as the open alert; the next successful run will not announce its clearing', { datasetId: config.datasetId, message: describeFailure(stateErr) });
  }
}

function failureTypeOf(err: unknown): string {
  let e = err as { cause?: unknown; type?: unknown; name?: string } | undefined;
  while (e && typeof e.type !== 'string' && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return typeof e?.type === 'string' ? e.type : (e?.name ?? 'Error');
}

/**
 * The first successful run after a failure announces once that it cleared. The notice's key
 * and text come from the failed run alone, so a run that dies between posting and closing
 * posts the same notice again next time, which the outbox sends only where it is missing.
 */
async function announceCleared(config: DatasetConfig): Promise<void> {
  const state = alertState();
  try {
    const open = await state.retentionOpenAlertOf({ config });
    if (!open) return;
    await notices().postNotice({
      key: `retention:${config.datasetId}:${open.runId}:cleared`,
      ...(config.alerts ? { route: config.alerts } : {}),
      subject: `ttsync retention: dataset ${config.datasetId} runs again; the failure as of ${open.asOf} is cleared`,
      text:
        `The TikTok retention runs of dataset ${config.datasetId} succeed again: the failure of run ${open.runId} as of ${open.asOf} (${open.failure}) is cleared.\n` +
        `Every partition due since then has been anonymized; the audit (ttsync retention report) lists each run.`,
      metadata: { lifecycle: 'retention', subjectId: config.datasetId, state: 'failed', event: 'cleared', workflowId: open.workflowId },
    });
    await state.retentionCloseAlert({ config, runId: open.runId });
  } catch (err) {
    log.warn('retention cleared notice not delivered; the next successful run posts it again', { datasetId: config.datasetId, message: describeFailure(err) });
  }
}

async function run(input: RetentionInput, config: DatasetConfig, asOf: string, dryRun: boolean): Promise<RetentionRunSummary> {
  const startedAt = new Date().toISOString();
  const status: RetentionStatus = { datasetId: config.datasetId, phase: 'starting', asOf, dryRun, progress: { done: 0, total: 0 }, lastRun: null, nextDue: [] };
  setHandler(retentionStatusQuery, () => status);
  upsertSearchAttributes([
    { key: SearchAttributeKeys.Lifecycle, value: 'retention' },
    { key: SearchAttributeKeys.DestinationId, value: config.datasetId },
  ]);
  const details = (): void => {
    setCurrentDetails(
      `**${status.phase}** dataset ${config.datasetId} as of ${asOf}${dryRun ? ' (dry run)' : ''}: ${status.progress.done}/${status.progress.total} objects` +
        (status.lastRun ? `; ${status.lastRun.rowsAnonymized} rows anonymized, ${status.lastRun.objectsChanged} objects changed` : ''),
    );
  };
  details();

  const taskQueue = input.queues?.data ?? TaskQueues.data;
  const retry = { initialInterval: '2s', maximumInterval: '2m', nonRetryableErrorTypes: [...RETENTION_NON_RETRYABLE] };
  const quick = proxyActivities<RetentionDataActivities>({ taskQueue, startToCloseTimeout: input.timing?.dataStepTimeout ?? '15m', retry });
  const heavy = proxyActivities<RetentionDataActivities>({ taskQueue, startToCloseTimeout: '12h', heartbeatTimeout: input.timing?.heartbeatTimeout ?? '2m', retry });

  status.phase = 'planning';
  details();
  const plan = await quick.retentionPlan({ config, asOf });
  status.nextDue = plan.nextDue;
  status.progress.total = plan.due.length;
  status.phase = 'anonymizing';
  details();

  const results: ObjectResult[] = [];
  let next = 0;
  if (patched(OBJECT_BATCHES_PATCH)) {
    const batches = objectBatches(plan.due);
    const lane = async (): Promise<void> => {
      while (next < batches.length) {
        const keys = batches[next++]!;
        const done = await heavy.retentionAnonymizeBatch({ config, keys, asOf, dryRun, runId: workflowInfo().runId });
        results.push(...done);
        status.progress.done += done.length;
        details();
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.parallelism, batches.length) }, lane));
  } else {
    const lane = async (): Promise<void> => {
      while (next < plan.due.length) {
        const { key } = plan.due[next++]!;
        results.push(await heavy.retentionAnonymizeObject({ config, key, asOf, dryRun, runId: workflowInfo().runId }));
        status.progress.done++;
        details();
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.parallelism, plan.due.length) }, lane));
  }

  status.phase = 'aggregates';
  details();
  const aggregates: AggregateResult[] = await heavy.retentionMoveAggregates({ config, asOf, dryRun, runId: workflowInfo().runId });

  const changedObjects = results.filter((r) => r.outcome === 'anonymized' || r.outcome === 'resumed' || r.outcome === 'would_anonymize');
  const sum = (f: (r: ObjectResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const summary = {
    datasetId: config.datasetId,
    asOf,
    dryRun,
    cutoffs: plan.cutoffs,
    scanUpTo: plan.scanUpTo,
    objectsScanned: results.length,
    objectsSkipped: plan.skipped,
    objectsChanged: changedObjects.length,
    rowsSeen: sum((r) => r.rowsSeen),
    rowsAnonymized: sum((r) => r.rowsAnonymized),
    tiktokWithinWindow: sum((r) => r.tiktokWithinWindow),
    unreadableRows: sum((r) => r.unreadableRows),
    aggregateRowsMoved: aggregates.reduce((a, r) => a + r.rowsMoved, 0),
    aggregateObjectsChanged: aggregates.length,
    changed: changedObjects.length > 0 || aggregates.length > 0,
  };

  let auditUri: string | null = null;
  let finishedAt = new Date().toISOString();
  if (!dryRun) {
    status.phase = 'auditing';
    details();
    const written = await quick.retentionWriteAudit({ config, plan, summary, aggregates, workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, startedAt });
    auditUri = written.auditUri;
    finishedAt = written.finishedAt;
  }
  const lastRun: RetentionRunSummary = {
    ...summary,
    auditUri,
    nextDue: plan.nextDue,
    finishedAt,
    ...(dryRun
      ? {
          wouldChange: changedObjects.slice(0, MAX_LISTED).map((r) => ({ key: r.key, rowsAnonymized: r.rowsAnonymized })),
          wouldMove: aggregates.slice(0, MAX_LISTED).map((a) => ({ table: a.table, key: a.key, rowsMoved: a.rowsMoved })),
        }
      : {}),
  };
  if (!dryRun && patched(ALERT_CLEARED_PATCH)) await announceCleared(config);
  status.lastRun = lastRun;
  status.phase = 'done';
  details();
  log.info('retention run done', { datasetId: config.datasetId, asOf, dryRun, objectsChanged: summary.objectsChanged, rowsAnonymized: summary.rowsAnonymized, changed: summary.changed });
  return lastRun;
}
