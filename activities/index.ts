import { composeActivities } from '../src/temporal/composeActivities';
import { createAudienceSyncActivities, type AudienceSyncActivityDeps } from './audience-sync';
import { createEventsExportActivities, type EventsExportActivityDeps } from './events-export';
import { createHealthActivities, type HealthDeps } from './health';
import { createSanMigrationActivities, type SanMigrationActivityDeps } from './san-migration';
import { createNoticeActivities, type NoticeActivityDeps } from './notices';
import { createRetentionActivities, type RetentionActivityDeps } from './retention';
import { createUsageReportLifecycleActivities, type UsageReportActivityDeps } from './usage-report';

export interface ActivityDeps extends AudienceSyncActivityDeps, EventsExportActivityDeps, RetentionActivityDeps, UsageReportActivityDeps {
  health: HealthDeps;
  /** SAN migration's stores, secrets and TikTok settings; default TTSYNC_SAN_STORE and the TIKTOK_* env. */
  sanMigration?: SanMigrationActivityDeps;
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
    'events-export': createEventsExportActivities(deps),
    'san-migration': createSanMigrationActivities(deps.sanMigration),
    'usage-report': createUsageReportLifecycleActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { SanMigrationActivities } from './san-migration';
export type { NoticeActivities } from './notices';
