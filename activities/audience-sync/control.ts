import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { requestAudienceSync, type AudienceSyncRequested } from '../../src/audience-sync/client';
import { DestinationConfigError, type DestinationConfigInput } from '../../src/audience-sync/config';
import type { AudienceSyncTiming } from '../../workflows/audience-sync/audienceSync';

export interface AudienceControlDeps {
  /** A client on the worker's own connection: the tick signals another workflow. */
  client?: Client;
}

export interface ScheduledSyncInput {
  config: DestinationConfigInput;
  /** Control queue of the long-running audienceSync (default: the tick's own queue). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
}

export type ScheduledSyncResult = AudienceSyncRequested;

export function createAudienceControlActivities(deps: AudienceControlDeps = {}) {
  return {
    /** signalWithStart(audienceSync, syncNow) for a schedule tick, with the cadence rules of requestAudienceSync. */
    async requestScheduledAudienceSync(input: ScheduledSyncInput): Promise<ScheduledSyncResult> {
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
        if (err instanceof DestinationConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidConfig');
        if (err instanceof WorkflowUpdateFailedError)
          throw ApplicationFailure.nonRetryable(`the running workflow refused the scheduled config: ${err.cause?.message ?? err.message}`, 'ConfigUpdateRefused');
        throw err;
      }
    },
  };
}

export type AudienceControlActivities = ReturnType<typeof createAudienceControlActivities>;
