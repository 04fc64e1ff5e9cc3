import type { ScheduleSource } from '../temporal/schedules';
import { TaskQueues } from '../temporal/taskQueues';
import { ScheduleIds, WorkflowIds } from '../temporal/workflowIds';
import { retentionSearchAttributes } from './client';
import type { DatasetConfig } from './config';
import { loadDatasetConfigs } from './configFile';
import { RetentionWorkflowType, type RetentionTickInput } from './messages';

/*
 * Retention's part of `schedules apply --lifecycle retention`: one daily Schedule per dataset,
 * starting the short retentionTick, which starts `retention:<datasetId>` as of that day.
 */
export const retentionSchedules: ScheduleSource<DatasetConfig> = {
  lifecycle: 'retention',
  idPrefix: ScheduleIds.retentionPrefix,
  defaultCadence: '1d',
  load: (path) => loadDatasetConfigs(path),
  plan(config, opts) {
    const input: RetentionTickInput = {
      config,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      ...(opts.queues?.data ? { queues: { data: opts.queues.data } } : {}),
    };
    return {
      subject: config.datasetId,
      scheduleId: ScheduleIds.retention(config.datasetId),
      workflowType: RetentionWorkflowType.tick,
      workflowId: WorkflowIds.retentionTick(config.datasetId),
      input,
      typedSearchAttributes: retentionSearchAttributes(config, 'retention_schedule'),
    };
  },
};
