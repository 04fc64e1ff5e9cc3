import { composeActivities } from '../../src/temporal/composeActivities';
import { createUsageControlActivities, type UsageControlDeps } from './control';
import { createUsageReportActivities, type UsageReportDeps } from './report';

export interface UsageReportActivityDeps {
  /** Report folder, storage opener, TikTok settings, secrets and clock of the usage report. */
  usageReport?: UsageReportDeps;
  /** The Temporal client the monthly tick starts reports with (the worker supplies one). */
  usageControl?: UsageControlDeps;
}

export function createUsageReportLifecycleActivities(deps: UsageReportActivityDeps) {
  return composeActivities({
    'usage-report/report': createUsageReportActivities(deps.usageReport),
    'usage-report/control': createUsageControlActivities(deps.usageControl),
  });
}

export type { UsageReportActivities } from './report';
export type { UsageControlActivities, ScheduledUsageReportResult } from './control';
