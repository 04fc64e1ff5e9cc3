import { ApplicationFailure, log, proxyActivities, setCurrentDetails, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NoticeActivities } from '../../activities/notices';
import type { UsageReportActivities } from '../../activities/usage-report/report';
import { NOTICE_NON_RETRYABLE } from '../../src/notices/failures';
import type { NoticeRoute } from '../../src/notices/schema';
import { SearchAttributeKeys } from '../../src/temporal/searchAttributes';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokActivityFailureType } from '../../src/tiktok/errorTypes';
import { USAGE_REPORT_NON_RETRYABLE, UsageReportFailureType } from '../../src/usage-report/failures';
import { usageNoticeKey, usageReportStatusQuery, type UsageDelivery, type UsageReportInput, type UsageReportResult, type UsageReportStatus } from '../../src/usage-report/messages';
import { monthProblem } from '../../src/usage-report/month';

/*
 * One advertiser's Data Marketplace usage report for one month: wait until the month's
 * numbers settle, build and write the report (CSV + sidecar), deliver it to the reporting
 * contacts through the notices outbox. Started by the monthly Schedule's tick, a backfill,
 * or `ttsync usage report`. Idempotent per (advertiser, month): a re-run rewrites the same
 * objects, and the notice's key is the month's, so the contacts get it once unless forced.
 */

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, UsageReportFailureType.InvalidConfig);
}

function checkInput(input: UsageReportInput): void {
  if (typeof input !== 'object' || input === null || typeof input.advertiser?.advertiserId !== 'string' || !Array.isArray(input.advertiser.segments))
    throw invalid('the input must be {"advertiser": {advertiserId, accessToken, timeZone, settle, segments: […]}, "month": "YYYY-MM"} (what `ttsync usage report` builds from the destination configs)');
  const problem = monthProblem(String(input.month));
  if (problem) throw invalid(`month: ${problem}`);
  const expected = WorkflowIds.usageReport(input.advertiser.advertiserId, input.month);
  const actual = workflowInfo().workflowId;
  if (actual !== expected)
    throw ApplicationFailure.nonRetryable(
      `the usage report of advertiser ${input.advertiser.advertiserId} for ${input.month} must run as workflow id "${expected}", not "${actual}": one report per advertiser and month. ` +
        `Start it with: ttsync usage report --advertiser ${input.advertiser.advertiserId} --month ${input.month} --config <destinations>`,
      UsageReportFailureType.WrongWorkflowId,
    );
}

export async function usageReport(input: UsageReportInput): Promise<UsageReportResult> {
  checkInput(input);
  try {
    return await run(input);
  } catch (err) {
    await alertFailure(input, err);
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
 * A failed report is announced once to the deployment's route (operators, not the reporting
 * contacts), through the notices outbox, keyed by the run: a replay or retry never sends a
 * second one. A notice that cannot be delivered stays in the outbox.
 */
async function alertFailure(input: UsageReportInput, err: unknown): Promise<void> {
  const { postNotice } = proxyActivities<NoticeActivities>({ startToCloseTimeout: '2m', retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] } });
  const { workflowId, runId } = workflowInfo();
  const { advertiserId } = input.advertiser;
  try {
    await postNotice({
      key: `usage-report:${advertiserId}:${input.month}:${runId}:failed`,
      subject: `ttsync usage report: the report of advertiser ${advertiserId} for ${input.month} failed`,
      text:
        `The TikTok Data Marketplace usage report of advertiser ${advertiserId} for ${input.month} failed: ${describeFailure(err)}\n` +
        `Fix the cause, then run: ttsync rerun ${workflowId} (the report is written again and its contacts get it once).`,
      metadata: { lifecycle: 'usage_report', subjectId: `${advertiserId}:${input.month}`, state: 'failed', event: 'entered', workflowId },
    });
  } catch (noticeErr) {
    log.warn('usage report failure notice not delivered; it stays in the notices outbox', { advertiserId, month: input.month, message: describeFailure(noticeErr) });
  }
}

