import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EventsControlActivities, ScheduledEventsExportResult } from '../../activities/events-export';
import { EventsExportFailureType } from '../../src/events-export/failures';
import type { EventsExportTickInput } from '../../src/events-export/messages';

/*
 * What an events destination's Schedule starts every cadence: a Schedule cannot signal a
 * fixed workflow id, so this short workflow asks an activity to signalWithStart the
 * destination's ONE eventsExport with syncNow. It carries the config's secret reference only.
 */
export async function eventsExportTick(input: EventsExportTickInput): Promise<ScheduledEventsExportResult> {
  const { requestScheduledEventsExport } = proxyActivities<EventsControlActivities>({
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: [EventsExportFailureType.InvalidConfig] },
  });
  return requestScheduledEventsExport({ ...input, taskQueue: input.taskQueue ?? workflowInfo().taskQueue });
}
