import { composeActivities } from '../../src/temporal/composeActivities';
import { createRetentionAlertActivities } from './alerts';
import { createRetentionControlActivities, type RetentionControlDeps } from './control';
import { createRetentionDataActivities, type RetentionDataDeps } from './data';

export interface RetentionActivityDeps {
  /** Storage opener and clock of the retention data plane; default: stores by URI. */
  retentionData?: RetentionDataDeps;
  /** The Temporal client the daily tick starts runs with (the worker supplies one). */
  retentionControl?: RetentionControlDeps;
}

export function createRetentionActivities(deps: RetentionActivityDeps) {
  return composeActivities({
    'retention/data': createRetentionDataActivities(deps.retentionData),
    'retention/control': createRetentionControlActivities(deps.retentionControl),
    'retention/alerts': createRetentionAlertActivities(deps.retentionData),
  });
}

export type { RetentionDataActivities } from './data';
export type { RetentionControlActivities } from './control';
export type { RetentionAlertActivities } from './alerts';
