import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetentionDataActivities } from '../../../activities/retention/data';
import { AuditKeys, policyDigest, readObjectState, writeObjectState, type ObjectState } from '../../../src/retention/audit';
import { parseDatasetConfig, type DatasetConfig } from '../../../src/retention/config';
import { RetentionError } from '../../../src/retention/failures';
import { objectBatches, type ObjectResult } from '../../../src/retention/messages';
import { planRetention, processBatch, processObject, type RetentionStores } from '../../../src/retention/objects';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore, type BlobStore, type PreparedWrite } from '../../../src/storage';
import { expectedNdjsonPartition, expectedPartition } from '../../helpers/retentionExpected';

/*
 * Progress recorded per batch of objects (processBatch): one write of the month record names
 * every prepared object `staged` before any is published, one names them `replaced` after.
 * A crash is a step that never returns (the process stops there: nothing after it runs),
 * then a fresh attempt; expected bytes come from test/helpers/retentionExpected.ts.
 */

const AS_OF = '2026-10-01';
const dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const never = (): Promise<never> => new Promise<never>(() => undefined);

/** A store whose chosen calls are counted, and whose n-th call of `hangOn` never returns. */
function watched(store: BlobStore, calls: string[], hang?: { on: (call: string) => boolean; at: number }): BlobStore {
  let seen = 0;
  const hangs = (call: string): boolean => !!hang && hang.on(call) && ++seen === hang.at;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'prepareIfGeneration')
        return async (...a: unknown[]): Promise<PreparedWrite> => {
          const p = (await fn(...a)) as PreparedWrite;
          return {
            ...p,
            size: p.size,
            generation: p.generation,
            md5: p.md5,
            commit: () => {
              calls.push(`commit ${a[0] as string}`);
              return hangs(`commit ${a[0] as string}`) ? never() : p.commit();
            },
            abort: () => p.abort(),
          };
        };
      if (prop === 'write' || prop === 'writeIfGeneration')
        return (...a: unknown[]) => {
          const call = `${prop} ${a[0] as string}`;
          calls.push(call);
          return hangs(call) ? never() : fn(...a);
        };
      return fn;
    },
  });
}

