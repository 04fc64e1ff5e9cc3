import { createAudienceDataActivities, defaultAudienceDataDeps, type AudienceDataDeps } from './audienceData';
import { createHealthActivities, type HealthDeps } from './health';

export interface ActivityDeps {
  health: HealthDeps;
  /** Storage opener and clock of the audience data plane; default: stores by URI, local data folder. */
  audienceData?: AudienceDataDeps;
}

/** Every activity the worker registers, composed from the per-area factories. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps.health),
    ...createAudienceDataActivities(deps.audienceData ?? defaultAudienceDataDeps()),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
export type { AudienceDataActivities } from './audienceData';
