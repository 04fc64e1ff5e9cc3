import type { PlannedSchedule, ScheduleSource } from '../temporal/schedules';
import { TaskQueues } from '../temporal/taskQueues';
import { ScheduleIds, WorkflowIds } from '../temporal/workflowIds';
import { loadUsageAdvertisers } from './advertisers';
import { usageReportSearchAttributes } from './client';
import { UsageReportWorkflowType, type UsageAdvertiser, type UsageTickInput } from './messages';

/*
 * The usage report's part of `schedules apply --lifecycle usage-report --config <destination
 * configs>`: for every advertiser with a 3PD destination, two calendar Schedules in its time
 * zone: monthly (dataMarketplace.report dayOfMonth/hour, default the 2nd at 06:00) starting
 * usageReportTick, which starts the report of the month before; and daily at 23:30, starting
 * usageTargetingTick, which records the day's ad group targeting.
 */

/** The daily record is taken late in the advertiser's day, so a change made that day counts for it. */
export const TARGETING_RECORD_TIME = { hour: 23, minute: 30 } as const;

export const usageReportSchedules: ScheduleSource<UsageAdvertiser, PlannedSchedule[]> = {
  lifecycle: 'usage-report',
  idPrefix: ScheduleIds.usageReportPrefix,
  defaultCadence: '1d',
  load: (path) => loadUsageAdvertisers(path),
  plan(advertiser, opts) {
    const input: UsageTickInput = {
      advertiser,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      ...(opts.queues?.tiktok ? { queues: { tiktok: opts.queues.tiktok } } : {}),
    };
    const typedSearchAttributes = usageReportSearchAttributes(advertiser.advertiserId, null, 'usage_report_schedule');
    return [
      {
        subject: advertiser.advertiserId,
        scheduleId: ScheduleIds.usageReport(advertiser.advertiserId),
        workflowType: UsageReportWorkflowType.monthlyTick,
        workflowId: WorkflowIds.usageReportTick(advertiser.advertiserId),
        input,
        typedSearchAttributes,
        calendar: { dayOfMonth: advertiser.dayOfMonth, hour: advertiser.hour, minute: 0, timeZone: advertiser.timeZone },
      },
      {
        subject: `${advertiser.advertiserId}:targeting`,
        scheduleId: ScheduleIds.usageTargeting(advertiser.advertiserId),
        workflowType: UsageReportWorkflowType.targetingTick,
        workflowId: WorkflowIds.usageTargetingTick(advertiser.advertiserId),
        input,
        typedSearchAttributes,
        calendar: { ...TARGETING_RECORD_TIME, timeZone: advertiser.timeZone },
      },
    ];
  },
};