async function dataset(name: string, format: 'csv' | 'ndjson' = 'csv', days = 40): Promise<{ root: string; config: DatasetConfig; originals: Map<string, string>; keys: string[] }> {
  const root = join(dir, name);
  const base = openBlobStore(root);
  const gen = await generateSyntheticDataset(base, { start: '2026-01-20', days, rowsPerDay: 40, seed: 7, format });
  const config = parseDatasetConfig(syntheticDatasetConfig(name, root, join(root, 'audit'), format));
  const originals = new Map<string, string>();
  for (const k of gen.recordsKeys) originals.set(k.replace(/^records\//, ''), (await base.readBuffer(k)).toString('utf8'));
  return { root, config, originals, keys: [...originals.keys()] };
}

const storesOf = (config: DatasetConfig): RetentionStores => ({ records: openBlobStore(config.records.uri), audit: openBlobStore(config.audit) });
const want = (text: string, format: 'csv' | 'ndjson' = 'csv') => (format === 'csv' ? expectedPartition(text, AS_OF) : expectedNdjsonPartition(text, AS_OF));
const monthWrites = (calls: string[]): string[] => calls.filter((c) => c.includes('/months/'));

describe('retention progress per batch of objects', () => {
  it.each(['csv', 'ndjson'] as const)('%s: anonymizes exactly as per object, with two progress writes per batch, and a second plan finds everything done', { timeout: 120_000 }, async (format) => {
    const { config, originals } = await dataset(`exact-${format}`, format);
    const stores = storesOf(config);
    const calls: string[] = [];
    const audit = watched(stores.audit, calls);
    const plan = await planRetention(stores, config, AS_OF);
    expect(plan.due.map((d) => d.key)).toEqual([...originals.keys()]);
    const batches = objectBatches(plan.due);
    // 20 Jan to 28 Feb: one batch per month.
    expect(batches.map((b) => b.length)).toEqual([12, 28]);
    let anonymized = 0;
    for (const keys of batches) {
      const before = calls.length;
      const results = await processBatch({ records: stores.records, audit }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
      // Two durable progress writes for the whole batch, both of its month's record, and nothing else in the audit folder.
      expect(calls.slice(before)).toEqual([`writeIfGeneration ${AuditKeys.month(config.datasetId, keys[0]!.slice(5, 12))}`, `writeIfGeneration ${AuditKeys.month(config.datasetId, keys[0]!.slice(5, 12))}`]);
      expect(results.map((r) => r.key)).toEqual(keys);
      for (const r of results) {
        const w = want(originals.get(r.key)!, format);
        anonymized += w.anonymized;
        expect(r).toMatchObject({ outcome: w.anonymized ? 'anonymized' : 'clean', rowsAnonymized: w.anonymized, rowsSeen: 40 });
        expect((await stores.records.readBuffer(r.key)).toString('utf8'), r.key).toBe(w.text);
        const info = await stores.records.stat(r.key);
        expect(r.newGeneration).toBe(info.generation);
        expect(await readObjectState(stores.audit, config.datasetId, r.key)).toMatchObject({ phase: w.anonymized ? 'replaced' : 'clean', generation: info.generation, runId: 'run-1' });
      }
    }
    expect(anonymized).toBeGreaterThan(300);
    // No per-object records were written.
    expect(await keysUnder(stores.audit, AuditKeys.objectsPrefix(config.datasetId))).toEqual([]);
    const again = await planRetention(stores, config, AS_OF);
    expect(again).toMatchObject({ due: [], skipped: originals.size });
  });

  it('publishes in rounds once the prepared bytes reach the bound; a crash in the second round leaves the first recorded', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('rounds', 'csv', 4);
    const stores = storesOf(config);
    const calls: string[] = [];
    const sizes = keys.map((k) => Buffer.byteLength(want(originals.get(k)!).text));
    // A bound of the first two objects' new bytes: the first round is those two. The third month write (round 2's staged) never returns.
    const bound = sizes[0]! + sizes[1]!;
    void processBatch({ records: watched(stores.records, calls), audit: watched(stores.audit, calls, { on: (c) => c.includes('/months/'), at: 3 }) }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' }, { preparedBytes: bound });
    await until(() => monthWrites(calls).length === 3);
    expect(calls.filter((c) => c.startsWith('commit'))).toEqual([`commit ${keys[0]}`, `commit ${keys[1]}`]);
    for (const [i, k] of keys.entries()) {
      expect((await stores.records.readBuffer(k)).toString('utf8')).toBe(i < 2 ? want(originals.get(k)!).text : originals.get(k));
      expect(await readObjectState(stores.audit, config.datasetId, k)).toEqual(i < 2 ? expect.objectContaining({ phase: 'replaced' }) : null);
    }
    const results = await processBatch(storesOf(config), { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' }, { preparedBytes: bound });
    await expectDone(config, originals, results, ['anonymized', 'anonymized', 'anonymized', 'anonymized']);
  });

  it('a store without prepared writes (GCS) runs the batch object by object, with per-object records', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('no-prepare', 'csv', 3);
    const stores = storesOf(config);
    const plain: BlobStore = new Proxy(stores.records, {
      get(target, prop, receiver) {
        if (prop === 'prepareIfGeneration') return undefined;
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const results = await processBatch({ ...stores, records: plain }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await expectDone(config, originals, results, keys.map(() => 'anonymized'));
    expect(await keysUnder(stores.audit, AuditKeys.objectsPrefix(config.datasetId))).toHaveLength(3);
    expect(await keysUnder(stores.audit, `${config.datasetId}/months/`)).toEqual([]);
  });

  it('a crash before the staged record leaves every object old; the retry anonymizes them all', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('crash-before', 'csv', 4);
    const stores = storesOf(config);
    const calls: string[] = [];
    void processBatch({ records: stores.records, audit: watched(stores.audit, calls, { on: (c) => c.includes('/months/'), at: 1 }) }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await until(() => monthWrites(calls).length === 1);
    for (const k of keys) expect((await stores.records.readBuffer(k)).toString('utf8')).toBe(originals.get(k));
    expect(await readObjectState(stores.audit, config.datasetId, keys[0]!)).toBeNull();

    const results = await processBatch(storesOf(config), { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await expectDone(config, originals, results, keys.map(() => 'anonymized'));
  });

  it('a crash after the staged record and two of four publishes: the retry records the two published and anonymizes the others, never a mix', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('crash-mid', 'csv', 4);
    const stores = storesOf(config);
    const calls: string[] = [];
    void processBatch({ records: watched(stores.records, calls, { on: (c) => c.startsWith('commit'), at: 3 }), audit: watched(stores.audit, calls) }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await until(() => calls.filter((c) => c.startsWith('commit')).length === 3);
    expect(monthWrites(calls)).toHaveLength(1);
    // Published whole or not at all.
    for (const [i, k] of keys.entries()) expect((await stores.records.readBuffer(k)).toString('utf8'), k).toBe(i < 2 ? want(originals.get(k)!).text : originals.get(k));
    for (const k of keys) expect(await readObjectState(stores.audit, config.datasetId, k)).toMatchObject({ phase: 'staged', runId: 'run-1' });

    // The activity's retry, in the same run.
    const results = await processBatch(storesOf(config), { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await expectDone(config, originals, results, ['resumed', 'resumed', 'anonymized', 'anonymized']);
  });

  it('a crash after every publish, before the replaced record: the next run records them all with their counts', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('crash-after', 'ndjson', 4);
    const stores = storesOf(config);
    const calls: string[] = [];
    void processBatch({ records: stores.records, audit: watched(stores.audit, calls, { on: (c) => c.includes('/months/'), at: 2 }) }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    await until(() => monthWrites(calls).length === 2);
    for (const k of keys) expect((await stores.records.readBuffer(k)).toString('utf8')).toBe(want(originals.get(k)!, 'ndjson').text);
    const results = await processBatch(storesOf(config), { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-2' });
    await expectDone(config, originals, results, ['resumed', 'resumed', 'resumed', 'resumed'], 'ndjson');
  });

  it('another writer of one object fails the batch with ObjectChanged, the others stay recorded, and the retry reads that object again', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('other-writer', 'csv', 3);
    const stores = storesOf(config);
    const other = 'network,attribution_time\nsomeone else,2026-01-01\n';
    const racing: BlobStore = new Proxy(stores.records, {
      get(target, prop, receiver) {
        if (prop === 'prepareIfGeneration')
          return async (k: string, data: unknown, gen: string, opts: object) => {
            const p = await target.prepareIfGeneration!(k, data as Buffer, gen, opts);
            if (k === keys[1]) await target.write(k, other);
            return p;
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const err = await processBatch({ ...stores, records: racing }, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetentionError);
    expect((err as RetentionError).type).toBe('RetentionObjectChanged');
    expect((await stores.records.readBuffer(keys[0]!)).toString('utf8')).toBe(want(originals.get(keys[0]!)!).text);
    expect((await stores.records.readBuffer(keys[1]!)).toString('utf8')).toBe(other);
    // Not published after the failure: still whole and old.
    expect((await stores.records.readBuffer(keys[2]!)).toString('utf8')).toBe(originals.get(keys[2]!));
    expect(await readObjectState(stores.audit, config.datasetId, keys[0]!)).toMatchObject({ phase: 'replaced' });

    const results = await processBatch(stores, { config, keys, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    expect(results.map((r) => r.outcome)).toEqual(['anonymized', 'clean', 'anonymized']);
    expect(results[0]!.rowsAnonymized).toBe(want(originals.get(keys[0]!)!).anonymized);
    expect((await stores.records.readBuffer(keys[1]!)).toString('utf8')).toBe(other);
    expect((await stores.records.readBuffer(keys[2]!)).toString('utf8')).toBe(want(originals.get(keys[2]!)!).text);
  });

  it('reads the per-object records of the format before batches: done objects skipped, a staged one resumed, the later record decides, the audit counts both', { timeout: 60_000 }, async () => {
    const { config, originals, keys } = await dataset('old-format', 'csv', 4);
    const stores = storesOf(config);
    const [k1, k2, k3, k4] = keys as [string, string, string, string];
    // An older worker finished k1 (a per-object record), and died on k2 after publishing it.
    const first = await processObject(stores, { config, key: k1, asOf: AS_OF, dryRun: false, runId: 'run-1' });
    expect(await keysUnder(stores.audit, AuditKeys.objectsPrefix(config.datasetId))).toEqual([AuditKeys.object(config.datasetId, k1)]);
    const dry = await processObject(stores, { config, key: k2, asOf: AS_OF, dryRun: true, runId: 'run-1' });
    const old = await stores.records.stat(k2);
    await stores.records.write(k2, want(originals.get(k2)!).text);
    const staged: ObjectState = {
      version: 1,
      key: k2,
      policy: policyDigest(config),
      phase: 'staged',
      generation: old.generation,
      sha256: dry.oldSha256,
      oldGeneration: old.generation,
      oldSha256: dry.oldSha256,
      newSha256: dry.newSha256,
      counts: { rowsSeen: dry.rowsSeen, rowsAnonymized: dry.rowsAnonymized, tiktokWithinWindow: dry.tiktokWithinWindow, unreadableRows: 0 },
      nextDueAt: null,
      unreadableSamples: [],
      absentColumns: [],
      asOf: AS_OF,
      runId: 'run-1',
      updatedAt: new Date(Date.now() - 60_000).toISOString(),
    };
    await writeObjectState(stores.audit, config.datasetId, staged);

    const plan = await planRetention(stores, config, AS_OF);
    expect(plan.due.map((d) => d.key)).toEqual([k2, k3, k4]);
    expect(plan.skipped).toBe(1);
    const results = await processBatch(stores, { config, keys: plan.due.map((d) => d.key), asOf: AS_OF, dryRun: false, runId: 'run-1' });
    expect(results.map((r) => r.outcome)).toEqual(['resumed', 'anonymized', 'anonymized']);
    for (const k of keys) expect((await stores.records.readBuffer(k)).toString('utf8')).toBe(want(originals.get(k)!).text);
    // k2's month entry is later than its per-object staged record, and decides.
    expect(await readObjectState(stores.audit, config.datasetId, k2)).toMatchObject({ phase: 'replaced', generation: (await stores.records.stat(k2)).generation });
    expect((await planRetention(stores, config, AS_OF)).due).toEqual([]);

    const all = [first, ...results];
    const audit = await createRetentionDataActivities().retentionWriteAudit({
      config,
      plan: { ...plan, due: keys.map((key) => ({ key, partition: key.slice(5, 15) })) },
      summary: { datasetId: config.datasetId, asOf: AS_OF, dryRun: false, cutoffs: plan.cutoffs, scanUpTo: plan.scanUpTo, objectsScanned: 4, objectsSkipped: 0, objectsChanged: 4, rowsSeen: sum(all, 'rowsSeen'), rowsAnonymized: sum(all, 'rowsAnonymized'), tiktokWithinWindow: 0, unreadableRows: 0, aggregateRowsMoved: 0, aggregateObjectsChanged: 0, changed: true },
      aggregates: [],
      workflowId: 'retention:old-format',
      runId: 'run-1',
      startedAt: new Date().toISOString(),
    });
    const record = JSON.parse((await stores.audit.readBuffer(audit.auditUri.slice(audit.auditUri.indexOf('/old-format/runs/') + 1))).toString('utf8')) as { objects: { key: string; rowsAnonymized: number }[] };
    expect(record.objects.map((o) => [o.key, o.rowsAnonymized])).toEqual(keys.map((k) => [k, want(originals.get(k)!).anonymized]));
  });
});

function sum(rs: ObjectResult[], f: 'rowsSeen' | 'rowsAnonymized'): number {
  return rs.reduce((a, r) => a + r[f], 0);
}

async function expectDone(config: DatasetConfig, originals: Map<string, string>, results: ObjectResult[], outcomes: string[], format: 'csv' | 'ndjson' = 'csv'): Promise<void> {
  const stores = storesOf(config);
  expect(results.map((r) => r.outcome)).toEqual(outcomes);
  for (const r of results) {
    const w = want(originals.get(r.key)!, format);
    expect(r.rowsAnonymized, r.key).toBe(w.anonymized);
    expect((await stores.records.readBuffer(r.key)).toString('utf8'), r.key).toBe(w.text);
    expect(await readObjectState(stores.audit, config.datasetId, r.key)).toMatchObject({ phase: 'replaced', generation: (await stores.records.stat(r.key)).generation });
  }
  expect(await keysUnder(stores.records, '')).toEqual([...originals.keys()]);
}

async function keysUnder(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const i of store.list(prefix)) keys.push(i.key);
  return keys;
}

async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; !probe(); i++) {
    if (i > 6000) throw new Error('the batch never reached the step');
    await new Promise((r) => setTimeout(r, 10));
  }
}
