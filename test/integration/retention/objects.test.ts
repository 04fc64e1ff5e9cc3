import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moveAggregateTable } from '../../../src/retention/aggregates';
import { AuditKeys, readObjectState, writeObjectState } from '../../../src/retention/audit';
import { parseDatasetConfig, type DatasetConfig } from '../../../src/retention/config';
import { RetentionError } from '../../../src/retention/failures';
import { planRetention, processObject, type RetentionStores } from '../../../src/retention/objects';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { createGcsClient, openBlobStore, type BlobStore } from '../../../src/storage';
import { startFakeGcs, type FakeGcs } from '../../helpers/fakeGcs';
import { dayTotals, expectedAggregate, expectedNdjsonPartition, expectedPartition, parseAggregate, sortRows } from '../../helpers/retentionExpected';

/*
 * The object job on both storage adapters, without Temporal: a local folder and a bucket of a
 * real fake-gcs-server. The expected bytes come from test/helpers/retentionExpected.ts.
 */

const AS_OF = '2026-10-01';
let gcs: FakeGcs;
let dir: string;
const BUCKET = 'ttsync-retention-objects';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-objects-'));
  gcs = await startFakeGcs();
  await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
}, 60_000);
afterAll(async () => {
  await gcs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const open = (uri: string): BlobStore => openBlobStore(uri, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test', maxRetries: 0 } });

async function dataset(root: string, id: string): Promise<{ config: DatasetConfig; stores: RetentionStores; originals: Map<string, string>; agg: string }> {
  const base = open(root);
  const gen = await generateSyntheticDataset(base, { start: '2026-01-01', days: 40, rowsPerDay: 60, seed: 5 });
  const config = parseDatasetConfig(syntheticDatasetConfig(id, root, `${root.replace(/\/?$/, '/')}audit/`));
  const originals = new Map<string, string>();
  for (const k of gen.recordsKeys) originals.set(k.replace(/^records\//, ''), (await base.readBuffer(k)).toString('utf8'));
  return { config, stores: { records: open(config.records.uri), audit: open(config.audit) }, originals, agg: (await base.readBuffer(gen.aggregateKey)).toString('utf8') };
}

describe.each([
  ['a local folder', () => join(dir, 'local')],
  ['fake-gcs-server', () => `gs://${BUCKET}/ds`],
])('retention objects in %s', (_name, rootOf) => {
  it('anonymizes exactly the TikTok rows past the window, keeps every other byte, is idempotent, and moves aggregates with per-day totals kept', { timeout: 120_000 }, async () => {
    const { config, stores, originals, agg } = await dataset(rootOf(), 'objects');
    const plan = await planRetention(stores, config, AS_OF);
    // 2026-10-01 − 6 months: every partition of Jan-Feb (40 days) is due.
    expect(plan.cutoffs).toEqual({ 'TikTok for Business – Android': '2026-04-01', 'TikTok for Business – iOS': '2026-04-01', 'TikTok for Business – SAN': '2026-04-01' });
    expect(plan.due.map((d) => d.key)).toEqual([...originals.keys()]);
    let expectedTotal = 0;
    for (const { key } of plan.due) {
      const r = await processObject(stores, { config, key, asOf: AS_OF, dryRun: false, runId: 'run-1' });
      const want = expectedPartition(originals.get(key)!, AS_OF);
      expectedTotal += want.anonymized;
      expect(r.rowsAnonymized, key).toBe(want.anonymized);
      expect(r.outcome).toBe(want.anonymized ? 'anonymized' : 'clean');
      expect((await stores.records.readBuffer(key)).toString('utf8')).toBe(want.text);
      const state = await readObjectState(stores.audit, config.datasetId, key);
      expect(state).toMatchObject({ phase: want.anonymized ? 'replaced' : 'clean', generation: (await stores.records.stat(key)).generation });
    }
    expect(expectedTotal).toBeGreaterThan(500);
    // Nothing staged is left, and one object per partition.
    expect(await all(stores.audit, `${config.datasetId}/staging/`)).toEqual([]);
    expect(await all(stores.records, '')).toEqual([...originals.keys()]);

    // A second plan on the same day finds everything done.
    const again = await planRetention(stores, config, AS_OF);
    expect(again.due).toEqual([]);
    expect(again.skipped).toBe(originals.size);
    // Forcing a rescan of an anonymized object changes nothing either.
    const key = plan.due[0]!.key;
    const before = await stores.records.stat(key);
    const re = await processObject(stores, { config, key, asOf: AS_OF, dryRun: false, runId: 'run-2' });
    expect(re).toMatchObject({ outcome: 'clean', rowsAnonymized: 0 });
    expect((await stores.records.stat(key)).generation).toBe(before.generation);

    // Aggregates: TikTok moved to Organic for days wholly past the window, totals kept.
    const table = config.aggregates[0]!;
    const moved = await moveAggregateTable(open(table.uri), table, config, AS_OF, false);
    expect(moved).toHaveLength(1);
    const after = parseAggregate((await open(table.uri).readBuffer('installs_by_day.csv')).toString('utf8'));
    const original = parseAggregate(agg);
    expect(sortRows(after)).toEqual(expectedAggregate(original, AS_OF));
    expect(dayTotals(after)).toEqual(dayTotals(original));
    expect(await moveAggregateTable(open(table.uri), table, config, AS_OF, false)).toEqual([]);
  });

  it('replaces with a precondition: another writer between the read and the replace is never overwritten', { timeout: 60_000 }, async () => {
    const { config, stores, originals } = await dataset(`${rootOf()}-cas`, 'cas');
    const key = [...originals.keys()][0]!;
    const racing: BlobStore = new Proxy(stores.records, {
      get(target, prop, receiver) {
        if (prop === 'writeIfGeneration')
          return async (k: string, data: Buffer, gen: string) => {
            await target.write(k, 'network,attribution_time\nsomeone else,2026-01-01\n');
            return target.writeIfGeneration(k, data, gen);
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const err = await processObject({ ...stores, records: racing }, { config, key, asOf: AS_OF, dryRun: false, runId: 'r' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetentionError);
    expect((err as RetentionError).type).toBe('RetentionObjectChanged');
    expect((await stores.records.readBuffer(key)).toString()).toBe('network,attribution_time\nsomeone else,2026-01-01\n');
  });

  it('resumes a run that died after its count check: a landed version is recorded, an old one is redone, a staged copy of an older version goes in place', { timeout: 60_000 }, async () => {
    const { config, stores, originals } = await dataset(`${rootOf()}-resume`, 'resume');
    const [k1, k2, k3] = [...originals.keys()] as [string, string, string];
    // The record a run writes once its counts are checked, just before the store publishes:
    // a dry run's digest is the new version's. k1 also has a staged copy in the audit folder,
    // as versions before the one-pass write left it.
    for (const key of [k1, k2, k3]) {
      const dry = await processObject(stores, { config, key, asOf: AS_OF, dryRun: true, runId: 'dead' });
      const info = await stores.records.stat(key);
      const want = Buffer.from(expectedPartition(originals.get(key)!, AS_OF).text);
      const stagedKey = key === k1 ? AuditKeys.staging(config.datasetId, key, info.generation) : undefined;
      if (stagedKey) await stores.audit.write(stagedKey, want);
      await writeObjectState(stores.audit, config.datasetId, {
        version: 1,
        key,
        policy: 'x',
        phase: 'staged',
        generation: info.generation,
        sha256: dry.oldSha256,
        oldGeneration: info.generation,
        oldSha256: dry.oldSha256,
        newSha256: dry.newSha256,
        ...(stagedKey ? { stagedKey } : {}),
        counts: { rowsSeen: dry.rowsSeen, rowsAnonymized: dry.rowsAnonymized, tiktokWithinWindow: dry.tiktokWithinWindow, unreadableRows: 0 },
        nextDueAt: null,
        unreadableSamples: [],
        absentColumns: [],
        asOf: AS_OF,
        runId: 'dead',
        updatedAt: new Date().toISOString(),
      });
    }
    // k2's publish happened before the crash: the object holds the new bytes.
    await stores.records.write(k2, expectedPartition(originals.get(k2)!, AS_OF).text);
    const outcomes: string[] = [];
    for (const key of [k1, k2, k3]) {
      const r = await processObject(stores, { config, key, asOf: AS_OF, dryRun: false, runId: 'next' });
      outcomes.push(r.outcome);
      expect(r.rowsAnonymized).toBe(expectedPartition(originals.get(key)!, AS_OF).anonymized);
      expect((await stores.records.readBuffer(key)).toString()).toBe(expectedPartition(originals.get(key)!, AS_OF).text);
      expect(await readObjectState(stores.audit, config.datasetId, key)).toMatchObject({ phase: 'replaced', generation: (await stores.records.stat(key)).generation });
    }
    // k3 died before its publish: its old version was whole, and it is read again.
    expect(outcomes).toEqual(['resumed', 'resumed', 'anonymized']);
    expect(await all(stores.audit, `${config.datasetId}/staging/`)).toEqual([]);
  });

  it.each([
    ['csv', 64],
    ['csv', 1000],
    ['ndjson', 64],
    ['ndjson', 1000],
  ] as const)('gives the same bytes when a %s object is read %i bytes at a time (records across reads, a record longer than the buffer)', { timeout: 120_000 }, async (format, pieceBytes) => {
    const root = `${rootOf()}-pieces-${format}-${pieceBytes}`;
    const base = open(root);
    const gen = await generateSyntheticDataset(base, { start: '2026-01-01', days: 3, rowsPerDay: 50, seed: 11, format });
    const config = parseDatasetConfig(syntheticDatasetConfig('pieces', root, `${root.replace(/\/?$/, '/')}audit/`, format));
    const stores = { records: open(config.records.uri), audit: open(config.audit) };
    let total = 0;
    for (const k of gen.recordsKeys) {
      const key = k.replace(/^records\//, '');
      const original = (await stores.records.readBuffer(key)).toString('utf8');
      const want = format === 'csv' ? expectedPartition(original, AS_OF) : expectedNdjsonPartition(original, AS_OF);
      const r = await processObject(stores, { config, key, asOf: AS_OF, dryRun: false, runId: 'pieces' }, { pieceBytes });
      expect(r.rowsAnonymized, key).toBe(want.anonymized);
      expect(r.rowsSeen).toBe(50);
      const after = await stores.records.readBuffer(key);
      expect(after.toString('utf8')).toBe(want.text);
      expect(r.newSha256).toBe(createHash('sha256').update(after).digest('hex'));
      expect(r.oldSha256).toBe(createHash('sha256').update(original).digest('hex'));
      total += want.anonymized;
    }
    expect(total).toBeGreaterThan(20);
  });

  it('replaces an object larger than the store\'s buffer limit as a stream, with the same bytes as a small one', { timeout: 120_000 }, async () => {
    // GCS: one request up to 256 KiB, a resumable upload in 256 KiB chunks beyond; the
    // object is about 2 MiB, so neither its old nor its new version is ever held whole.
    const root = `${rootOf()}-large`;
    const small = { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test', maxRetries: 0, resumableThresholdBytes: 256 * 1024, resumableChunkBytes: 256 * 1024 } };
    const base = openBlobStore(root, small);
    const gen = await generateSyntheticDataset(base, { start: '2026-01-10', days: 1, rowsPerDay: 8000, seed: 9 });
    const config = parseDatasetConfig(syntheticDatasetConfig('large', root, `${root.replace(/\/?$/, '/')}audit/`));
    const stores = { records: openBlobStore(config.records.uri, small), audit: openBlobStore(config.audit, small) };
    const [key] = gen.recordsKeys.map((k) => k.replace(/^records\//, ''));
    const original = (await stores.records.readBuffer(key!)).toString('utf8');
    expect(Buffer.byteLength(original)).toBeGreaterThan(1.5 * 1024 * 1024);
    const want = expectedPartition(original, AS_OF);
    const before = await stores.records.stat(key!);
    const r = await processObject(stores, { config, key: key!, asOf: AS_OF, dryRun: false, runId: 'large' });
    expect(r).toMatchObject({ outcome: 'anonymized', rowsAnonymized: want.anonymized, oldGeneration: before.generation });
    expect(want.anonymized).toBeGreaterThan(1000);
    const after = await stores.records.readBuffer(key!);
    expect(after.toString('utf8')).toBe(want.text);
    expect(r.newSha256).toBe(createHash('sha256').update(after).digest('hex'));
    expect(r.oldSha256).toBe(createHash('sha256').update(original).digest('hex'));
    expect(await readObjectState(stores.audit, config.datasetId, key!)).toMatchObject({ phase: 'replaced', generation: (await stores.records.stat(key!)).generation });
  });
});

async function all(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const i of store.list(prefix)) keys.push(i.key);
  return keys;
}
