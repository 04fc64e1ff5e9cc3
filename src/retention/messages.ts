import { defineQuery } from '@temporalio/workflow';
import type { DatasetConfigInput } from './config';

/*
 * The retention workflow's contract: input, result, status query and the tick's input.
 * Shared by the workflow, its client (CLI, schedule tick) and operators typing into the UI.
 * Only keys, counts and digests: never a row.
 */

export const RetentionWorkflowType = { run: 'retention', tick: 'retentionTick' } as const;

export interface RetentionQueues {
  data?: string;
}

export interface RetentionTiming {
  /** Heartbeat timeout of the streaming steps (default 2m): how soon a dead worker's object is retried. */
  heartbeatTimeout?: string;
  /**
   * Start-to-close timeout of the short steps that do not heartbeat (default 15m): planning and
   * writing the audit record. How soon such a step whose worker died is retried on another worker.
   */
  dataStepTimeout?: string;
}

export interface RetentionInput {
  config: DatasetConfigInput;
  /** The day the policy runs for (YYYY-MM-DD, UTC); default the day the run started. */
  asOf?: string;
  /** List what would change, change nothing (run as `retention-dry-run:<datasetId>`). */
  dryRun?: boolean;
  queues?: RetentionQueues;
  timing?: RetentionTiming;
}

export type RetentionWorkflow = (input: RetentionInput) => Promise<RetentionRunSummary>;

export interface RetentionTickInput {
  config: DatasetConfigInput;
  /** The control queue of the retention run (default the tick's). */
  taskQueue?: string;
  queues?: RetentionQueues;
}

/** Objects at most per batch activity (each batch rewrites its month's progress record twice). */
export const BATCH_MAX_OBJECTS = 64;

/**
 * The due objects as batches for one activity each: consecutive objects of the same month
 * (partition date), at most `max` per batch, in the plan's order. Same month, so a batch's
 * two progress writes are one month record each.
 */
export function objectBatches(due: readonly { key: string; partition: string }[], max = BATCH_MAX_OBJECTS): string[][] {
  const out: string[][] = [];
  let month = '';
  for (const d of due) {
    const m = d.partition.slice(0, 7);
    const last = out.at(-1);
    if (last && m === month && last.length < max) last.push(d.key);
    else out.push([d.key]);
    month = m;
  }
  return out;
}

/** What one object (a partition file) went through in this run. */
export type ObjectOutcome = 'anonymized' | 'clean' | 'would_anonymize' | 'resumed';

export interface ObjectResult {
  key: string;
  partition: string;
  outcome: ObjectOutcome;
  rowsSeen: number;
  rowsAnonymized: number;
  /** TikTok rows still inside their window (kept; due later). */
  tiktokWithinWindow: number;
  /** Rows whose network or time could not be read: kept as they are, listed in the audit. */
  unreadableRows: number;
  oldSha256: string;
  /** Equal to oldSha256 when nothing changed. */
  newSha256: string;
  oldGeneration: string;
  newGeneration: string;
  /** When the earliest kept TikTok row falls past its window (ISO), if any. */
  nextDueAt: string | null;
}

export interface AggregateResult {
  table: string;
  key: string;
  rowsMoved: number;
  rowsMerged: number;
  oldSha256: string;
  newSha256: string;
  /** Days whose TikTok rows moved to Organic. */
  days: number;
  outcome: 'moved' | 'unchanged' | 'would_move';
}

export interface RetentionPlan {
  asOf: string;
  /** Per TikTok network, the cutoff day (rows before it are past the window). */
  cutoffs: Record<string, string>;
  /** Partitions dated up to this day are scanned (the latest cutoff plus the slack). */
  scanUpTo: string;
  /** Objects to stream this run. */
  due: { key: string; partition: string }[];
  /** Objects skipped because their progress record says they are done for this as-of day. */
  skipped: number;
  /** Partitions that will be due on the next day (for the status query). */
  nextDue: string[];
}

export interface RetentionRunSummary {
  datasetId: string;
  asOf: string;
  dryRun: boolean;
  cutoffs: Record<string, string>;
  scanUpTo: string;
  objectsScanned: number;
  objectsSkipped: number;
  objectsChanged: number;
  rowsSeen: number;
  rowsAnonymized: number;
  tiktokWithinWindow: number;
  unreadableRows: number;
  aggregateRowsMoved: number;
  aggregateObjectsChanged: number;
  /** False when the run found nothing to change (a second run over the same data). */
  changed: boolean;
  /** The audit record of the run (none for a dry run). */
  auditUri: string | null;
  /** A dry run's list of what would change (keys and counts only), at most 1,000 objects. */
  wouldChange?: { key: string; rowsAnonymized: number }[];
  wouldMove?: { table: string; key: string; rowsMoved: number }[];
  nextDue: string[];
  finishedAt: string;
}

export const RETENTION_PHASES = ['starting', 'planning', 'anonymizing', 'aggregates', 'auditing', 'done'] as const;
export type RetentionPhase = (typeof RETENTION_PHASES)[number];

export interface RetentionStatus {
  datasetId: string;
  phase: RetentionPhase;
  asOf: string | null;
  dryRun: boolean;
  /** Objects done in this run so far, of how many. */
  progress: { done: number; total: number };
  /** The run's summary once done (a closed run answers this query while a worker is up). */
  lastRun: RetentionRunSummary | null;
  /** Partitions due on the day after as-of (next daily run), as `date=YYYY-MM-DD` paths' dates. */
  nextDue: string[];
}

export const retentionStatusQuery = defineQuery<RetentionStatus>('retentionStatus');
