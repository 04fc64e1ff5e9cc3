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
  /** The one SAN migration workflow of an MMP account: it alone decides and provisions for it. */
  sanMigration: (accountId: string): string => `san-migration:${accountId}`,
} as const;

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
  const accountId = (input as { accountId?: unknown } | null)?.accountId;
  if (workflowType === 'sanMigration' && typeof accountId === 'string') return WorkflowIds.sanMigration(accountId);
  const config = (input as { config?: { destinationId?: unknown } } | null)?.config;
  if (typeof config?.destinationId !== 'string') return undefined;
  if (workflowType === 'audienceSync') return WorkflowIds.audienceSync(config.destinationId);
  if (workflowType === 'audienceSyncPreview') return WorkflowIds.audienceSyncPreview(config.destinationId);
  return undefined;
}

export const ScheduleIds = {
  /** Prefix of every audience sync Schedule id (`schedules apply --prune` finds them by it). */
  audienceSyncPrefix: 'audience-sync-schedule:',
  audienceSync: (destinationId: string): string => `audience-sync-schedule:${destinationId}`,
} as const;

