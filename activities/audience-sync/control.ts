import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { requestAudienceSync, type AudienceSyncRequested } from '../../src/audience-sync/client';
import { DestinationConfigError } from '../../src/audience-sync/config';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceSyncTickInput } from '../../src/audience-sync/messages';

export interface AudienceControlDeps {
  /** A client on the worker's own connection: the tick signals another workflow. */
  client?: Client;
}

export type ScheduledSyncResult = AudienceSyncRequested;

export function createAudienceControlActivities(deps: AudienceControlDeps = {}) {
  return {
    /** signalWithStart(audienceSync, syncNow) for a schedule tick, with the cadence rules of requestAudienceSync. */
    async requestScheduledAudienceSync(input: AudienceSyncTickInput): Promise<ScheduledSyncResult> {
      const client = deps.client;
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for audience control activities', 'WorkerMisconfigured');
      try {
        return await requestAudienceSync(client, {
          config: input.config,
          ...(input.taskQueue ? { taskQueue: input.taskQueue } : {}),
          ...(input.queues ? { queues: input.queues } : {}),
          ...(input.timing ? { timing: input.timing } : {}),
          onCadence: true,
        });
      } catch (err) {
        if (err instanceof DestinationConfigError) throw ApplicationFailure.nonRetryable(err.message, AudienceSyncFailureType.InvalidConfig);
        if (err instanceof WorkflowUpdateFailedError)
          throw ApplicationFailure.nonRetryable(`the running workflow refused the scheduled config: ${err.cause?.message ?? err.message}`, AudienceSyncFailureType.ConfigUpdateRefused);
        throw err;
      }
    },
  };
}

export type AudienceControlActivities = ReturnType<typeof createAudienceControlActivities>;
