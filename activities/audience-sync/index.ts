import { composeActivities } from '../../src/temporal/composeActivities';
import { createAudienceControlActivities, type AudienceControlDeps } from './control';
import { createAudienceDataActivities, defaultAudienceDataDeps, type AudienceDataDeps } from './data';
import { createTikTokAudienceActivities, type TikTokAudienceDeps } from './tiktok';

export interface AudienceSyncActivityDeps {
  /** Storage opener and clock of the audience data plane; default: stores by URI, local data folder. */
  audienceData?: AudienceDataDeps;
  /** Secret resolution, file reads and TikTok settings; default: env/file secrets, stores by URI, TIKTOK_* env. */
  tiktokAudience?: TikTokAudienceDeps;
  /** The Temporal client schedule ticks signal the audience sync workflows with (the worker supplies one). */
  audienceControl?: AudienceControlDeps;
}

/** Every activity of audience sync: the data plane, the TikTok calls and the schedule tick's control. */
export function createAudienceSyncActivities(deps: AudienceSyncActivityDeps) {
  return composeActivities({
    'audience-sync/data': createAudienceDataActivities(deps.audienceData ?? defaultAudienceDataDeps()),
    'audience-sync/tiktok': createTikTokAudienceActivities(deps.tiktokAudience),
    'audience-sync/control': createAudienceControlActivities(deps.audienceControl),
  });
}

export type { AudienceDataActivities } from './data';
export type { TikTokAudienceActivities } from './tiktok';
export type { AudienceControlActivities } from './control';
