import { ApplicationFailure, type Client } from '@temporalio/client';
import { DatasetConfigError } from '../../src/retention/config';
import { RetentionRunningError, startRetention } from '../../src/retention/client';
import { RetentionFailureType } from '../../src/retention/failures';
import type { RetentionTickInput } from '../../src/retention/messages';

export interface RetentionControlDeps {
  /** A client on the worker's own connection: the tick starts another workflow. */
  client?: Client;
}

export interface ScheduledRetentionResult {
  workflowId: string;
  /** false: a run of the dataset was still in progress, so this day's run is that one. */
  started: boolean;
  runId?: string;
}

export function createRetentionControlActivities(deps: RetentionControlDeps = {}) {
  return {
    /** Starts the dataset's retention run for today (as-of = the run's start day, UTC). */
    async requestScheduledRetention(input: RetentionTickInput): Promise<ScheduledRetentionResult> {
      const client = deps.client;
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client for retention control activities', 'WorkerMisconfigured');
      try {
        const h = await startRetention(client, { config: input.config, ...(input.taskQueue ? { taskQueue: input.taskQueue } : {}), ...(input.queues ? { queues: input.queues } : {}) });
        return { workflowId: h.workflowId, started: true, runId: h.firstExecutionRunId };
      } catch (err) {
        if (err instanceof DatasetConfigError) throw ApplicationFailure.nonRetryable(err.message, RetentionFailureType.InvalidConfig);
        if (err instanceof RetentionRunningError) return { workflowId: err.workflowId, started: false };
        throw err;
      }
    },
  };
}

export type RetentionControlActivities = ReturnType<typeof createRetentionControlActivities>;
