import type { BlobStore } from '../storage';
import { listRunRecords, type RunRecord } from './audit';

/*
 * `ttsync retention report`: the audit records of a dataset, newest first, summarized. Read
 * straight from the audit folder, so it works with no worker and no Temporal at all.
 */

export interface RetentionReport {
  datasetId: string;
  auditUri: string;
  runs: number;
  rowsAnonymized: number;
  aggregateRowsMoved: number;
  lastRun: RunRecord | null;
  lastChange: { asOf: string; finishedAt: string; rowsAnonymized: number } | null;
  recent: { asOf: string; finishedAt: string; runId: string; changed: boolean; objectsScanned: number; objectsSkipped: number; objectsChanged: number; rowsSeen: number; rowsAnonymized: number; aggregateRowsMoved: number }[];
  oldBytes: string | null;
}

export async function retentionReport(audit: BlobStore, datasetId: string, limit = 20): Promise<RetentionReport> {
  const runs: RunRecord[] = [];
  for await (const r of listRunRecords(audit, datasetId)) runs.push(r);
  runs.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : a.finishedAt > b.finishedAt ? -1 : 0));
  const moved = (r: RunRecord): number => r.aggregates.reduce((a, x) => a + x.rowsMoved, 0);
  const last = runs[0] ?? null;
  const lastChange = runs.find((r) => r.changed) ?? null;
  return {
    datasetId,
    auditUri: audit.uriOf(`${datasetId}/runs/`),
    runs: runs.length,
    rowsAnonymized: runs.reduce((a, r) => a + r.rowsAnonymized, 0),
    aggregateRowsMoved: runs.reduce((a, r) => a + moved(r), 0),
    lastRun: last,
    lastChange: lastChange && { asOf: lastChange.asOf, finishedAt: lastChange.finishedAt, rowsAnonymized: lastChange.rowsAnonymized },
    recent: runs.slice(0, limit).map((r) => ({
      asOf: r.asOf,
      finishedAt: r.finishedAt,
      runId: r.runId,
      changed: r.changed,
      objectsScanned: r.objectsScanned,
      objectsSkipped: r.objectsSkipped,
      objectsChanged: r.objectsChanged,
      rowsSeen: r.rowsSeen,
      rowsAnonymized: r.rowsAnonymized,
      aggregateRowsMoved: moved(r),
    })),
    oldBytes: last?.oldBytes ?? null,
  };
}

export function formatReport(r: RetentionReport): string {
  const lines = [`dataset ${r.datasetId}: ${r.runs} run(s) audited in ${r.auditUri}; ${r.rowsAnonymized} rows anonymized, ${r.aggregateRowsMoved} aggregate rows moved to Organic in all`];
  if (r.lastChange) lines.push(`last change: as of ${r.lastChange.asOf} (${r.lastChange.finishedAt}), ${r.lastChange.rowsAnonymized} rows anonymized`);
  for (const x of r.recent)
    lines.push(
      `  ${x.asOf}  ${x.finishedAt}  ${x.changed ? 'changed  ' : 'unchanged'}  objects ${x.objectsChanged} changed / ${x.objectsScanned} scanned / ${x.objectsSkipped} skipped  rows ${x.rowsAnonymized} anonymized of ${x.rowsSeen} seen  aggregate rows moved ${x.aggregateRowsMoved}`,
    );
  if (r.oldBytes) lines.push(`old bytes: ${r.oldBytes}`);
  return lines.join('\n') + '\n';
}
