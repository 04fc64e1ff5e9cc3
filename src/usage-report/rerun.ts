import type { RerunSource } from '../temporal/rerun';
import { usageReportIdOf } from '../temporal/workflowIds';
import { UsageReportWorkflowType } from './messages';

/*
 * The usage report's part of `ttsync rerun`. A report fails when TikTok refuses the reads
 * (a revoked token, no permission), the report folder cannot be written, or the notice cannot
 * be delivered; fix the cause and re-run it. Every reset point is safe: building the report
 * rewrites the same two objects, and the notice's key is the month's, so a delivery already
 * made is not made again. An older failed month may run again after a later one: months are
 * independent.
 */
export const usageReportRerun: RerunSource = {
  lifecycle: 'usage-report',
  workflowTypes: Object.values(UsageReportWorkflowType),
  resetPoints: (type) => (type === UsageReportWorkflowType.report ? ['last-good', 'start'] : ['start']),
  resetNote(type, to) {
    if (type === UsageReportWorkflowType.monthlyTick) return 'a monthly tick only starts the report of the month before: starting it again starts nothing a completed month already has';
    if (type === UsageReportWorkflowType.targetingTick) return "a daily tick rewrites the day's targeting record: starting it again records the targeting as it is now";
    return to === 'last-good'
      ? 'safe for the usage report: the report objects are rewritten whole, and the notice is keyed by the month, so a delivery already made is not repeated'
      : 'the report is read and written again from its input (same objects); the month\'s notice is sent only if it was not delivered yet';
  },
  workflowIdFor: (type, input) => (type === UsageReportWorkflowType.report ? usageReportIdOf(input) : undefined),
  olderRunsRerunnable: () => true,
  openRun: (run) => ({
    kind: 'refuse',
    message: `${run.workflowId} is running (run ${run.runId}): it may be waiting for the month to settle, or Temporal is retrying a failed read; re-run it once it has ended`,
  }),
};
