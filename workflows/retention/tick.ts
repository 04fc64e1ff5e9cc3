import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RetentionControlActivities, ScheduledRetentionResult } from '../../activities/retention/control';
import { RetentionFailureType } from '../../src/retention/failures';
import type { RetentionTickInput } from '../../src/retention/messages';

/*
 * What a dataset's daily Schedule starts. A Schedule suffixes the workflows it starts with
 * their time, and a retention run must be `retention:<datasetId>`, so this short workflow asks
 * an activity to start it (as of the day it starts). A run still in progress is left alone.
 */

export async function retentionTick(input: RetentionTickInput): Promise<ScheduledRetentionResult> {
  const { requestScheduledRetention } = proxyActivities<RetentionControlActivities>({
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: [RetentionFailureType.InvalidConfig] },
  });
  return requestScheduledRetention({ ...input, taskQueue: input.taskQueue ?? workflowInfo().taskQueue });
}
