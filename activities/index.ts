import { createAudienceControlActivities, type AudienceControlDeps } from './audience-sync/control';
import { createAudienceDataActivities, defaultAudienceDataDeps, type AudienceDataDeps } from './audience-sync/data';
import { createHealthActivities, type HealthDeps } from './health';
import { createTikTokAudienceActivities, type TikTokAudienceDeps } from './audience-sync/tiktok';

export interface ActivityDeps {
  health: HealthDeps;
  /** Storage opener and clock of the audience data plane; default: stores by URI, local data folder. */
  audienceData?: AudienceDataDeps;
  /** Secret resolution, file reads and TikTok settings; default: env/file secrets, stores by URI, TIKTOK_* env. */
  tiktokAudience?: TikTokAudienceDeps;
  /** The Temporal client schedule ticks signal the audience sync workflows with (the worker supplies one). */
  audienceControl?: AudienceControlDeps;
}

/** Every activity the worker registers, composed from the per-area factories. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps.health),
    ...createAudienceDataActivities(deps.audienceData ?? defaultAudienceDataDeps()),
    ...createTikTokAudienceActivities(deps.tiktokAudience),
    ...createAudienceControlActivities(deps.audienceControl),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { AudienceDataActivities } from './audience-sync/data';
export type { TikTokAudienceActivities } from './audience-sync/tiktok';
export type { AudienceControlActivities } from './audience-sync/control';