async function run(input: UsageReportInput): Promise<UsageReportResult> {
  const { advertiser, month } = input;
  const info = workflowInfo();
  const status: UsageReportStatus = { advertiserId: advertiser.advertiserId, month, phase: 'settling', settleUntil: null, result: null };
  setHandler(usageReportStatusQuery, () => status);
  upsertSearchAttributes([
    { key: SearchAttributeKeys.Lifecycle, value: 'usage_report' },
    { key: SearchAttributeKeys.AdvertiserId, value: advertiser.advertiserId },
    { key: SearchAttributeKeys.ReportMonth, value: month },
  ]);
  const details = (): void =>
    setCurrentDetails(
      `**${status.phase}** advertiser ${advertiser.advertiserId}, ${month}` +
        (status.phase === 'settling' && status.settleUntil ? ` until ${status.settleUntil}` : '') +
        (status.result ? `: ${status.result.lines} lines, spent ${status.result.totals.amountSpent} ${status.result.totals.currency}, data cost ${status.result.totals.dataCost}; ${status.result.delivery}` : ''),
    );
  details();

  const taskQueue = input.queues?.tiktok ?? TaskQueues.tiktok;
  const retry = {
    initialInterval: '2s',
    maximumInterval: '2m',
    nonRetryableErrorTypes: [...USAGE_REPORT_NON_RETRYABLE, ...TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokActivityFailureType.SecretUnavailable],
  };
  const acts = proxyActivities<UsageReportActivities>({ taskQueue, startToCloseTimeout: '30m', heartbeatTimeout: input.timing?.heartbeatTimeout ?? '2m', retry });

  const { settleUntil } = await acts.usageSettleUntil({ advertiser, month, ...(input.settle ? { settle: input.settle } : {}) });
  status.settleUntil = settleUntil;
  details();
  const wait = Date.parse(settleUntil) - Date.now();
  // TikTok restates recent days (digest §10.4): the month is read once its last days have settled.
  if (wait > 0) await sleep(wait);

  status.phase = 'reading';
  details();
  const written = await acts.usageBuildReport({ advertiser, month, workflowId: info.workflowId, runId: info.runId });

  status.phase = 'delivering';
  details();
  const contacts = [...new Set(advertiser.segments.flatMap((s) => s.reportingContacts))].sort();
  const route: NoticeRoute | undefined =
    contacts.length || advertiser.webhook ? { ...(contacts.length ? { email: contacts } : {}), ...(advertiser.webhook ? { webhook: advertiser.webhook } : {}) } : undefined;
  const key = usageNoticeKey(advertiser.advertiserId, month, input.force ? info.runId : undefined);
  const { postNotice } = proxyActivities<NoticeActivities>({
    ...(input.queues?.notices ? { taskQueue: input.queues.notices } : {}),
    startToCloseTimeout: input.timing?.noticeTimeout ?? '2m',
    retry: { maximumAttempts: 10, nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] },
  });
  // The text names the month and the objects only: the same notice whatever a re-run computes,
  // so the month's key never meets other content; the numbers travel in the attached CSV.
  const posted = await postNotice({
    key,
    ...(route ? { route } : {}),
    subject: `TikTok Data Marketplace usage report: advertiser ${advertiser.advertiserId}, ${month}`,
    text:
      `The monthly usage report of TikTok Data Marketplace segments for advertiser ${advertiser.advertiserId}, ${month}, is attached (CSV, one line per segment, campaign and ad group: impressions, amount spent, data cost).\n` +
      `Segments: ${advertiser.segments.map((s) => `${s.providerId}/${s.segmentId} at ${s.pricePercent}% of spend`).join('; ')}.\n` +
      `Totals and notes: ${written.jsonUri}`,
    attachments: [{ uri: written.csvUri, filename: `tiktok-usage-${advertiser.advertiserId}-${month}.csv`, contentType: 'text/csv' }],
    metadata: { lifecycle: 'usage_report', subjectId: `${advertiser.advertiserId}:${month}`, event: 'report', workflowId: info.workflowId },
  });
  const delivery: UsageDelivery = posted.unrouted ? 'kept_unrouted' : posted.delivered.length === 0 ? 'already_sent' : input.force ? 'resent' : 'sent';
  const result: UsageReportResult = { ...written, advertiserId: advertiser.advertiserId, month, delivery, noticeKey: key };
  status.result = result;
  status.phase = 'done';
  details();
  log.info('usage report done', { advertiserId: advertiser.advertiserId, month, lines: written.lines, delivery });
  return result;
}
