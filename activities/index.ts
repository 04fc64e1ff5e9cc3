import { createAudienceDataActivities, defaultAudienceDataDeps, type AudienceDataDeps } from './audienceData';
import { createHealthActivities, type HealthDeps } from './health';
import { createTikTokAudienceActivities, type TikTokAudienceDeps } from './tiktokAudience';

export interface ActivityDeps {
  health: HealthDeps;
  /** Storage opener and clock of the audience data plane; default: stores by URI, local data folder. */
  audienceData?: AudienceDataDeps;
  /** Secret resolution, file reads and TikTok settings; default: env/file secrets, stores by URI, TIKTOK_* env. */
  tiktokAudience?: TikTokAudienceDeps;
}

/** Every activity the worker registers, composed from the per-area factories. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps.health),
    ...createAudienceDataActivities(deps.audienceData ?? defaultAudienceDataDeps()),
    ...createTikTokAudienceActivities(deps.tiktokAudience),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { AudienceDataActivities } from './audienceData';
export type { TikTokAudienceActivities } from './tiktokAudience';
