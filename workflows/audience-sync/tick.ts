import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AudienceControlActivities, ScheduledSyncResult } from '../../activities/audience-sync/control';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceSyncTickInput } from '../../src/audience-sync/messages';

/*
 * What an audience sync Schedule starts every cadence. A Schedule cannot signal a fixed
 * workflow id, so this short workflow asks an activity to signalWithStart the destination's
 * ONE long-running audienceSync (starting it when missing). It carries the config with its
 * secret reference only, never a token.
 */

export async function audienceSyncTick(input: AudienceSyncTickInput): Promise<ScheduledSyncResult> {
  const { requestScheduledAudienceSync } = proxyActivities<AudienceControlActivities>({
    startToCloseTimeout: '1m',
    // A bad config or a refused config change stays bad; anything else (server busy) is retried.
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: [AudienceSyncFailureType.InvalidConfig, AudienceSyncFailureType.ConfigUpdateRefused] },
  });
  // The long-running workflow goes on the queue its schedule runs on, unless told otherwise.
  return requestScheduledAudienceSync({ ...input, taskQueue: input.taskQueue ?? workflowInfo().taskQueue });
}
