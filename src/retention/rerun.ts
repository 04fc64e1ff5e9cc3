import type { RerunSource } from '../temporal/rerun';
import { retentionIdOf } from '../temporal/workflowIds';
import { RetentionWorkflowType } from './messages';

/*
 * Retention's part of `ttsync rerun`. A run fails when one of its objects cannot be done
 * (a partition the config does not describe, storage refused); fix the cause and re-run it.
 * Any reset point is safe: every object's progress is in its record in the audit folder
 * (staged → replaced, by compare-and-swap on the generation read), so an object done again
 * is finished or redone, never mixed, and one already done is clean on a second pass. A dry
 * run writes nothing and runs again whole. An older failed run may run again after a later
 * one: the policy of an earlier day anonymizes a subset of what a later day did.
 */
export const retentionRerun: RerunSource = {
  lifecycle: 'retention',
  workflowTypes: Object.values(RetentionWorkflowType),
  resetPoints: (type) => (type === RetentionWorkflowType.run ? ['last-good', 'start'] : ['start']),
  resetNote(type, to) {
    if (type === RetentionWorkflowType.tick) return 'a tick only starts the day\'s retention run: starting it again is harmless';
    return to === 'last-good'
      ? 'safe for retention: objects already in place are not read again, and each object\'s progress record makes a repeated one finish or redo, never mix'
      : 'the run starts again from its input: objects it already anonymized are clean now and stay as they are';
  },
  workflowIdFor: (type, input) => (type === RetentionWorkflowType.run ? retentionIdOf(input) : undefined),
  olderRunsRerunnable: () => true,
  openRun: (run) => ({
    kind: 'refuse',
    message: `${run.workflowId} is running (run ${run.runId}): a failing object is retried by Temporal, or ends the run; re-run it once it has ended`,
  }),
};
