/*
 * The shared contracts of the lifecycles: every workflow id and Schedule id, derived from
 * what the workflow writes to. A lifecycle's single writer has exactly one id per remote
 * object, so Temporal itself refuses a second writer, and the writer checks its own id
 * (an operator can type any id into the UI). Other lifecycles reach a workflow by these
 * ids alone. Pure: workflows import it.
 */

export const WorkflowIds = {
  /** The one writer of a destination's TikTok audience. */
  audienceSync: (destinationId: string): string => `audience-sync:${destinationId}`,
  /** What a destination's Schedule starts each cadence (Temporal suffixes it with the tick's time). */
  audienceSyncTick: (destinationId: string): string => `audience-sync-tick:${destinationId}`,
  /**
   * A destination's dry run (`ttsync audience sync --dry-run`): not a writer (it sends nothing
   * and commits nothing), but one at a time per destination, so Temporal refuses a second.
   */
  audienceSyncPreview: (destinationId: string): string => `audience-sync-preview:${destinationId}`,
  /** The one retention run of an attribution dataset at a time (it rewrites the dataset's partitions). */
  retention: (datasetId: string): string => `retention:${datasetId}`,
  /** A dataset's retention dry run: writes nothing, one at a time per dataset. */
  retentionDryRun: (datasetId: string): string => `retention-dry-run:${datasetId}`,
  /** What a dataset's daily Schedule starts (Temporal suffixes it with the tick's time). */
  retentionTick: (datasetId: string): string => `retention-tick:${datasetId}`,
  /** The one sender of an events destination's events (one ledger, one order of runs). */
  eventsExport: (destinationId: string): string => `events-export:${destinationId}`,
  /** What an events destination's Schedule starts each cadence. */
  eventsExportTick: (destinationId: string): string => `events-export-tick:${destinationId}`,
  /** The one SAN migration workflow of an MMP account: it alone decides and provisions for it. */
  sanMigration: (accountId: string): string => `san-migration:${accountId}`,
  /**
   * The deployment's notices sweeper: one outbox, one sweep at a time, so a notice whose
   * channel was down is not sent twice by two sweeps.
   */
  noticesSweep: (): string => 'notices-sweep',
} as const;

/** The destination id inside an events export workflow id (`events-export:<destinationId>`); undefined for any other id. */
export function destinationIdOfEventsWorkflowId(workflowId: string): string | undefined {
  const prefix = WorkflowIds.eventsExport('');
  return workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : undefined;
}

/** The account id inside a SAN migration workflow id (`san-migration:<accountId>`); undefined for any other id. */
export function accountIdOfWorkflowId(workflowId: string): string | undefined {
  const prefix = WorkflowIds.sanMigration('');
  return workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : undefined;
}

/**
 * The destination id inside an audience sync workflow id (`audience-sync:<destinationId>`),
 * so operators may type either; undefined for any other id. Destination ids are slugs
 * without ":", so the prefix is unambiguous.
 */
export function destinationIdOfWorkflowId(workflowId: string): string | undefined {
  const prefix = WorkflowIds.audienceSync('');
  return workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : undefined;
}

/**
 * The id a single writer (or a one-at-a-time workflow such as the dry run) must run under,
 * read from its workflow type and input; undefined for workflows whose id is free (ticks,
 * health checks). Replay uses it for histories that do not carry their id
 * (`temporal workflow show --output json`).
 */
export function writerIdOf(workflowType: string, input: unknown): string | undefined {
  if (workflowType === 'retention') return retentionIdOf(input);
  const accountId = (input as { accountId?: unknown } | null)?.accountId;
  if (workflowType === 'sanMigration' && typeof accountId === 'string') return WorkflowIds.sanMigration(accountId);
  const config = (input as { config?: { destinationId?: unknown } } | null)?.config;
  if (typeof config?.destinationId !== 'string') return undefined;
  if (workflowType === 'audienceSync') return WorkflowIds.audienceSync(config.destinationId);
  if (workflowType === 'audienceSyncPreview') return WorkflowIds.audienceSyncPreview(config.destinationId);
  if (workflowType === 'eventsExport') return WorkflowIds.eventsExport(config.destinationId);
  return undefined;
}

/**
 * The id a retention run must have: `retention:<datasetId>`, or `retention-dry-run:<datasetId>`
 * for a dry run; undefined when the input names no dataset. Replay and the workflow's own
 * id check use it.
 */
export function retentionIdOf(input: unknown): string | undefined {
  const i = input as { config?: { datasetId?: unknown }; dryRun?: unknown } | null;
  if (typeof i?.config?.datasetId !== 'string') return undefined;
  return i.dryRun === true ? WorkflowIds.retentionDryRun(i.config.datasetId) : WorkflowIds.retention(i.config.datasetId);
}

export const ScheduleIds = {
  /** Prefix of every audience sync Schedule id (`schedules apply --prune` finds them by it). */
  audienceSyncPrefix: 'audience-sync-schedule:',
  audienceSync: (destinationId: string): string => `audience-sync-schedule:${destinationId}`,
  /** Prefix of every retention Schedule id (one per dataset, daily). */
  retentionPrefix: 'retention-schedule:',
  retention: (datasetId: string): string => `retention-schedule:${datasetId}`,
  eventsExportPrefix: 'events-export-schedule:',
  eventsExport: (destinationId: string): string => `events-export-schedule:${destinationId}`,
  /** The deployment's one notices sweeper Schedule (`ttsync notices schedule`). */
  noticesSweep: (): string => 'notices-sweep-schedule',
} as const;


/**
 * Signals one lifecycle sends to another's workflow, by name (a lifecycle cannot import
 * another's messages). `eventsInputLanded`: an audience sync tells each events destination it
 * feeds (its config's notifyEventsDestinations) about the snapshot it just committed, so one
 * export drives both the audience and its enter/exit events.
 */
export const CrossLifecycleSignals = {
  eventsInputLanded: 'inputLanded',
} as const;

/** The argument of CrossLifecycleSignals.eventsInputLanded. */
export interface EventsInputLandedPayload {
  input: { uri: string; format?: 'csv' | 'ndjson' };
  requestId?: string;
}
