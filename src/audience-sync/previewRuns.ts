import type { BlobStore } from '../storage';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { RunIdSchema } from './layout';

/*
 * The run folders of dry runs (audienceSyncPreview). A preview runs the sync's own prepare and
 * diff activities, which write under runs/<runId>/ of the destination's workdir; its run ids
 * live in a namespace of their own, `preview_<destinationId>.<run>`, so that:
 *  - the writer never sees them: its garbage collection lists `runs/<destinationId>.` and
 *    destination ids are lowercase slugs without "_", so no writer prefix matches a preview
 *    run (and a preview of destination "a" never matches one of "a-b": the prefix ends in ".");
 *  - nothing of a preview is ever committed (no manifest names a preview run);
 *  - a preview cleans up after itself: when it ends, all of its folder but its rejects files
 *    goes; those (which the CLI samples) go when the destination's next preview begins, and
 *    so does whatever a preview that never ended left.
 */

export const PREVIEW_RUN_PREFIX = 'preview_';

/** The run id of the preview that runs as Temporal run `workflowRunId`. */
export function previewRunId(destinationId: string, workflowRunId: string): string {
  return RunIdSchema.parse(`${PREVIEW_RUN_PREFIX}${destinationId}.${workflowRunId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`);
}

/** True when `runId` names a preview run of this destination. */
export function isPreviewRunOf(runId: string, destinationId: string): boolean {
  return runId.startsWith(`${PREVIEW_RUN_PREFIX}${destinationId}.`) && RunIdSchema.safeParse(runId).success;
}

function checkPreviewRun(runId: string, destinationId: string): void {
  if (!isPreviewRunOf(runId, destinationId))
    throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `run ${runId} is not a preview run of destination "${destinationId}"; only preview runs are discarded here`);
}

/** The rejects files of a run (runs/<runId>/rejects.csv, rejects-<set>.csv), which the CLI reads after the preview. */
function isRejectsFile(key: string, runId: string): boolean {
  const rest = key.slice(`runs/${runId}/`.length);
  return /^rejects(?:-[A-Za-z0-9-]+)?\.csv$/.test(rest);
}

/**
 * Deletes every object of the destination's preview runs but `keep` (the preview beginning
 * now). Only one preview of a destination runs at a time (its workflow id), so none of
 * these is in use. Idempotent.
 */
export async function discardPreviewRuns(work: BlobStore, destinationId: string, keep?: string): Promise<{ deletedRuns: number; deletedObjects: number }> {
  if (keep !== undefined) checkPreviewRun(keep, destinationId);
  const runs = new Set<string>();
  let deletedObjects = 0;
  for await (const o of work.list(`runs/${PREVIEW_RUN_PREFIX}${destinationId}.`)) {
    const runId = o.key.slice('runs/'.length).split('/')[0]!;
    if (runId === keep || !isPreviewRunOf(runId, destinationId)) continue;
    await work.delete(o.key, { ignoreNotFound: true });
    runs.add(runId);
    deletedObjects += 1;
  }
  return { deletedRuns: runs.size, deletedObjects };
}

/**
 * What is left of a preview once it has its counts: its rejects files only (spill parts,
 * diff lists and summaries are deleted). Idempotent.
 */
export async function trimPreviewRun(work: BlobStore, destinationId: string, runId: string): Promise<{ deletedObjects: number; kept: string[] }> {
  checkPreviewRun(runId, destinationId);
  let deletedObjects = 0;
  const kept: string[] = [];
  for await (const o of work.list(`runs/${runId}/`)) {
    if (isRejectsFile(o.key, runId)) {
      kept.push(work.uriOf(o.key));
      continue;
    }
    await work.delete(o.key, { ignoreNotFound: true });
    deletedObjects += 1;
  }
  return { deletedObjects, kept };
}
