import { composeActivities } from '../src/temporal/composeActivities';
import { createAudienceSyncActivities, type AudienceSyncActivityDeps } from './audience-sync';
import { createHealthActivities, type HealthDeps } from './health';
import { createSanMigrationActivities, type SanMigrationActivityDeps } from './san-migration';

export interface ActivityDeps extends AudienceSyncActivityDeps {
  health: HealthDeps;
  /** SAN migration's stores, secrets and TikTok settings; default TTSYNC_SAN_STORE and the TIKTOK_* env. */
  sanMigration?: SanMigrationActivityDeps;
}

/**
 * Every activity the worker registers, one group per lifecycle; two groups defining the
 * same activity name fail here, at worker start, instead of one silently replacing the other.
 */
export function createActivities(deps: ActivityDeps) {
  return composeActivities({
    health: createHealthActivities(deps.health),
    'audience-sync': createAudienceSyncActivities(deps),
    'san-migration': createSanMigrationActivities(deps.sanMigration),
  });
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { SanMigrationActivities } from './san-migration';
