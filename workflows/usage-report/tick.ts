import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ScheduledUsageReportResult, UsageControlActivities } from '../../activities/usage-report/control';
import type { TargetingRecordResult, UsageTickInput } from '../../src/usage-report/messages';
import type { UsageReportActivities } from '../../activities/usage-report/report';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { UsageReportFailureType } from '../../src/usage-report/failures';

/*
 * What an advertiser's Schedules start. A Schedule suffixes its workflows' ids with their
 * time, and a report must be usage-report:<advertiserId>:<YYYY-MM>, so the monthly tick asks
 * an activity to start it, for the month before the Schedule's own time (a backfill of past
 * months thus reports those months). The daily tick records the day's targeting itself.
 */

/** The time the Schedule meant this action for (a backfill's past time), else now. */
function scheduledAt(): string {
  const info = workflowInfo();
  const sa = (info.searchAttributes ?? {}) as Record<string, unknown[] | undefined>;
  const v = sa.TemporalScheduledStartTime?.[0];
  const t = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
  return (t && !Number.isNaN(t.getTime()) ? t : new Date(info.startTime)).toISOString();
}

export async function usageReportTick(input: UsageTickInput): Promise<ScheduledUsageReportResult> {
  const { requestMonthlyUsageReport } = proxyActivities<UsageControlActivities>({
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: [UsageReportFailureType.InvalidConfig] },
  });
  return requestMonthlyUsageReport({ ...input, taskQueue: input.taskQueue ?? workflowInfo().taskQueue, scheduledAt: scheduledAt() });
}

export async function usageTargetingTick(input: UsageTickInput): Promise<TargetingRecordResult> {
  const { usageRecordTargeting } = proxyActivities<UsageReportActivities>({
    taskQueue: input.queues?.tiktok ?? TaskQueues.tiktok,
    startToCloseTimeout: '5m',
    retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10, nonRetryableErrorTypes: [UsageReportFailureType.InvalidConfig] },
  });
  // The day the Schedule meant (a tick caught up after midnight still records its own day).
  return usageRecordTargeting({ advertiser: input.advertiser, at: scheduledAt() });
}
