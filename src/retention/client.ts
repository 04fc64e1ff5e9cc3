import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds } from '../temporal/workflowIds';
import { parseDatasetConfig, type DatasetConfig, type DatasetConfigInput } from './config';
import { RetentionWorkflowType, type RetentionInput, type RetentionQueues, type RetentionTiming, type RetentionWorkflow } from './messages';

/*
 * Starting a dataset's retention run: under its one id, so Temporal refuses a second run of
 * the same dataset while one is rewriting its partitions (a finished run frees the id).
 */

export class RetentionRunningError extends Error {
  override name = 'RetentionRunningError';
  constructor(readonly workflowId: string) {
    super(`a retention run of this dataset is in progress (${workflowId}); wait for it, or follow it with: ttsync retention report`);
  }
}

export interface StartRetentionOptions {
  config: DatasetConfigInput;
  asOf?: string;
  dryRun?: boolean;
  taskQueue?: string;
  queues?: RetentionQueues;
  timing?: RetentionTiming;
}

/**
 * Search attributes of a retention run: `Lifecycle="retention"` and the dataset id in
 * `DestinationId` (the kernel's one id attribute: a dataset is what this lifecycle writes to,
 * as a destination is for audience sync), so no new attribute has to be registered.
 */
export function retentionSearchAttributes(config: DatasetConfig, lifecycle = 'retention') {
  return [
    { key: SearchAttributeKeys.Lifecycle, value: lifecycle },
    { key: SearchAttributeKeys.DestinationId, value: config.datasetId },
  ];
}

export async function startRetention(client: Client, opts: StartRetentionOptions): Promise<WorkflowHandleWithFirstExecutionRunId<RetentionWorkflow>> {
  const config = parseDatasetConfig(opts.config, 'dataset config');
  const workflowId = opts.dryRun ? WorkflowIds.retentionDryRun(config.datasetId) : WorkflowIds.retention(config.datasetId);
  const input: RetentionInput = {
    config: opts.config,
    ...(opts.asOf ? { asOf: opts.asOf } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.queues ? { queues: opts.queues } : {}),
    ...(opts.timing ? { timing: opts.timing } : {}),
  };
  try {
    return await client.workflow.start<RetentionWorkflow>(RetentionWorkflowType.run, {
      workflowId,
      taskQueue: opts.taskQueue ?? TaskQueues.control,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: retentionSearchAttributes(config),
      staticSummary: `TikTok attribution retention${opts.dryRun ? ' (dry run)' : ''}: dataset ${config.datasetId}${opts.asOf ? ` as of ${opts.asOf}` : ''}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RetentionRunningError(workflowId);
    throw err;
  }
}
