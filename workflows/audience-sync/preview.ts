import { ActivityFailure, ApplicationFailure, CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import type { DestinationConfig } from '../../src/audience-sync/config';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceSyncPreviewInput, AudienceSyncPreviewResult } from '../../src/audience-sync/previewMessages';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { activitiesOf, checkedInput, failureTypeOf } from './context';
import { diffCounts, prepareAndDiff } from './dataPlane';
import { rejectedByReason } from './plan';

/*
 * A destination's dry run (`ttsync audience sync --dry-run`): what a sync of a snapshot would
 * add, remove and reject, without sending anything. A short workflow of its own, id
 * audience-sync-preview:<destinationId>, and not a writer: no segment claim, no audience
 * lease, no TikTok activity at all, no commit. It inspects the snapshot, reads the applied
 * state, and runs the sync's own prepare and diff (dataPlane.ts, with the sync's activity
 * options), so its counts are the sync's. Its data goes to a preview run folder the writer
 * never reads or collects (src/audience-sync/previewRuns.ts), trimmed to its rejects files
 * when it ends. It returns counts and URIs only.
 */
export async function audienceSyncPreview(input: AudienceSyncPreviewInput): Promise<AudienceSyncPreviewResult> {
  const { config: cfg, timing } = checkedInput(input);
  checkPreviewWorkflowId(cfg.destinationId);
  const { dataQuick, dataHeavy, dataHousekeeping } = activitiesOf(input, timing);
  const snapshot = input.snapshot;
  const info = await dataQuick.inspectSnapshot({ config: cfg, ...(snapshot ? { snapshot } : {}) });
  const applied = await dataQuick.loadAppliedState({ config: cfg });
  const result: AudienceSyncPreviewResult = {
    destinationId: cfg.destinationId,
    workflowId: workflowInfo().workflowId,
    syncMode: cfg.syncMode,
    snapshot: { uri: info.uri, createdAt: info.createdAt, bytes: info.bytes },
    stop: null,
    applied: { version: applied.version, audienceId: applied.audienceId, total: applied.total },
    runId: null,
    rows: 0,
    added: 0,
    removed: 0,
    byType: {},
    rejected: {},
    rejectsUris: [],
  };
  // The sync would stop here too (stale_snapshot), before any heavy work.
  if (info.stale)
    return {
      ...result,
      stop: {
        phase: 'stale_snapshot',
        message: `snapshot ${info.uri} was created ${info.createdAt}, older than the readiness window (${cfg.readinessWindow}); a sync would send nothing`,
        advice: 'export a fresh snapshot and preview (or sync) that one',
      },
    };

  const { runId } = await dataQuick.beginPreviewRun({ config: cfg, workflowRunId: workflowInfo().runId });
  try {
    const { prepared, diffs } = await prepareAndDiff(dataHeavy, cfg, runId, { kind: 'snapshot', ...(snapshot ? { snapshot } : {}) }, { version: applied.version, resend: false }, () => undefined);
    const counts = diffCounts(diffs, cfg.syncMode);
    const read = prepared.snapshot;
    return {
      ...result,
      runId,
      rows: read?.rows ?? 0,
      ...counts,
      rejected: rejectedByReason([read]),
      rejectsUris: read ? [read.rejectsUri] : [],
    };
  } finally {
    await trim(dataHousekeeping, cfg, runId);
  }
}

/** Deletes the preview's run folder but its rejects files, even when the preview failed or was cancelled. */
async function trim(acts: ReturnType<typeof activitiesOf>['dataHousekeeping'], cfg: DestinationConfig, runId: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await acts.endPreviewRun({ config: cfg, runId });
    } catch (err) {
      // Housekeeping: the destination's next preview deletes whatever is left.
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('preview run folder not trimmed', { destinationId: cfg.destinationId, runId, type: failureTypeOf(err) });
    }
  });
}

/** One preview per destination at a time: Temporal refuses a second start under this id, whatever id an operator types. */
function checkPreviewWorkflowId(destinationId: string): void {
  const expected = WorkflowIds.audienceSyncPreview(destinationId);
  const actual = workflowInfo().workflowId;
  if (actual === expected) return;
  throw ApplicationFailure.nonRetryable(
    `audienceSyncPreview for destination "${destinationId}" must run as workflow id "${expected}", not "${actual}": one dry run per destination at a time. ` +
      `Start it with: ttsync audience sync --config <destination.json> --dry-run`,
    AudienceSyncFailureType.WrongWorkflowId,
  );
}
