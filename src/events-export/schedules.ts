import type { ScheduleSource } from '../temporal/schedules';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { TaskQueues } from '../temporal/taskQueues';
import { ScheduleIds, WorkflowIds } from '../temporal/workflowIds';
import type { EventsDestinationConfig } from './config';
import { loadEventsConfigs } from './configFile';
import { EventsExportWorkflowType, type EventsExportTickInput } from './messages';

/*
 * Events export's part of `schedules apply --lifecycle events-export`: one Schedule per events
 * destination, each starting the short eventsExportTick every cadence, which signalWithStarts
 * the destination's ONE eventsExport with syncNow (it exports the config's input.uri or
 * input.snapshot, or resumes a held run).
 */
export const eventsExportSchedules: ScheduleSource<EventsDestinationConfig> = {
  lifecycle: 'events-export',
  idPrefix: ScheduleIds.eventsExportPrefix,
  load: async (path) => (await loadEventsConfigs(path)).map((l) => l.config),
  plan(config, opts) {
    const input: EventsExportTickInput = {
      config,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      ...(opts.queues ? { queues: { ...(opts.queues.data ? { data: opts.queues.data } : {}), ...(opts.queues.events ? { events: opts.queues.events } : {}) } } : {}),
      timing: { cadence: opts.cadence, ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}) },
    };
    return {
      subject: config.destinationId,
      scheduleId: ScheduleIds.eventsExport(config.destinationId),
      workflowType: EventsExportWorkflowType.tick,
      workflowId: WorkflowIds.eventsExportTick(config.destinationId),
      input,
      typedSearchAttributes: [
        { key: SearchAttributeKeys.DestinationId, value: config.destinationId },
        { key: SearchAttributeKeys.Lifecycle, value: 'events_export_schedule' },
      ],
    };
  },
};
