import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetentionDataActivities } from '../../../activities/retention/data';
import type { RetentionPlan } from '../../../src/retention/messages';

/*
 * The audit record of a run is written by an activity that Temporal retries when its worker
 * died after the write, or when the store's answer was lost after the write took effect (the
 * chaos run's GCS proxy cuts such connections). The retry must find the run's record, not add
 * a second one with a later finishedAt: the report counts runs and rows from these records.
 */

const dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('retention audit record', () => {
  it('a retried write of the same run keeps one record, and answers with the first one', async () => {
    let clock = Date.parse('2026-10-01T03:00:00Z');
    const acts = createRetentionDataActivities({ now: () => new Date((clock += 1_000)) });
    const config = { datasetId: 'audit-once', records: { uri: join(dir, 'records'), format: 'csv' as const }, audit: join(dir, 'audit') };
    const plan: RetentionPlan = { asOf: '2026-10-01', cutoffs: {}, scanUpTo: '2026-04-08', due: [], skipped: 0, nextDue: [] };
    const summary = {
      datasetId: 'audit-once',
      asOf: '2026-10-01',
      dryRun: false,
      cutoffs: {},
      scanUpTo: '2026-04-08',
      objectsScanned: 0,
      objectsSkipped: 0,
      objectsChanged: 0,
      rowsSeen: 0,
      rowsAnonymized: 0,
      tiktokWithinWindow: 0,
      unreadableRows: 0,
      aggregateRowsMoved: 0,
      aggregateObjectsChanged: 0,
      changed: false,
    };
    const input = { config, plan, summary, aggregates: [], workflowId: 'retention:audit-once', runId: 'run-1', startedAt: '2026-10-01T02:59:00Z' };
    const first = await acts.retentionWriteAudit(input);
    const again = await acts.retentionWriteAudit(input);
    expect(again).toEqual(first);
    expect(readdirSync(join(dir, 'audit', 'audit-once', 'runs'))).toHaveLength(1);
    // Another run of the same day is a record of its own.
    await acts.retentionWriteAudit({ ...input, runId: 'run-2' });
    expect(readdirSync(join(dir, 'audit', 'audit-once', 'runs'))).toHaveLength(2);
  });
});
