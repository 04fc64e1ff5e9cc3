import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { requestEventsExport, type EventsExportRequested } from '../../src/events-export/client';
import { EventsConfigError } from '../../src/events-export/config';
import { EventsExportFailureType } from '../../src/events-export/failures';
import type { EventsExportTickInput } from '../../src/events-export/messages';

export interface EventsControlDeps {
  /** A client on the worker's own connection: the tick signals another workflow. */
  client?: Client;
}

export type ScheduledEventsExportResult = EventsExportRequested;

export function createEventsControlActivities(deps: EventsControlDeps = {}) {
  return {
    /** signalWithStart(eventsExport, syncNow) for a schedule tick. */
    async requestScheduledEventsExport(input: EventsExportTickInput): Promise<ScheduledEventsExportResult> {
      const client = deps.client;
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for events control activities', 'WorkerMisconfigured');
      try {
        return await requestEventsExport(client, {
          config: input.config,
          ...(input.taskQueue ? { taskQueue: input.taskQueue } : {}),
          ...(input.queues ? { queues: input.queues } : {}),
          ...(input.timing ? { timing: input.timing } : {}),
          onCadence: true,
        });
      } catch (err) {
        if (err instanceof EventsConfigError) throw ApplicationFailure.nonRetryable(err.message, EventsExportFailureType.InvalidConfig);
        throw err;
      }
    },
  };
}

export type EventsControlActivities = ReturnType<typeof createEventsControlActivities>;
