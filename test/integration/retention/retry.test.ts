import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetentionDataActivities } from '../../../activities/retention/data';
import { moveAggregateTable } from '../../../src/retention/aggregates';
import { readObjectState } from '../../../src/retention/audit';
import { parseDatasetConfig } from '../../../src/retention/config';
import { planRetention, processBatch, processObject } from '../../../src/retention/objects';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore, StorageError, type BlobStore } from '../../../src/storage';
import { dayTotals, expectedAggregate, expectedPartition, parseAggregate, sortRows } from '../../helpers/retentionExpected';

/*
 * A retry of one object's activity within the same run, after the earlier attempt put the new
 * version in place and recorded it as replaced (its worker died before the activity completed,
 * or the answer was lost). The chaos run found the retry scanning the anonymized object again,
 * finding nothing to do and recording it as clean: the run's audit record then said 0 rows for
 * an object whose rows this run had anonymized. The retry must answer with the first attempt's
 * record, and the audit must count the object's rows.
 */

const dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-retry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AS_OF = '2026-10-01';

/** A 3-day synthetic dataset in its own folder, its config and stores, and the plan as of AS_OF. */
async function seeded(name: string, seed: number) {
  const root = join(dir, name);
  const base = openBlobStore(root);
  const gen = await generateSyntheticDataset(base, { start: '2026-01-01', days: 3, rowsPerDay: 80, seed });
  const config = parseDatasetConfig(syntheticDatasetConfig(name, root, join(root, 'audit')));
  const stores = { records: openBlobStore(config.records.uri), audit: openBlobStore(config.audit) };
  return { base, gen, config, stores, asOf: AS_OF, plan: await planRetention(stores, config, AS_OF) };
}

