import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAudienceDataActivities, type AudienceDataActivities, type PreparedInput } from '../../../activities/audience-sync/data';
import { readAppliedState } from '../../../src/audience-sync/appliedState';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { readRange, recordWidth } from '../../../src/audience-sync/listStore';
import { readStateParts, wholeState } from '../../../src/audience-sync/stateDelta';
import { rowIndexKeys, type RowIndexTableMeta } from '../../../src/audience-sync/rowIndex';
import { collectRunGarbage, runsReferencedBy } from '../../../src/audience-sync/runGc';
import { Stores } from '../../../src/audience-sync/stores';
import type { IdentifierType } from '../../../src/identifiers/schema';
import { openBlobStore } from '../../../src/storage';
import { destination } from './prepareHelper';
import { testTempDir } from '../../helpers/tempDir';

/*
 * A sync read against the applied state's row index (snapshotDelta.ts, diffDelta.ts) must
 * give what the full path gives: for any sequence of snapshots, the same customer files, the
 * same applied-state lists and the same rejects file, byte for byte, and the same counts. The
 * expected side is the path without an index (rowIndexMaxBytes 0), which the rest of the
 * suite checks against independently computed digests.
 */

// Mostly plain values, now and then an odd one (a reject, a multi-value cell, an extra field),
// rarely a quoted one (from there on the file is read whole: rowLines.ts).
const mostly = (usual: string[], odd: string[], quoted: string[]) =>
  fc.oneof({ arbitrary: fc.constantFrom(...usual), weight: 40 }, { arbitrary: fc.constantFrom(...odd), weight: 4 }, { arbitrary: fc.constantFrom(...quoted), weight: 1 });
const rowArb = fc.record({
  email: mostly(
    ['a@example.com', 'A@Example.COM', ' b.c+tag@example.org ', '', 'ümlaut@example.de', 'dup@example.com'],
    ['not-an-email', 'x@y', 'm@example.com;n@example.com', 'dup@example.com|dup@example.com'],
    ['"q@example.com"'],
  ),
  phone: mostly(['+1 212 555 0101', '(212) 555-0102', '2125550103', '', '+44 20 7946 0958', 'f'.repeat(64)], ['12'], ['"+1 (212)\n555-0104"']),
  idfa: mostly(['6D92078A-8246-4BA4-AE5B-76104861E7DC', '', '6d92078a-8246-4ba4-ae5b-76104861e7dd'], ['00000000-0000-0000-0000-000000000000', 'zz'], ['"zz"']),
  extra: mostly(['', ','], [',x', ',,'], [',"a,b"']),
  n: fc.nat({ max: 30 }),
  blank: fc.oneof({ arbitrary: fc.constant(false), weight: 15 }, { arbitrary: fc.constant(true), weight: 1 }),
});
type Row = { email: string; phone: string; idfa: string; extra: string; n: number; blank: boolean };

function csv(rows: readonly Row[], crlf: boolean, lastNewline: boolean): string {
  const nl = crlf ? '\r\n' : '\n';
  const body = rows.map((r) => `${r.blank ? nl : ''}${r.email.replace('a@', `a${r.n}@`)},${r.phone},${r.idfa}${r.extra}`).join(nl);
  return `email,phone,idfa${nl}${body}${lastNewline || rows.length === 0 ? nl : ''}`;
}

/** The next snapshot: each row kept, dropped, doubled or replaced; then new rows. */
function edit(rows: readonly Row[], edits: readonly ('keep' | 'drop' | 'dup' | Row)[], added: readonly Row[]): Row[] {
  const out: Row[] = [];
  rows.forEach((row, i) => {
    const e = edits.length ? edits[i % edits.length]! : 'keep';
    if (e === 'keep') out.push(row);
    else if (e === 'dup') out.push(row, row);
    else if (e !== 'drop') out.push(e);
  });
  out.push(...added);
  return out;
}

const QUIET = { logger: new DefaultLogger('ERROR') };
const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, QUIET).run(fn, ...args);

interface SyncOut {
  files: Record<string, string>;
  state: Record<string, string>;
  rejects: string;
  prepared: PreparedInput;
}

async function sync(acts: AudienceDataActivities, config: DestinationConfigInput, workdir: string, runId: string, uri: string, as: 'snapshot' | 'enters' = 'snapshot'): Promise<SyncOut> {
  const base = await run(acts.loadAppliedState, { config });
  const prepared = as === 'snapshot' ? await run(acts.prepareSnapshot, { config, runId, snapshot: { uri } }) : await run(acts.prepareChangeBatch, { config, runId, enters: { uri } });
  const input = (prepared.snapshot ?? prepared.enters)!;
  const diffs = [];
  for (const [from, to] of [
    [0, 100],
    [100, 256],
  ] as const)
    diffs.push(await run(acts.diffShards, { config, runId, baseVersion: base.version, from, to }));
  const built = await run(acts.buildCustomerFiles, { config, runId, diffUris: diffs.map((d) => d.summaryUri) });
  await run(acts.commitAppliedState, { config, runId, baseVersion: base.version, audienceId: null, diffUris: diffs.map((d) => d.summaryUri) });
  const stores = new Stores((u) => openBlobStore(u));
  const files: Record<string, string> = {};
  for (const f of built.files) files[f.uri.slice(f.uri.lastIndexOf('/') + 1)] = (await readRange(stores, f.uri, 0, f.bytes)).toString('latin1');
  const work = openBlobStore(workdir);
  const { manifest } = await readAppliedState(work, 'fuzz');
  const state: Record<string, string> = {};
  // A list kept as a base and a delta (stateDelta.ts) is read as the whole list it stands for.
  for (const [type, t] of Object.entries(manifest!.types))
    for (const [xx, ref] of Object.entries(t!.shards)) {
      const [parts] = await readStateParts(stores, [{ ref, type: type as IdentifierType }], manifest!.version, 1 << 30, 1);
      state[`${type}/${xx}`] = wholeState(parts!, recordWidth(type as IdentifierType), xx).toString('hex');
    }
  const rejectsUri = input.rejectsUri;
  const rejects = (await readRange(stores, rejectsUri, 0, (await stores.object(rejectsUri).store.stat(stores.object(rejectsUri).key)).size)).toString('utf8');
  return { files, state, rejects, prepared: input };
}

