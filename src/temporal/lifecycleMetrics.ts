import type { MetricMeter, MetricTags } from '@temporalio/common';

/*
 * The metrics every lifecycle's workflow records, on the workflow's own meter (`metricMeter`
 * of @temporalio/workflow: recorded by the worker's runtime, never during replay, so a
 * replayed cycle is not counted twice). Pure: workflow-safe. A lifecycle names itself and the
 * tags of its subject (audience sync: destination_id); the SDK adds namespace, task_queue and
 * workflow_type.
 */

export const LifecycleMetricNames = {
  /** Identifiers a cycle sent, by direction (added, removed). */
  idsSynced: 'ttsync_ids_synced',
  /** Values or rows a cycle rejected, by reason (invalid_email, malformed_row, …). */
  rejects: 'ttsync_rejects',
  /** Milliseconds from the start of a wait for TikTok's processing to the answer that the audience is editable. */
  processingWait: 'ttsync_processing_wait',
  /** 1 for the subject's current phase (its SyncState), 0 for the phase it left. */
  phase: 'ttsync_lifecycle_phase',
} as const;

export interface LifecycleMetrics {
  idsSynced(direction: 'added' | 'removed', count: number): void;
  rejected(byReason: Readonly<Record<string, number | undefined>>): void;
  processingWaited(ms: number): void;
  /** The subject moved from `from` (null: first seen in this run) to `to`. */
  phaseChanged(from: string | null, to: string): void;
}

export function lifecycleMetrics(meter: MetricMeter, lifecycle: string, subject: MetricTags): LifecycleMetrics {
  const tags: MetricTags = { lifecycle, ...subject };
  const ids = meter.createCounter(LifecycleMetricNames.idsSynced, 'ids', 'Identifiers sent to TikTok, by direction');
  const rejects = meter.createCounter(LifecycleMetricNames.rejects, 'values', 'Values and rows rejected, by reason');
  const wait = meter.createHistogram(LifecycleMetricNames.processingWait, 'int', 'ms', "Milliseconds waited for TikTok's processing before an edit");
  const phase = meter.createGauge(LifecycleMetricNames.phase, 'int', 'phase', 'The current phase of each subject (1), and the one it left (0)');
  return {
    idsSynced(direction, count) {
      if (count > 0) ids.add(count, { ...tags, direction });
    },
    rejected(byReason) {
      for (const [reason, n] of Object.entries(byReason)) if (n) rejects.add(n, { ...tags, reason });
    },
    processingWaited(ms) {
      wait.record(Math.max(0, Math.round(ms)), tags);
    },
    phaseChanged(from, to) {
      if (from !== null && from !== to) phase.set(0, { ...tags, phase: from });
      phase.set(1, { ...tags, phase: to });
    },
  };
}
