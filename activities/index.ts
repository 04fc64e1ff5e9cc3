import { composeActivities } from '../src/temporal/composeActivities';
import { createAudienceSyncActivities, type AudienceSyncActivityDeps } from './audience-sync';
import { createHealthActivities, type HealthDeps } from './health';
import { createNoticeActivities, type NoticeActivityDeps } from './notices';
import { createRetentionActivities, type RetentionActivityDeps } from './retention';

export interface ActivityDeps extends AudienceSyncActivityDeps, RetentionActivityDeps {
  health: HealthDeps;
  /** The notices outbox and its adapters (kernel, every lifecycle posts through it); default from the worker's env. */
  notices?: NoticeActivityDeps;
}

/**
 * Every activity the worker registers, one group per lifecycle; two groups defining the
 * same activity name fail here, at worker start, instead of one silently replacing the other.
 */
export function createActivities(deps: ActivityDeps) {
  return composeActivities({
    health: createHealthActivities(deps.health),
    notices: createNoticeActivities(deps.notices),
    'audience-sync': createAudienceSyncActivities(deps),
    retention: createRetentionActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { NoticeActivities } from './notices';
