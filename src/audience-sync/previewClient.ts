import { ActivityFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { readRejectsSample, type RejectSample } from '../snapshot';
import { openBlobStore } from '../storage';
import { TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds } from '../temporal/workflowIds';
import { NothingToSyncError } from './client';
import { parseDestinationConfig, type DestinationConfig, type DestinationConfigInput } from './config';
import { AudienceSyncWorkflowType, type AudienceSyncTiming, type InputObject } from './messages';
import type { AudienceSyncPreviewInput, AudienceSyncPreviewResult, AudienceSyncPreviewWorkflow } from './previewMessages';
import { Stores, type StoreOpener } from './stores';

/*
 * The client side of the dry run (`ttsync audience sync --dry-run`): start the destination's
 * preview workflow, wait for its counts, and read a sample of the rejects from the rejects
 * file itself (the workflow returns its URI, never its lines).
 */

/**
 * How long a preview may run before Temporal ends it. A preview nobody finishes (no data
 * worker polls its queue) would otherwise hold the id and refuse every later preview.
 */
export const PREVIEW_EXECUTION_TIMEOUT = '24h';

/** A preview of this destination is running: Temporal refuses a second one under its id. */
export class PreviewRunningError extends Error {
  override name = 'PreviewRunningError';
  constructor(readonly workflowId: string) {
    super(
      `a dry run of this destination is already running (workflow ${workflowId}); one runs at a time: wait for it to finish, or end it with: temporal workflow terminate --workflow-id ${workflowId}`,
    );
  }
}

/** The preview failed (a bad snapshot, storage out of reach, ...); the message names the step and the cause. */
export class PreviewFailedError extends Error {
  override name = 'PreviewFailedError';
}

export class PreviewTimeoutError extends Error {
  override name = 'PreviewTimeoutError';
  constructor(workflowId: string, ms: number) {
    super(`the dry run did not finish within ${Math.round(ms / 1000)}s; it goes on as workflow ${workflowId} (nothing is sent to TikTok either way)`);
  }
}

export interface AudiencePreviewRequest {
  config: DestinationConfig | DestinationConfigInput;
  /** Default: the config's storage.snapshot. */
  snapshot?: InputObject;
  /** Control queue the preview runs on (default ttsync-control). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
  /** Stop waiting after this long (PreviewTimeoutError; the preview goes on). */
  timeoutMs?: number;
}

/**
 * Runs the destination's dry run and returns its counts. A second preview of the same
 * destination while one runs is refused (PreviewRunningError): the id's conflict policy is
 * FAIL, so two operators never get each other's counts; once it has ended, its id is free
 * again (reuse policy ALLOW_DUPLICATE). A preview while the sync workflow runs is fine.
 */
export async function runAudiencePreview(client: Client, opts: AudiencePreviewRequest): Promise<AudienceSyncPreviewResult> {
  const config = parseDestinationConfig(opts.config, 'config');
  if (!opts.snapshot && !config.storage.snapshot) throw nothingToPreview(config.destinationId);
  const workflowId = WorkflowIds.audienceSyncPreview(config.destinationId);
  const input: AudienceSyncPreviewInput = {
    config,
    ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
    ...(opts.queues ? { queues: opts.queues } : {}),
    ...(opts.timing ? { timing: opts.timing } : {}),
  };
  let handle;
  try {
    handle = await client.workflow.start<AudienceSyncPreviewWorkflow>(AudienceSyncWorkflowType.preview, {
      workflowId,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowExecutionTimeout: PREVIEW_EXECUTION_TIMEOUT,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new PreviewRunningError(workflowId);
    throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = handle.result();
    if (opts.timeoutMs === undefined) return await result;
    const ms = opts.timeoutMs;
    // Past the timeout nobody awaits the result; closing the connection must not make it an unhandled rejection.
    result.catch(() => undefined);
    return await Promise.race([result, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new PreviewTimeoutError(workflowId, ms)), ms)))]);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new PreviewFailedError(`dry run ${workflowId} failed: ${causeOf(err)}`);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export function nothingToPreview(destinationId: string): NothingToSyncError {
  return new NothingToSyncError(`nothing to preview for destination "${destinationId}": give a snapshot (--snapshot <uri>), or set storage.snapshot in the config`);
}

/** The innermost message, with the activity that failed. */
function causeOf(err: WorkflowFailedError): string {
  let e: Error | undefined = err.cause;
  let activity: string | undefined;
  while (e) {
    if (e instanceof ActivityFailure) activity = e.activityType;
    const next = (e as { cause?: Error }).cause;
    if (!next) break;
    e = next;
  }
  const message = e?.message ?? err.message;
  return activity ? `${activity}: ${message}` : message;
}

/**
 * The first `n` rejects across the files (in order), without their values, read from the
 * rejects files themselves (the caller's own storage access), never from workflow history.
 */
export async function readPreviewRejects(uris: readonly string[], n = 10, opener: StoreOpener = (uri) => openBlobStore(uri)): Promise<RejectSample[]> {
  const stores = new Stores(opener);
  const out: RejectSample[] = [];
  for (const uri of uris) {
    if (out.length >= n) break;
    const { store, key } = stores.object(uri);
    out.push(...(await readRejectsSample(await store.openRead(key), n - out.length)));
  }
  return out;
}