describe('retention object retried within its run', () => {
  it('keeps the replaced record of the first attempt, and the audit counts its rows', { timeout: 60_000 }, async () => {
    const { base, gen, config, stores, asOf, plan } = await seeded('retry', 3);
    const { key } = plan.due[0]!;
    const original = (await base.readBuffer(gen.recordsKeys[0]!)).toString('utf8');
    const want = expectedPartition(original, asOf);
    expect(want.anonymized).toBeGreaterThan(0);

    const first = await processObject(stores, { config, key, asOf, dryRun: false, runId: 'run-1' });
    expect(first).toMatchObject({ outcome: 'anonymized', rowsAnonymized: want.anonymized });
    const retried = await processObject(stores, { config, key, asOf, dryRun: false, runId: 'run-1' });
    expect(retried).toMatchObject({ rowsAnonymized: want.anonymized, oldSha256: first.oldSha256, newSha256: first.newSha256, newGeneration: first.newGeneration });
    expect(await readObjectState(stores.audit, config.datasetId, key)).toMatchObject({ phase: 'replaced', runId: 'run-1', counts: { rowsAnonymized: want.anonymized } });
    expect((await stores.records.readBuffer(key)).toString('utf8')).toBe(want.text);

    const audit = await createRetentionDataActivities().retentionWriteAudit({
      config,
      plan: { ...plan, due: [plan.due[0]!] },
      summary: { datasetId: config.datasetId, asOf, dryRun: false, cutoffs: plan.cutoffs, scanUpTo: plan.scanUpTo, objectsScanned: 1, objectsSkipped: 0, objectsChanged: 1, rowsSeen: retried.rowsSeen, rowsAnonymized: retried.rowsAnonymized, tiktokWithinWindow: retried.tiktokWithinWindow, unreadableRows: 0, aggregateRowsMoved: 0, aggregateObjectsChanged: 0, changed: true },
      aggregates: [],
      workflowId: 'retention:retry',
      runId: 'run-1',
      startedAt: new Date().toISOString(),
    });
    const record = JSON.parse((await stores.audit.readBuffer(audit.auditUri.slice(audit.auditUri.indexOf('/retry/runs/') + 1))).toString('utf8')) as { objects: { key: string; rowsAnonymized: number }[] };
    expect(record.objects).toEqual([expect.objectContaining({ key, rowsAnonymized: want.anonymized, outcome: 'anonymized' })]);

    // Another run finds it done and scans nothing; forced, it records the object clean under its own run id.
    const later = await processObject(stores, { config, key, asOf, dryRun: false, runId: 'run-2' });
    expect(later).toMatchObject({ outcome: 'clean', rowsAnonymized: 0 });
  });

  /**
   * The audit store as a retry saw it when it read the object's record before an earlier
   * attempt of its run (whose heartbeat had timed out, and which went on) wrote it: the records
   * look absent until the retry starts reading the object, by then already replaced.
   */
  function staleUntilRead(audit: BlobStore, records: BlobStore): { audit: BlobStore; records: BlobStore } {
    let stale = true;
    const hide = (key: string): boolean => stale && /\/(objects|months)\//.test(key);
    const notFound = (key: string): StorageError => new StorageError('not_found', `no object at ${audit.uriOf(key)}`);
    return {
      audit: Object.assign(Object.create(audit) as BlobStore, {
        stat: (key: string) => (hide(key) ? Promise.reject(notFound(key)) : audit.stat(key)),
        readBuffer: (key: string) => (hide(key) ? Promise.reject(notFound(key)) : audit.readBuffer(key)),
      }),
      records: Object.assign(Object.create(records) as BlobStore, {
        openReader: (key: string) => {
          stale = false;
          return records.openReader!(key);
        },
        openRead: (key: string) => {
          stale = false;
          return records.openRead(key);
        },
      }),
    };
  }

  it('a retry that read the record before an earlier attempt of its run replaced the object counts the rows of that attempt, per object and in a batch', { timeout: 60_000 }, async () => {
    const { base, gen, config, stores, asOf, plan } = await seeded('late', 5);
    const [a, b] = [plan.due[0]!.key, plan.due[1]!.key];
    const want = async (key: string) => expectedPartition((await base.readBuffer(gen.recordsKeys[plan.due.findIndex((d) => d.key === key)]!)).toString('utf8'), asOf);
    const [wantA, wantB] = [await want(a), await want(b)];
    expect(wantA.anonymized).toBeGreaterThan(0);
    expect(wantB.anonymized).toBeGreaterThan(0);

    // Per object: the earlier attempt replaced the object and recorded it.
    const first = await processObject(stores, { config, key: a, asOf, dryRun: false, runId: 'run-1' });
    expect(first).toMatchObject({ outcome: 'anonymized', rowsAnonymized: wantA.anonymized });
    const retried = await processObject(staleUntilRead(stores.audit, stores.records), { config, key: a, asOf, dryRun: false, runId: 'run-1' });
    expect(retried).toMatchObject({ outcome: 'anonymized', rowsAnonymized: wantA.anonymized, newSha256: first.newSha256, newGeneration: first.newGeneration });
    expect(await readObjectState(stores.audit, config.datasetId, a)).toMatchObject({ phase: 'replaced', runId: 'run-1', counts: { rowsAnonymized: wantA.anonymized } });

    // In a batch: the earlier attempt published the object, its record still says staged.
    const [done] = await processBatch(stores, { config, keys: [b], asOf, dryRun: false, runId: 'run-1' });
    expect(done).toMatchObject({ outcome: 'anonymized', rowsAnonymized: wantB.anonymized });
    const replaced = (await readObjectState(stores.audit, config.datasetId, b))!;
    const month = replaced.key.match(/date=(\d{4}-\d{2})/)![1]!;
    const monthKey = `${config.datasetId}/months/${month}.json`;
    const record = JSON.parse((await stores.audit.readBuffer(monthKey)).toString('utf8')) as { objects: Record<string, unknown> };
    record.objects[b] = { ...replaced, phase: 'staged', generation: replaced.oldGeneration, sha256: replaced.oldSha256 };
    await stores.audit.write(monthKey, JSON.stringify(record) + '\n');
    const [late] = await processBatch(staleUntilRead(stores.audit, stores.records), { config, keys: [b], asOf, dryRun: false, runId: 'run-1' });
    expect(late).toMatchObject({ outcome: 'resumed', rowsAnonymized: wantB.anonymized, newSha256: done!.newSha256 });
    expect(await readObjectState(stores.audit, config.datasetId, b)).toMatchObject({ phase: 'replaced', runId: 'run-1', counts: { rowsAnonymized: wantB.anonymized } });
    expect((await stores.records.readBuffer(b)).toString('utf8')).toBe(wantB.text);

    // Another run's stale read stays what it is: that run anonymized nothing.
    expect(await processObject(staleUntilRead(stores.audit, stores.records), { config, key: a, asOf, dryRun: false, runId: 'run-2' })).toMatchObject({ outcome: 'clean', rowsAnonymized: 0 });
  });

  it('an aggregate move retried within its run reports the move it made once, from its note; another run moves nothing', { timeout: 60_000 }, async () => {
    const root = join(dir, 'agg');
    const base = openBlobStore(root);
    const gen = await generateSyntheticDataset(base, { start: '2026-01-01', days: 10, rowsPerDay: 40, seed: 4 });
    const config = parseDatasetConfig(syntheticDatasetConfig('agg-retry', root, join(root, 'audit')));
    const table = config.aggregates[0]!;
    const store = openBlobStore(table.uri);
    const original = (await base.readBuffer(gen.aggregateKey)).toString('utf8');
    const asOf = '2026-07-06';
    const journal = { audit: openBlobStore(config.audit), datasetId: config.datasetId, runId: 'run-1' };
    const first = await moveAggregateTable(store, table, config, asOf, false, journal);
    expect(first).toHaveLength(1);
    expect(first[0]!.rowsMoved).toBeGreaterThan(0);
    const after = (await base.readBuffer(gen.aggregateKey)).toString('utf8');
    expect(sortRows(parseAggregate(after))).toEqual(expectedAggregate(parseAggregate(original), asOf));
    expect(dayTotals(parseAggregate(after))).toEqual(dayTotals(parseAggregate(original)));
    // The retry (the replace landed, the answer did not): the same move, counted once; the table as it was.
    expect(await moveAggregateTable(store, table, config, asOf, false, journal)).toEqual(first);
    expect((await base.readBuffer(gen.aggregateKey)).toString('utf8')).toBe(after);
    // Another run (or one without notes) finds nothing to move.
    expect(await moveAggregateTable(store, table, config, asOf, false, { ...journal, runId: 'run-2' })).toEqual([]);
    expect(await moveAggregateTable(store, table, config, asOf, false)).toEqual([]);
  });
});