const baseConfig = (over: Record<string, unknown> = {}) =>
  ({ ...destination({ identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' }, ...over }), storage: undefined }) as unknown as DestinationConfigInput;

async function indexFormat(workdir: string, runId: string): Promise<number> {
  return (JSON.parse((await openBlobStore(workdir).readBuffer(rowIndexKeys(runId).meta)).toString('utf8')) as { format: number }).format;
}

/**
 * Rewrites a run's table base (format 3) in the form the release before it wrote (format 1,
 * rowIndex.ts: entries of 4 fingerprint words, the length and the line's bytes, padded to 4
 * bytes, with the byte offset of each fingerprint range's first entry in the meta); returns
 * its rowindex.bin's size.
 */
async function toLegacyBase(workdir: string, runId: string): Promise<number> {
  const work = openBlobStore(workdir);
  const keys = rowIndexKeys(runId);
  const meta = JSON.parse((await work.readBuffer(keys.meta)).toString('utf8')) as RowIndexTableMeta;
  expect(meta.format).toBe(3);
  const table = await work.readBuffer(keys.table);
  const lines = await work.readBuffer(keys.lines);
  const parts: Buffer[] = [];
  const ranges: number[] = [];
  let bytes = 0;
  for (let i = 0; i < meta.entries; i++) {
    const e = table.subarray(24 * i, 24 * i + 24);
    const at = e.readUInt32LE(16);
    const len = e.readUInt32LE(20);
    while (ranges.length <= e[3]!) ranges.push(bytes);
    const entry = Buffer.alloc((20 + len + 3) & ~3);
    e.copy(entry, 0, 0, 16);
    entry.writeUInt32LE(len, 16);
    lines.copy(entry, 20, at, at + len);
    parts.push(entry);
    bytes += entry.length;
  }
  while (ranges.length <= 256) ranges.push(bytes);
  await work.write(keys.bin, Buffer.concat(parts));
  const { key, header, seed, entries, extraBytes, counts } = meta;
  await work.write(keys.meta, JSON.stringify({ format: 1, runId, key, header, seed, entries, binBytes: bytes, extraBytes, ranges, counts }));
  await work.delete(keys.table);
  await work.delete(keys.lines);
  return bytes;
}

/** Puts the applied state's index in the form the release before the table wrote: 'base' (format 1), 'layered' (format 2 over a format 1 base), or null when it has none in the table form. */
async function legacyApplied(workdir: string): Promise<'base' | 'layered' | null> {
  const work = openBlobStore(workdir);
  const key = (await readAppliedState(work, 'fuzz')).manifest?.rowIndex?.key;
  if (!key) return null;
  const meta = JSON.parse((await work.readBuffer(key)).toString('utf8')) as { format: number; base?: { format?: number; runId: string; entries: number } };
  if (meta.format === 3) {
    await toLegacyBase(workdir, (meta as unknown as RowIndexTableMeta).runId);
    return 'base';
  }
  if (meta.format === 2 && meta.base?.format === 3) {
    const { runId, entries } = meta.base;
    meta.base = { runId, entries, binBytes: await toLegacyBase(workdir, runId) } as typeof meta.base;
    await work.write(key, JSON.stringify(meta));
    return 'layered';
  }
  return null;
}

function same(fast: SyncOut, slow: SyncOut): void {
  expect(fast.files).toEqual(slow.files);
  expect(fast.state).toEqual(slow.state);
  expect(fast.rejects).toBe(slow.rejects);
  expect(fast.prepared.counts).toEqual(slow.prepared.counts);
  expect(fast.prepared.rejected).toBe(slow.prepared.rejected);
}

describe('row index', () => {
  it('syncs of any sequence of snapshots give the files, applied state, rejects and counts of the full path', async () => {
    let kept = 0;
    let layered = 0;
    const legacy = { base: 0, layered: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { maxLength: 60, size: 'medium' }),
        fc.array(fc.record({
            edits: fc.array(
              fc.oneof({ arbitrary: fc.constant('keep' as const), weight: 5 }, { arbitrary: fc.constant('drop' as const), weight: 1 }, { arbitrary: fc.constant('dup' as const), weight: 1 }, { arbitrary: rowArb, weight: 1 }),
              { maxLength: 30 },
            ),
            added: fc.array(rowArb, { maxLength: 8 }),
            // The index this sync reads put in the form of the release before the table base.
            legacy: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
          }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.boolean(),
        fc.boolean(),
        // When a delta sync writes a whole index instead of a layer (rowIndexLayers.ts): every
        // time, after a few layers, or only at the layer limit.
        fc.constantFrom(0, 0.3, 1000),
        // Diff steps of the default budget (a group in one step), or of one shard each: each
        // step reads into and writes from memory an earlier step gave back (stepMemory.ts).
        fc.constantFrom(undefined, 1),
        // The snapshot read 1 MiB at a time (all at once here), or a few bytes at a time: lines
        // (new ones too) run across reads.
        fc.constantFrom(undefined, 7, 61),
        // State lists kept as a base and a delta while the delta is at most this fraction of
        // the base (stateDelta.ts): the default, always, or never (every list whole).
        fc.constantFrom(undefined, 1000, 0),
        async (first, steps, crlf, lastNewline, compactAt, diffBudget, pieceBytes, stateCompactAt) => {
          const dir = testTempDir('ttsync-rowindex-');
          const inputs = openBlobStore(join(dir, 'inputs'));
          const snaps = [first];
          for (const s of steps) snaps.push(edit(snaps[snaps.length - 1]!, s.edits, s.added));
          for (const [i, rows] of snaps.entries()) await inputs.write(`s${i}.csv`, csv(rows, crlf && i % 2 === 0, lastNewline || i > 0));
          const fastDir = join(dir, 'fast');
          const slowDir = join(dir, 'slow');
          const fast = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexCompactAt: compactAt, ...(pieceBytes ? { snapshotPieceBytes: pieceBytes } : {}) }, ...(diffBudget ? { diffReadBudgetBytes: diffBudget } : {}), ...(stateCompactAt !== undefined ? { stateDeltaCompactAt: stateCompactAt } : {}) });
          const slow = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } });
          for (const i of snaps.keys()) {
            if (i > 0 && steps[i - 1]!.legacy) {
              const form = await legacyApplied(fastDir);
              if (form) legacy[form]++;
            }
            const f = await sync(fast, { ...baseConfig(), storage: { workdir: fastDir } } as DestinationConfigInput, fastDir, `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
            const s = await sync(slow, { ...baseConfig(), storage: { workdir: slowDir } } as DestinationConfigInput, slowDir, `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
            // With CRLF on every other snapshot the header line differs each time: never the index.
            if (i > 0) expect(f.prepared.rowIndex !== undefined).toBe(!crlf);
            kept += f.prepared.rowIndex?.kept ?? 0;
            same(f, s);
            if (i > 0 && !crlf) layered += (await indexFormat(fastDir, `fuzz.00000${i}.run`)) === 2 ? 1 : 0;
          }
        },
      ),
      { numRuns: 50 },
    );
    expect(kept).toBeGreaterThan(50);
    // Layers were written, and read by the syncs after them.
    expect(layered).toBeGreaterThan(10);
    // Indexes in the earlier forms were read.
    expect(legacy.base).toBeGreaterThan(5);
    expect(legacy.layered).toBeGreaterThan(0);
  }, 900_000);

  it('reads only changed lines, and falls back to the full path under another defaultCountry, header or a damaged index', async () => {
    const dir = testTempDir('ttsync-rowindex-');
    const inputs = openBlobStore(join(dir, 'inputs'));
    const line = (i: number): string =>
      i % 97 === 0 ? `bad-${i},12,zz` : `U${i % 4000}@Example${i % 7}.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    const snap = (n: number, skip: (i: number) => boolean, header = 'email,phone,idfa'): string =>
      `${header}\n${Array.from({ length: n }, (_, i) => i).filter((i) => !skip(i)).map(line).join('\n')}\n`;
    await inputs.write('a.csv', snap(6000, () => false));
    await inputs.write('b.csv', snap(6300, (i) => i % 50 === 3).replace(/\(212\) 555-0042/g, '(212) 555-9042'));
    await inputs.write('c.csv', snap(6300, (i) => i % 50 === 3, 'phone,email,idfa'));
    const fastDir = join(dir, 'fast');
    const slowDir = join(dir, 'slow');
    const fast = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri) });
    const slow = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } });
    const cfg = (d: string, over: Record<string, unknown> = {}) => ({ ...baseConfig(over), storage: { workdir: d } }) as DestinationConfigInput;

    const f1 = await sync(fast, cfg(fastDir), fastDir, 'fuzz.000001.run', inputs.uriOf('a.csv'));
    same(f1, await sync(slow, cfg(slowDir), slowDir, 'fuzz.000001.run', inputs.uriOf('a.csv')));
    expect(f1.prepared.rowIndex).toBeUndefined();
    const f2 = await sync(fast, cfg(fastDir), fastDir, 'fuzz.000002.run', inputs.uriOf('b.csv'));
    same(f2, await sync(slow, cfg(slowDir), slowDir, 'fuzz.000002.run', inputs.uriOf('b.csv')));
    // Lines with a reject are read every time; the rest of 6,000 are kept.
    expect(f2.prepared.rowIndex!.kept).toBeGreaterThan(5500);
    expect(f2.prepared.rowIndex!.fresh).toBeLessThan(500);
    expect(Object.keys(f2.files).length).toBeGreaterThan(0);

    // A store without openReader (GCS): the index is read through streams, to the same result.
    const streamDir = join(dir, 'stream');
    const streamed = createAudienceDataActivities({
      openStore: (uri) => {
        const store = openBlobStore(uri);
        return Object.assign(Object.create(Object.getPrototypeOf(store) as object) as typeof store, store, { openReader: undefined });
      },
    });
    await sync(streamed, cfg(streamDir), streamDir, 'fuzz.000001.run', inputs.uriOf('a.csv'));
    const s2 = await sync(streamed, cfg(streamDir), streamDir, 'fuzz.000002.run', inputs.uriOf('b.csv'));
    same(s2, f2);
    expect(s2.prepared.rowIndex).toEqual(f2.prepared.rowIndex);

    // Another header: the same bytes mean something else.
    const f3 = await sync(fast, cfg(fastDir), fastDir, 'fuzz.000003.run', inputs.uriOf('c.csv'));
    same(f3, await sync(slow, cfg(slowDir), slowDir, 'fuzz.000003.run', inputs.uriOf('c.csv')));
    expect(f3.prepared.rowIndex).toBeUndefined();

    // Another defaultCountry changes what "(212) 555-0100" becomes: the index is not used.
    const f4 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000004.run', inputs.uriOf('b.csv'));
    same(f4, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000004.run', inputs.uriOf('b.csv')));
    expect(f4.prepared.rowIndex).toBeUndefined();

    // A damaged index (a fingerprint changed): the full path, the same result.
    const work = openBlobStore(fastDir);
    const table = await work.readBuffer(rowIndexKeys('fuzz.000004.run').table);
    table[0] = table[0]! ^ 1;
    await work.write(rowIndexKeys('fuzz.000004.run').table, table);
    const f5 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000005.run', inputs.uriOf('a.csv'));
    same(f5, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000005.run', inputs.uriOf('a.csv')));
    expect(f5.prepared.rowIndex).toBeUndefined();
    // A missing one: the same.
    await work.delete(rowIndexKeys('fuzz.000005.run').extra);
    const f6 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000006.run', inputs.uriOf('b.csv'));
    same(f6, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000006.run', inputs.uriOf('b.csv')));
    expect(f6.prepared.rowIndex).toBeUndefined();
    // And the next one uses the index that sync wrote.
    const f7 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000007.run', inputs.uriOf('a.csv'));
    same(f7, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000007.run', inputs.uriOf('a.csv')));
    expect(f7.prepared.rowIndex!.kept).toBeGreaterThan(5000);

    // f7 stored a layer over f6's index, and f8 reads both and stores a second layer; the
    // applied state keeps the base's run folder.
    expect(await indexFormat(fastDir, 'fuzz.000007.run')).toBe(2);
    // Run GC trims f6's folder to what the index (and the state) read there: the next sync reads the index from it.
    expect((await collectRunGarbage(work, 'fuzz', 0)).trimmedRuns).toBeGreaterThan(0);
    const run6: string[] = [];
    for await (const o of work.list('runs/fuzz.000006.run/')) run6.push(o.key.slice('runs/fuzz.000006.run/'.length));
    expect(run6).toEqual(expect.arrayContaining(['rowindex.json', 'rowindex.table', 'rowindex.lines', 'rowindex.extra']));
    expect(run6.filter((k) => k.startsWith('files/') || k.startsWith('spill/') || k === 'prepared.json')).toEqual([]);
    const f8 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000008.run', inputs.uriOf('b.csv'));
    same(f8, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000008.run', inputs.uriOf('b.csv')));
    expect(f8.prepared.rowIndex!.kept).toBeGreaterThan(5000);
    const meta8 = JSON.parse((await work.readBuffer(rowIndexKeys('fuzz.000008.run').meta)).toString('utf8')) as { base: { runId: string }; layers: { runId: string }[] };
    expect([meta8.base.runId, ...meta8.layers.map((l) => l.runId)]).toEqual(['fuzz.000006.run', 'fuzz.000007.run', 'fuzz.000008.run']);
    const { manifest } = await readAppliedState(work, 'fuzz');
    expect([...runsReferencedBy(work, manifest!)]).toEqual(expect.arrayContaining(['fuzz.000006.run', 'fuzz.000007.run', 'fuzz.000008.run']));

    // A damaged layer (a gone fingerprint changed): the full path, the same result.
    const gone = await work.readBuffer('runs/fuzz.000008.run/rowindex.gone');
    expect(gone.length).toBeGreaterThan(0);
    gone[gone.length - 1] = gone[gone.length - 1]! ^ 0x80;
    await work.write('runs/fuzz.000008.run/rowindex.gone', gone);
    const f9 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000009.run', inputs.uriOf('a.csv'));
    same(f9, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000009.run', inputs.uriOf('a.csv')));
    expect(f9.prepared.rowIndex).toBeUndefined();
    // A missing base under a layer: the same.
    const f10 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000010.run', inputs.uriOf('b.csv'));
    expect(f10.prepared.rowIndex!.kept).toBeGreaterThan(5000);
    await work.delete(rowIndexKeys('fuzz.000009.run').lines);
    const f11 = await sync(fast, cfg(fastDir, { defaultCountry: 'GB' }), fastDir, 'fuzz.000011.run', inputs.uriOf('a.csv'));
    await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000010.run', inputs.uriOf('b.csv'));
    same(f11, await sync(slow, cfg(slowDir, { defaultCountry: 'GB' }), slowDir, 'fuzz.000011.run', inputs.uriOf('a.csv')));
    expect(f11.prepared.rowIndex).toBeUndefined();
  }, 600_000);

  it('keeps its lines as a hard link to the snapshot; a snapshot rewritten in place under it means the full path once, then copies', async () => {
    const dir = testTempDir('ttsync-rowindex-');
    const inputs = openBlobStore(join(dir, 'inputs'));
    const line = (i: number): string => `U${i}@Example${i % 7}.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    const snap = (n: number, skip: (i: number) => boolean): string => `email,phone,idfa\n${Array.from({ length: n }, (_, i) => i).filter((i) => !skip(i)).map(line).join('\n')}\n`;
    const fastDir = join(dir, 'fast');
    const slowDir = join(dir, 'slow');
    const fast = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri) });
    const slow = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } });
    const cfg = (d: string) => ({ ...baseConfig(), storage: { workdir: d } }) as DestinationConfigInput;
    const work = openBlobStore(fastDir);
    const source = join(dir, 'inputs', 's.csv');
    const linesOf = (runId: string): string => join(fastDir, ...rowIndexKeys(runId).lines.split('/'));
    const metaOf = async (runId: string) => JSON.parse((await work.readBuffer(rowIndexKeys(runId).meta)).toString('utf8')) as { cloneLines?: boolean; linesGeneration?: string };
    const both = async (runId: string) => {
      const f = await sync(fast, cfg(fastDir), fastDir, runId, inputs.uriOf('s.csv'));
      same(f, await sync(slow, cfg(slowDir), slowDir, runId, inputs.uriOf('s.csv')));
      return f;
    };

    // The first snapshot, written as the store writes (a new file): the index's lines are that file.
    await inputs.write('s.csv', snap(3000, () => false));
    const f1 = await both('fuzz.000001.run');
    expect(statSync(linesOf('fuzz.000001.run')).ino).toBe(statSync(source).ino);
    expect(statSync(source).nlink).toBe(2);
    expect((await metaOf('fuzz.000001.run')).cloneLines).toBeUndefined();
    expect(f1.prepared.rowIndex).toBeUndefined();

    // Replaced by a new file (a rename, as the store, rsync and most uploaders do): the link
    // keeps the first snapshot's bytes, and the index is used.
    await inputs.write('s.csv', snap(3100, (i) => i % 50 === 3));
    const f2 = await both('fuzz.000002.run');
    expect(f2.prepared.rowIndex!.kept).toBeGreaterThan(2800);
    expect(f2.prepared.rowIndex!.gone).toBe(60);

    // A compaction (a whole new index at every delta sync) links the snapshot it read too.
    const compacting = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexCompactAt: 0 } });
    await inputs.write('s.csv', snap(3100, (i) => i % 50 === 5));
    const f3 = await sync(compacting, cfg(fastDir), fastDir, 'fuzz.000003.run', inputs.uriOf('s.csv'));
    same(f3, await sync(slow, cfg(slowDir), slowDir, 'fuzz.000003.run', inputs.uriOf('s.csv')));
    expect(f3.prepared.rowIndex!.kept).toBeGreaterThan(2800);
    expect(await indexFormat(fastDir, 'fuzz.000003.run')).toBe(3);
    expect(statSync(linesOf('fuzz.000003.run')).ino).toBe(statSync(source).ino);

    // Rewritten in place (truncated and written again, as `cp` onto it does): the index's lines
    // changed with it. Not used; and this destination's indexes copy their lines from now on.
    writeFileSync(source, snap(3100, (i) => i % 50 === 7));
    expect(statSync(linesOf('fuzz.000003.run')).ino).toBe(statSync(source).ino);
    const f4 = await both('fuzz.000004.run');
    expect(f4.prepared.rowIndex).toBeUndefined();
    expect(statSync(linesOf('fuzz.000004.run')).ino).not.toBe(statSync(source).ino);
    expect(await metaOf('fuzz.000004.run')).toMatchObject({ cloneLines: false });

    // Rewritten in place again: the copy is untouched, the index is used, and its layer keeps the rule.
    writeFileSync(source, snap(3100, (i) => i % 50 === 9));
    const f5 = await both('fuzz.000005.run');
    expect(f5.prepared.rowIndex!.kept).toBeGreaterThan(2800);
    expect(await indexFormat(fastDir, 'fuzz.000005.run')).toBe(2);
    expect(await metaOf('fuzz.000005.run')).toMatchObject({ cloneLines: false });
    // A compaction under that rule copies too.
    writeFileSync(source, snap(3100, (i) => i % 50 === 11));
    const f6 = await sync(compacting, cfg(fastDir), fastDir, 'fuzz.000006.run', inputs.uriOf('s.csv'));
    same(f6, await sync(slow, cfg(slowDir), slowDir, 'fuzz.000006.run', inputs.uriOf('s.csv')));
    expect(f6.prepared.rowIndex!.kept).toBeGreaterThan(2800);
    expect(await indexFormat(fastDir, 'fuzz.000006.run')).toBe(3);
    expect(statSync(linesOf('fuzz.000006.run')).ino).not.toBe(statSync(source).ino);
    expect(await metaOf('fuzz.000006.run')).toMatchObject({ cloneLines: false });
  }, 600_000);

  it('reads an index of the form before the table base (format 1, and format 2 layers over one) to the same result, then writes the table form; a damaged lines object means the full path', async () => {
    const dir = testTempDir('ttsync-rowindex-');
    const inputs = openBlobStore(join(dir, 'inputs'));
    const line = (i: number): string =>
      i % 97 === 0 ? `bad-${i},12,zz` : `U${i % 4000}@Example${i % 7}.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    const snap = (n: number, skip: (i: number) => boolean): string => `email,phone,idfa\n${Array.from({ length: n }, (_, i) => i).filter((i) => !skip(i)).map(line).join('\n')}\n`;
    await inputs.write('a.csv', snap(5000, () => false));
    await inputs.write('b.csv', snap(5200, (i) => i % 40 === 7));
    await inputs.write('c.csv', snap(5300, (i) => i % 30 === 11));
    const names = ['a.csv', 'b.csv', 'a.csv', 'c.csv', 'b.csv'];
    // Layers until the limit: the third sync stores one over the second's base.
    const tuning = { rowIndexCompactAt: 1000 };
    const dirs = { old: join(dir, 'old'), table: join(dir, 'table'), slow: join(dir, 'slow') };
    const acts = {
      old: createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning }),
      table: createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning }),
      slow: createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } }),
    };
    const cfg = (d: string) => ({ ...baseConfig(), storage: { workdir: d } }) as DestinationConfigInput;
    const forms: (string | null)[] = [];
    for (const [i, name] of names.entries()) {
      const runId = `fuzz.00000${i + 1}.run`;
      // Before the second sync the base is made format 1; before the fourth, the base under the third's layer.
      if (i === 1 || i === 3) forms.push(await legacyApplied(dirs.old));
      const o = await sync(acts.old, cfg(dirs.old), dirs.old, runId, inputs.uriOf(name));
      const t = await sync(acts.table, cfg(dirs.table), dirs.table, runId, inputs.uriOf(name));
      const s = await sync(acts.slow, cfg(dirs.slow), dirs.slow, runId, inputs.uriOf(name));
      same(o, s);
      same(t, s);
      // The same lines kept, read and gone as over the table form.
      expect(o.prepared.rowIndex).toEqual(t.prepared.rowIndex);
      if (i > 0) expect(o.prepared.rowIndex!.kept).toBeGreaterThan(4000);
      if (i > 0) expect(o.prepared.rowIndex!.gone).toBeGreaterThan(0);
    }
    expect(forms).toEqual(['base', 'layered']);
    // A sync over a format 1 base writes a table base (a compaction), over a table base a layer
    // (the second sync's base and the first were made format 1 above).
    const formats = await Promise.all(names.map((_, i) => indexFormat(dirs.old, `fuzz.00000${i + 1}.run`)));
    expect(formats).toEqual([1, 1, 2, 3, 2]);
    expect(await Promise.all(names.map((_, i) => indexFormat(dirs.table, `fuzz.00000${i + 1}.run`)))).toEqual([3, 2, 2, 2, 2]);

    // The table base's lines object damaged (a byte of every line changed, sizes kept): the
    // lines gone since it (c.csv drops some of a.csv's) fail their fingerprints: the full path.
    // Its meta is made to name the new generation, so that the fingerprints, not the
    // generation, must find the damage.
    const work = openBlobStore(dirs.table);
    const lines = await work.readBuffer(rowIndexKeys('fuzz.000001.run').lines);
    const damaged = await work.write(rowIndexKeys('fuzz.000001.run').lines, Buffer.from(lines.toString('latin1').replace(/@Example/g, '@Exbmple'), 'latin1'));
    const meta1 = JSON.parse((await work.readBuffer(rowIndexKeys('fuzz.000001.run').meta)).toString('utf8')) as RowIndexTableMeta;
    expect(meta1.linesGeneration).toMatch(/^\d+$/);
    await work.write(rowIndexKeys('fuzz.000001.run').meta, JSON.stringify({ ...meta1, linesGeneration: damaged.generation }));
    const t6 = await sync(acts.table, cfg(dirs.table), dirs.table, 'fuzz.000006.run', inputs.uriOf('c.csv'));
    same(t6, await sync(acts.slow, cfg(dirs.slow), dirs.slow, 'fuzz.000006.run', inputs.uriOf('c.csv')));
    expect(t6.prepared.rowIndex).toBeUndefined();
  }, 600_000);

  it('keeps state lists as a base and a delta: the files and state of the full path, compacted past the threshold, written whole with deltas off, refused when damaged, kept by run GC', async () => {
    const dir = testTempDir('ttsync-statedelta-');
    const inputs = openBlobStore(join(dir, 'inputs'));
    // 4,000 rows give each shard's list of each type about 15 ids, so a churn changes part of a list.
    const line = (i: number): string => `u${i}@example.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    const snap = (rows: number[]): string => `email,phone,idfa\n${rows.map(line).join('\n')}\n`;
    const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);
    const s0 = range(0, 4000);
    // Rows leave, new ones come; then some that left come back and some new ones leave again.
    const s1 = [...s0.filter((i) => i % 50 !== 3), ...range(5000, 5080)];
    const s2 = [...s1.filter((i) => !(i >= 5000 && i < 5020) && i % 70 !== 5), ...range(0, 4000).filter((i) => i % 100 === 3), ...range(6000, 6040)];
    const s3 = [...s2.filter((i) => i % 90 !== 7), ...range(7000, 7100)];
    const s4 = [...s3.filter((i) => i % 33 !== 1), ...range(8000, 8060)];
    for (const [i, rows] of [s0, s1, s2, s3, s4].entries()) await inputs.write(`s${i}.csv`, snap(rows));
    // Each row index written whole (no layers), so only state lists keep older runs' folders needed.
    const open = (stateDeltaCompactAt?: number) =>
      createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexCompactAt: 0 }, ...(stateDeltaCompactAt !== undefined ? { stateDeltaCompactAt } : {}) });
    const kinds = { always: open(1000), some: open(0.1), never: open(0), slow: createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } }) };
    const cfg = (d: string) => ({ ...baseConfig(), storage: { workdir: d } }) as DestinationConfigInput;
    const listForms = async (d: string): Promise<{ schema: number; deltas: number; whole: number }> => {
      const { manifest } = await readAppliedState(openBlobStore(d), 'fuzz');
      const refs = Object.values(manifest!.types).flatMap((t) => Object.values(t!.shards));
      return { schema: manifest!.schema, deltas: refs.filter((r) => r.delta).length, whole: refs.filter((r) => !r.delta).length };
    };
    const forms: Record<string, { schema: number; deltas: number; whole: number }[]> = { always: [], some: [], never: [] };
    for (const i of [0, 1, 2, 3]) {
      const slow = await sync(kinds.slow, cfg(join(dir, 'slow')), join(dir, 'slow'), `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
      for (const k of ['always', 'some', 'never'] as const) {
        const d = join(dir, k);
        const out = await sync(kinds[k], cfg(d), d, `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
        same(out, slow);
        forms[k]!.push(await listForms(d));
      }
    }
    // Always a delta over the first sync's lists, once a list changed; never one with 0, and
    // then the manifest stays in the form workers before deltas read.
    expect(forms.always!.slice(1).every((f) => f.schema === 2 && f.deltas > 300)).toBe(true);
    expect(forms.never!.every((f) => f.schema === 1 && f.deltas === 0)).toBe(true);
    // At 0.1 a list takes a delta for its first changes, and is written whole once they grow past it.
    expect(forms.some![1]!.deltas).toBeGreaterThan(100);
    expect(forms.some![3]!.deltas).toBeLessThan(forms.always![3]!.deltas);

    // Run GC keeps the runs whose folders hold a base or a delta: the next sync reads them all.
    const always = join(dir, 'always');
    // It trims them to the lists the state reads: no customer file or spill is left outside the applied run.
    expect((await collectRunGarbage(openBlobStore(always), 'fuzz', 0)).trimmedRuns).toBeGreaterThan(0);
    const leftover: string[] = [];
    for await (const o of openBlobStore(always).list('runs/')) if (!o.key.startsWith('runs/fuzz.000003.run/') && /\/(files|spill)\//.test(o.key)) leftover.push(o.key);
    expect(leftover).toEqual([]);
    const slow4 = await sync(kinds.slow, cfg(join(dir, 'slow')), join(dir, 'slow'), 'fuzz.000004.run', inputs.uriOf('s4.csv'));
    same(await sync(kinds.always, cfg(always), always, 'fuzz.000004.run', inputs.uriOf('s4.csv')), slow4);

    // With deltas off, the next sync writes every list whole, unchanged ones too: the form an older release reads.
    const slow5 = await sync(kinds.slow, cfg(join(dir, 'slow')), join(dir, 'slow'), 'fuzz.000005.run', inputs.uriOf('s3.csv'));
    same(await sync(kinds.never, cfg(always), always, 'fuzz.000005.run', inputs.uriOf('s3.csv')), slow5);
    expect(await listForms(always)).toMatchObject({ schema: 1, deltas: 0 });
    const slow6 = await sync(kinds.slow, cfg(join(dir, 'slow')), join(dir, 'slow'), 'fuzz.000006.run', inputs.uriOf('s4.csv'));
    same(await sync(kinds.always, cfg(always), always, 'fuzz.000006.run', inputs.uriOf('s4.csv')), slow6);
    expect((await listForms(always)).deltas).toBeGreaterThan(300);
    // A change batch takes the full diff path: the lists it leaves as they were keep their
    // deltas, and its diff summaries say so (schema 2), or an older worker would drop them.
    await inputs.write('enters.csv', snap(range(9000, 9040)));
    const slowB = await sync(kinds.slow, cfg(join(dir, 'slow')), join(dir, 'slow'), 'fuzz.000007.run', inputs.uriOf('enters.csv'), 'enters');
    same(await sync(kinds.always, cfg(always), always, 'fuzz.000007.run', inputs.uriOf('enters.csv'), 'enters'), slowB);
    const summaries = await Promise.all(
      [[0, 100], [100, 256]].map(async ([a, b]) => JSON.parse((await openBlobStore(always).readBuffer(`runs/fuzz.000007.run/diff/groups/${String(a).padStart(3, '0')}-${String(b).padStart(3, '0')}.json`)).toString('utf8')) as { schema: number }),
    );
    expect(summaries.map((g) => g.schema)).toEqual([2, 2]);
    expect((await listForms(always)).deltas).toBeGreaterThan(300);

    // A delta that does not add up to its list's count is damage, not a state.
    const work = openBlobStore(always);
    const { pointer, manifest } = await readAppliedState(work, 'fuzz');
    const [type, t] = Object.entries(manifest!.types).find(([, t]) => Object.values(t!.shards).some((r) => r.delta))!;
    const xx = Object.keys(t!.shards).find((x) => t!.shards[x]!.delta)!;
    t!.shards[xx]!.delta!.base += 1;
    await work.write(pointer!.manifestKey, JSON.stringify(manifest));
    const base = await run(kinds.always.loadAppliedState, { config: cfg(always) });
    await run(kinds.always.prepareSnapshot, { config: cfg(always), runId: 'fuzz.000008.run', snapshot: { uri: inputs.uriOf('s0.csv') } });
    await expect(run(kinds.always.diffShards, { config: cfg(always), runId: 'fuzz.000008.run', baseVersion: base.version, from: 0, to: 256 })).rejects.toThrow(
      new RegExp(`counts ${t!.shards[xx]!.count} ids, but its base and delta give ${t!.shards[xx]!.count + 1}`),
    );
    expect(type).toBeTruthy();
  }, 600_000);

  it('a row index build past its memory bound stores its entries in spills and reads them back: the same index, the same syncs', async () => {
    const dir = testTempDir('ttsync-rowindex-spill-');
    const inputs = openBlobStore(join(dir, 'inputs'));
    const line = (i: number): string => `s${i}@example.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    // Doubled lines (one fingerprint, two entries) and a blank line among them.
    const snap = (rows: number[]): string => `email,phone,idfa\n${rows.map(line).join('\n')}\n${line(rows[0]!)}\n\n${line(rows[1]!)}\n`;
    const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);
    const s0 = range(0, 40_000);
    const s1 = [...s0.filter((i) => i % 40 !== 9), ...range(50_000, 50_100)];
    const s2 = [...s1.filter((i) => i % 55 !== 2), ...range(0, 40_000).filter((i) => i % 40 === 9)];
    for (const [i, rows] of [s0, s1, s2].entries()) await inputs.write(`s${i}.csv`, snap(rows));
    const spills: string[] = [];
    // Every write of a spill, to know they happened: each is deleted once the table is written.
    const counting = (uri: string) => {
      const store = openBlobStore(uri);
      const write = store.write.bind(store);
      store.write = (key, ...rest) => {
        if (key.includes('/spill/rowindex/')) spills.push(key);
        return write(key, ...rest);
      };
      return store;
    };
    // A bound of one byte: a spill after every piece the read hands the builder. Compaction
    // every time (rowIndexCompactAt 0): each delta sync builds a whole index again, spilling too.
    const spilling = createAudienceDataActivities({ openStore: counting, tuning: { rowIndexMemoryBytes: 1, rowIndexCompactAt: 0 } });
    const held = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexCompactAt: 0 } });
    const slow = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowIndexMaxBytes: 0 } });
    const cfg = (d: string) => ({ ...baseConfig(), storage: { workdir: d } }) as DestinationConfigInput;
    // A spill an earlier attempt of the first run left (it crashed after more spills than the next attempt makes) goes too.
    await openBlobStore(join(dir, 'spill')).write('runs/fuzz.000000.run/spill/rowindex/000099.table', 'left by a crashed attempt');
    for (const i of [0, 1, 2]) {
      const before = spills.length;
      const want = await sync(slow, cfg(join(dir, 'slow')), join(dir, 'slow'), `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
      const got = await sync(spilling, cfg(join(dir, 'spill')), join(dir, 'spill'), `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
      const ref = await sync(held, cfg(join(dir, 'held')), join(dir, 'held'), `fuzz.00000${i}.run`, inputs.uriOf(`s${i}.csv`));
      same(got, want);
      same(ref, want);
      // The snapshot (about 3 MiB) is read in 1 MiB pieces: several spills, none left behind.
      expect(spills.length - before).toBeGreaterThan(2);
      const left: string[] = [];
      for await (const o of openBlobStore(join(dir, 'spill')).list(`runs/fuzz.00000${i}.run/spill/rowindex/`)) left.push(o.key);
      expect(left).toEqual([]);
      // The index read back from spills has the entries of the one held in memory (seeds differ, so fingerprints and their order do).
      const entries = async (d: string) => {
        const work = openBlobStore(d);
        const meta = JSON.parse((await work.readBuffer(rowIndexKeys(`fuzz.00000${i}.run`).meta)).toString('utf8')) as RowIndexTableMeta;
        const table = await work.readBuffer(rowIndexKeys(`fuzz.00000${i}.run`).table);
        const at: string[] = [];
        for (let o = 0; o < table.length; o += 24) at.push(`${table.readUInt32LE(o + 16)}+${table.readUInt32LE(o + 20)}`);
        return { entries: meta.entries, at: at.sort(), lines: (await work.readBuffer(rowIndexKeys(`fuzz.00000${i}.run`).lines)).equals(await inputs.readBuffer(`s${i}.csv`)) };
      };
      const spilledIndex = await entries(join(dir, 'spill'));
      expect(spilledIndex).toEqual(await entries(join(dir, 'held')));
      expect(spilledIndex.entries).toBeGreaterThan(39_000);
      if (i > 0) expect(got.prepared.rowIndex!.kept).toBeGreaterThan(35_000);
    }
  }, 600_000);
});
