import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds } from '../temporal/workflowIds';
import { monthProblem } from './month';
import { UsageReportWorkflowType, type UsageAdvertiser, type UsageQueues, type UsageReportInput, type UsageReportWorkflow, type UsageTiming } from './messages';

/*
 * Starting a month's usage report under its one id, usage-report:<advertiserId>:<YYYY-MM>:
 * Temporal refuses a second report of the same month while one runs.
 */

export class UsageReportRunningError extends Error {
  override name = 'UsageReportRunningError';
  constructor(readonly workflowId: string) {
    super(`the usage report ${workflowId} is running; wait for it (ttsync usage report … --wait) or read its status in the Temporal UI`);
  }
}

/** Search attributes of a report: AdvertiserId, Lifecycle=usage_report (usage_report_schedule for Schedules and ticks), ReportMonth. */
export function usageReportSearchAttributes(advertiserId: string, month: string | null, lifecycle = 'usage_report') {
  return [
    { key: SearchAttributeKeys.Lifecycle, value: lifecycle },
    { key: SearchAttributeKeys.AdvertiserId, value: advertiserId },
    ...(month ? [{ key: SearchAttributeKeys.ReportMonth, value: month }] : []),
  ];
}

export interface StartUsageReportOptions {
  advertiser: UsageAdvertiser;
  month: string;
  force?: boolean;
  settle?: string;
  taskQueue?: string;
  queues?: UsageQueues;
  timing?: UsageTiming;
  /**
   * 'rerun' (default, the CLI): a finished month may be produced again. 'once' (the monthly
   * tick): a month that completed is not started again; a failed one is.
   */
  reuse?: 'rerun' | 'once';
}

export async function startUsageReport(client: Client, opts: StartUsageReportOptions): Promise<WorkflowHandleWithFirstExecutionRunId<UsageReportWorkflow>> {
  const problem = monthProblem(opts.month);
  if (problem) throw new RangeError(problem);
  const workflowId = WorkflowIds.usageReport(opts.advertiser.advertiserId, opts.month);
  const input: UsageReportInput = {
    advertiser: opts.advertiser,
    month: opts.month,
    ...(opts.force ? { force: true } : {}),
    ...(opts.settle ? { settle: opts.settle } : {}),
    ...(opts.queues ? { queues: opts.queues } : {}),
    ...(opts.timing ? { timing: opts.timing } : {}),
  };
  try {
    return await client.workflow.start<UsageReportWorkflow>(UsageReportWorkflowType.report, {
      workflowId,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: opts.reuse === 'once' ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'ALLOW_DUPLICATE',
      typedSearchAttributes: usageReportSearchAttributes(opts.advertiser.advertiserId, opts.month),
      staticSummary: `TikTok Data Marketplace usage report: advertiser ${opts.advertiser.advertiserId}, ${opts.month}${opts.force ? ' (delivered again)' : ''}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new UsageReportRunningError(workflowId);
    throw err;
  }
}
