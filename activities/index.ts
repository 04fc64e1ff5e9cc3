import { createHealthActivities, type HealthDeps } from './health';

export interface ActivityDeps {
  health: HealthDeps;
}

/** Every activity the worker registers, composed from the per-area factories. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps.health),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { HealthActivities } from './health';
