import type { RerunSource } from '../temporal/rerun';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { writerIdOf } from '../temporal/workflowIds';
import { AudienceSyncWorkflowType, CYCLE_STEPS } from './messages';

/*
 * Audience sync's part of `ttsync rerun`. A failed cycle does not fail the writer: the cycle
 * ends in a phase (error, a conflict, a stale snapshot, the audience cap) and the workflow
 * continues as new and waits for its next trigger. So for a destination in one of those
 * phases the run to reset is the one before the current (idle) one, back to the workflow
 * task that scheduled the step that failed: the steps before it are not repeated (the
 * data plane, and TikTok edits already made), and the cycle goes on under the same cycle id.
 *
 * Why any reset point inside the failed cycle's run is safe: every activity is idempotent
 * (data-plane objects are keyed by the cycle id, uploads by MD5, APPEND/REMOVE are set
 * operations), the applied state commits only after the last TikTok edit and by
 * compare-and-swap on the version the cycle read, and the writer lease and segment claim
 * are already this destination's (claiming them again is a no-op). A run older than the
 * last commit is never reset: its edits would land over newer ones.
 */

/** Phases a failed cycle leaves, that a re-run of the cycle can clear once the cause is fixed. */
const RERUNNABLE = new Set(['error', 'segment_conflict', 'audience_conflict', 'stale_snapshot', 'audience_cap_reached']);

/** Parks that wait for a person's signal, not a re-run: what to do instead. */
function parkedAdvice(state: string, destination: string): string | null {
  switch (state) {
    case 'paused':
      return `it is paused: ttsync audience resume ${destination} (a held request then runs)`;
    case 'reauthorization_required':
      return `it waits for a working token in the same step: replace the secret, then ttsync audience reauthorized ${destination}; the step runs again, nothing is repeated`;
    case 'processing_overdue':
      return 'it waits for TikTok to finish processing the audience and keeps polling; nothing failed';
    case 'audience_missing':
      return `the audience is gone from TikTok, which may be on purpose: ttsync audience recreate ${destination} creates it again and sends the whole applied state`;
    default:
      return null;
  }
}

export const audienceSyncRerun: RerunSource = {
  lifecycle: 'audience-sync',
  workflowTypes: Object.values(AudienceSyncWorkflowType),
  resetPoints: (type) =>
    // A failed dry run trims its run folder when it ends, so only its start is a point to go back to (it writes nothing anyway).
    type === AudienceSyncWorkflowType.preview ? ['start'] : ['last-good', 'start'],
  resetNote(type, to) {
    if (type === AudienceSyncWorkflowType.preview) return 'a dry run writes nothing: it runs again whole';
    if (type === AudienceSyncWorkflowType.tick) return 'a tick only asks the destination workflow for a cycle (signalWithStart): asking again is harmless';
    return to === 'last-good'
      ? 'safe for audience sync: activities are idempotent, the applied state commits last (compare-and-swap on the version the cycle read), and the writer lease and segment claim are already this destination\'s'
      : 'the cycle runs whole again: TikTok edits it made before the failure are sent again (APPEND and REMOVE are set operations, so the audience ends the same)';
  },
  workflowIdFor: (type, input) => writerIdOf(type, input),
  olderRunsRerunnable: (type) => type !== AudienceSyncWorkflowType.sync,
  openRun(run) {
    const destination = run.workflowId;
    if (run.workflowType !== AudienceSyncWorkflowType.sync)
      return { kind: 'refuse', message: `${run.workflowId} is still running (run ${run.runId}): nothing failed yet; wait for it to end` };
    const state = run.description.typedSearchAttributes.get(SearchAttributeKeys.SyncState) ?? 'unknown';
    if (RERUNNABLE.has(state)) return { kind: 'previous-run-failed', state };
    const advice = parkedAdvice(state, destination);
    if (advice) return { kind: 'refuse', message: `${run.workflowId} is in ${state}, not a failed cycle: ${advice}` };
    if ((CYCLE_STEPS as readonly string[]).includes(state) || state === 'replacing')
      return { kind: 'refuse', message: `${run.workflowId} is running a cycle now (SyncState ${state}); a failed step is retried by Temporal or ends the cycle: re-run it once it has ended in error` };
    return {
      kind: 'refuse',
      message: `${run.workflowId} is running and its last cycle did not fail (SyncState ${state}); nothing to re-run. For a new cycle now: ttsync audience sync --config <destination.json>`,
    };
  },
};
