import type { RerunSource } from '../temporal/rerun';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { writerIdOf } from '../temporal/workflowIds';
import { EventsExportWorkflowType } from './messages';

/*
 * Events export's part of `ttsync rerun`. A run that fails does not fail the workflow: it
 * ends in `error` and the workflow continues as new (a run stopped while sending is held and
 * resumes on the next trigger anyway). So for a destination in `error` the run to reset is
 * the one before the current one, back to the step that failed: preparing again rebuilds
 * nothing once the manifest exists, and sending again skips every batch the ledger holds,
 * with the same event_ids, so nothing is sent twice or lost.
 */

export const eventsExportRerun: RerunSource = {
  lifecycle: 'events-export',
  workflowTypes: Object.values(EventsExportWorkflowType),
  resetPoints: () => ['last-good', 'start'],
  resetNote(type, to) {
    if (type === EventsExportWorkflowType.tick) return 'a tick only asks the destination workflow for a run (signalWithStart): asking again is harmless';
    return to === 'last-good'
      ? 'safe for events export: a prepared run is reused (its manifest is written last) and sending skips the batches its ledger acknowledged'
      : 'the run starts over under the same run id: prepare reuses the manifest, sending skips acknowledged batches';
  },
  workflowIdFor: (type, input) => writerIdOf(type, input),
  olderRunsRerunnable: (type) => type !== EventsExportWorkflowType.export,
  openRun(run) {
    const id = run.workflowId.replace(/^events-export:/, '');
    if (run.workflowType !== EventsExportWorkflowType.export) return { kind: 'refuse', message: `${run.workflowId} is still running (run ${run.runId}): wait for it to end` };
    const state = run.description.typedSearchAttributes.get(SearchAttributeKeys.SyncState) ?? 'unknown';
    if (state === 'error') return { kind: 'previous-run-failed', state };
    if (state === 'reauthorization_required')
      return { kind: 'refuse', message: `${run.workflowId} waits for a working token in the same step: replace the secret, then ttsync events reauthorized ${id}` };
    if (state === 'paused') return { kind: 'refuse', message: `${run.workflowId} is paused: ttsync events resume ${id}` };
    if (state === 'preparing' || state === 'sending') return { kind: 'refuse', message: `${run.workflowId} is running an export now (${state}); re-run it once it has ended in error` };
    return { kind: 'refuse', message: `${run.workflowId} is running and its last run did not fail (SyncState ${state}); for a new run: ttsync events export --config <events.json>` };
  },
};
