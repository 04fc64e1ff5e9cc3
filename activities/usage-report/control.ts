import { ApplicationFailure, type Client } from '@temporalio/client';
import { UsageReportRunningError, startUsageReport } from '../../src/usage-report/client';
import { UsageReportFailureType } from '../../src/usage-report/failures';
import type { UsageTickInput } from '../../src/usage-report/messages';
import { checkTimeZone, reportMonthAt } from '../../src/usage-report/zone';
import { WorkflowIds } from '../../src/temporal/workflowIds';

export interface UsageControlDeps {
  /** A client on the worker's own connection: the monthly tick starts the report. */
  client?: Client;
}

export interface ScheduledUsageReportResult {
  workflowId: string;
  month: string;
  /** false: this month's report is running or was produced already (a Schedule never makes it twice). */
  started: boolean;
}

export function createUsageControlActivities(deps: UsageControlDeps = {}) {
  return {
    /**
     * Starts the report of the month before `scheduledAt` (in the advertiser's time zone): the
     * Schedule's own time, so a backfill of past months reports each of those months.
     */
    async requestMonthlyUsageReport(input: UsageTickInput & { scheduledAt: string }): Promise<ScheduledUsageReportResult> {
      const client = deps.client;
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for usage report control activities', 'WorkerMisconfigured');
      try {
        checkTimeZone(input.advertiser.timeZone);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, UsageReportFailureType.InvalidConfig);
      }
      const month = reportMonthAt(input.advertiser.timeZone, new Date(input.scheduledAt));
      try {
        const h = await startUsageReport(client, { advertiser: input.advertiser, month, reuse: 'once', ...(input.taskQueue ? { taskQueue: input.taskQueue } : {}), ...(input.queues ? { queues: input.queues } : {}) });
        return { workflowId: h.workflowId, month, started: true };
      } catch (err) {
        if (err instanceof UsageReportRunningError) return { workflowId: WorkflowIds.usageReport(input.advertiser.advertiserId, month), month, started: false };
        throw err;
      }
    },
  };
}

export type UsageControlActivities = ReturnType<typeof createUsageControlActivities>;
