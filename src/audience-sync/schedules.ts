import type { ScheduleSource } from '../temporal/schedules';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { TaskQueues } from '../temporal/taskQueues';
import { ScheduleIds, WorkflowIds } from '../temporal/workflowIds';
import type { DestinationConfig } from './config';
import { loadDestinationConfigs } from './configFile';
import { AudienceSyncWorkflowType, type AudienceSyncTickInput } from './messages';

/*
 * Audience sync's part of `schedules apply`: one Schedule per destination, each starting
 * the short audienceSyncTick workflow every cadence, which signalWithStarts the
 * destination's one long-running audienceSync.
 */
export const audienceSyncSchedules: ScheduleSource<DestinationConfig> = {
  lifecycle: 'audience-sync',
  idPrefix: ScheduleIds.audienceSyncPrefix,
  // Schema, unique ids and the two-advertiser rule, over the whole set.
  load: async (path) => (await loadDestinationConfigs(path)).map((l) => l.config),
  plan(config, opts) {
    const input: AudienceSyncTickInput = {
      config,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      ...(opts.queues ? { queues: opts.queues } : {}),
      timing: {
        cadence: opts.cadence,
        ...(opts.poll?.initial ? { pollInitial: opts.poll.initial } : {}),
        ...(opts.poll?.max ? { pollMax: opts.poll.max } : {}),
        ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}),
      },
    };
    return {
      subject: config.destinationId,
      scheduleId: ScheduleIds.audienceSync(config.destinationId),
      workflowType: AudienceSyncWorkflowType.tick,
      workflowId: WorkflowIds.audienceSyncTick(config.destinationId),
      input,
      // Ops find a destination's schedule and its ticks like its sync workflow: DestinationId = "…".
      typedSearchAttributes: [
        { key: SearchAttributeKeys.DestinationId, value: config.destinationId },
        { key: SearchAttributeKeys.AdvertiserId, value: config.advertiserId },
        { key: SearchAttributeKeys.Lifecycle, value: 'audience_sync_schedule' },
      ],
    };
  },
};
