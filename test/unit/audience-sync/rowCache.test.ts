import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAudienceDataActivities, type AudienceDataActivities } from '../../../activities/audience-sync/data';
import { readAppliedState } from '../../../src/audience-sync/appliedState';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { readRange } from '../../../src/audience-sync/listStore';
import { Stores } from '../../../src/audience-sync/stores';
import { columnMappingOf, type DestinationConfig } from '../../../src/audience-sync/config';
import { sortUniqueRecords } from '../../../src/audience-sync/digestRecords';
import { layout } from '../../../src/audience-sync/layout';
import { recordWidth } from '../../../src/audience-sync/listStore';
import { DEFAULT_PREPARE_TUNING, prepareSet, type SetResult } from '../../../src/audience-sync/prepare';
import type { IdentifierType } from '../../../src/identifiers/schema';
import { rowCacheKey } from '../../../src/snapshot';
import { openBlobStore, type BlobStore } from '../../../src/storage';
import { destination } from './prepareHelper';

/*
 * The row cache must never change what prepare produces: for any snapshot read after any
 * other, prepare with the cache (rows of the first snapshot skip the rules and hashing)
 * yields the same counts, the same rejects file and the same digests as prepare without it.
 * The expected side is the path without a cache, which the rest of the suite checks against
 * independently computed digests.
 */

// Mostly values a cache may keep, and now and then one it must not (a reject, a quoted or
// multi-value cell, a row with an extra field): rows of both kinds side by side.
const mostly = (usual: string[], odd: string[]) => fc.oneof({ arbitrary: fc.constantFrom(...usual), weight: 12 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });
const rowArb = fc.record({
  email: mostly(['a@example.com', 'A@Example.COM', ' b.c+tag@example.org ', '', 'ümlaut@example.de'], ['not-an-email', 'x@y', '"q@example.com"', 'm@example.com;n@example.com']),
  phone: mostly(['+1 212 555 0101', '(212) 555-0102', '2125550103', '', '+44 20 7946 0958', 'f'.repeat(64)], ['12', '"+1 (212) 555-0104"']),
  idfa: mostly(['6D92078A-8246-4BA4-AE5B-76104861E7DC', '', '6d92078a-8246-4ba4-ae5b-76104861e7dd'], ['00000000-0000-0000-0000-000000000000', 'zz']),
  extra: mostly(['', ','], [',x', ',"a,b"']),
  n: fc.nat({ max: 50 }),
});
type Row = { email: string; phone: string; idfa: string; extra: string; n: number };

function csv(rows: readonly Row[], crlf: boolean): string {
  const nl = crlf ? '\r\n' : '\n';
  // Some rows differ only in a number in the email's local part: many distinct ids.
  return `email,phone,idfa${nl}` + rows.map((r) => `${r.email.replace('a@', `a${r.n}@`)},${r.phone},${r.idfa}${r.extra}`).join(nl) + nl;
}

const config = (over: Record<string, unknown> = {}): DestinationConfig => destination({ identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' }, ...over });

interface Prepared {
  result: SetResult;
  rejects: string;
  /** Per type, the sorted unique digests of the spill (hex). */
  digests: Record<string, string>;
}

async function prepare(dir: string, runId: string, bytes: string, cfg: DestinationConfig, cache: boolean, pieceBytes?: number): Promise<Prepared> {
  const source = openBlobStore(join(dir, 'source'));
  const work = openBlobStore(join(dir, 'work'));
  await source.write(`${runId}.csv`, Buffer.from(bytes));
  const mapping = columnMappingOf(cfg);
  const types = [...new Set(mapping.identifiers.map((i) => i.type))].sort() as IdentifierType[];
  const read = { format: 'csv' as const, mapping, normalization: { context: 'audience' as const, phoneFormat: cfg.phoneFormat, ...(cfg.defaultCountry ? { defaultCountry: cfg.defaultCountry } : {}) } };
  const result = await prepareSet(
    work,
    runId,
    'snapshot',
    { store: source, key: `${runId}.csv`, createdAt: '2026-12-01T00:00:00.000Z' },
    read,
    types,
    { ...DEFAULT_PREPARE_TUNING, rowCacheMaxRows: 2_000_000, ...(pieceBytes ? { readerPieceBytes: pieceBytes } : {}) },
    { checkpoint: async () => undefined },
    undefined,
    'raw',
    cache ? { store: work, key: layout.rowCache(cfg.destinationId), configKey: rowCacheKey({ read, types }) } : undefined,
  );
  return { result, rejects: (await work.readBuffer(layout.rejects(runId, 'snapshot'))).toString('utf8'), digests: await spilled(work, result, types) };
}

async function spilled(work: BlobStore, r: SetResult, types: IdentifierType[]): Promise<Record<string, string>> {
  const T = types.length;
  const out: Record<string, string> = {};
  for (const [t, type] of types.entries()) {
    const pieces: Buffer[] = [];
    for (const part of r.parts) {
      const bytes = await work.readBuffer(part.key);
      for (let s = 0; s < 256; s++) pieces.push(bytes.subarray(part.offsets[s * T + t]!, part.offsets[s * T + t + 1]!));
    }
    out[type] = sortUniqueRecords(Buffer.concat(pieces), recordWidth(type)).toString('hex');
  }
  return out;
}

function same(fast: Prepared, slow: Prepared): void {
  expect(fast.result.counts).toEqual(slow.result.counts);
  expect(fast.rejects).toBe(slow.rejects);
  expect(fast.digests).toEqual(slow.digests);
}

describe('row cache', () => {
  it('prepare with the cache of an earlier snapshot gives the counts, rejects and digests of prepare without it', async () => {
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 1, maxLength: 60 }),
        fc.array(fc.oneof(fc.constant('keep' as const), fc.constant('drop' as const), fc.constant('dup' as const), rowArb), { minLength: 1, maxLength: 60 }),
        fc.array(rowArb, { maxLength: 20 }),
        fc.boolean(),
        fc.constantFrom(97, 211, 4096),
        async (first, edits, added, crlf, piece) => {
          // The second snapshot: each row of the first kept, dropped, doubled or replaced; then new rows.
          const second: Row[] = [];
          first.forEach((row, i) => {
            const e = edits[i % edits.length]!;
            if (e === 'keep') second.push(row);
            else if (e === 'dup') second.push(row, row);
            else if (e !== 'drop') second.push(e);
          });
          second.push(...added);
          const dir = mkdtempSync(join(tmpdir(), 'ttsync-rowcache-'));
          const cfg = config();
          const a = csv(first, crlf);
          const b = csv(second, crlf);
          const fastA = await prepare(join(dir, 'fast'), 'run-a', a, cfg, true, piece);
          const fastB = await prepare(join(dir, 'fast'), 'run-b', b, cfg, true, piece);
          const slowA = await prepare(join(dir, 'slow'), 'run-a', a, cfg, false, piece);
          const slowB = await prepare(join(dir, 'slow'), 'run-b', b, cfg, false, piece);
          same(fastA, slowA);
          same(fastB, slowB);
          // The second read of the same snapshot again: every cacheable row comes from the cache.
          const again = await prepare(join(dir, 'fast'), 'run-c', b, cfg, true, piece);
          same(again, slowB);
          hits += (fastB.result.rowCache?.hits ?? 0) + (again.result.rowCache?.hits ?? 0);
        },
      ),
      { numRuns: 40 },
    );
    // Rows after the header's scan batch come from the cache (small read pieces make many batches).
    expect(hits).toBeGreaterThan(100);
  }, 600_000);

  it('uses the cache for unchanged rows, and not at all under another defaultCountry, header or damaged file', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `u${i}@example.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`);
    const snap = `email,phone,idfa\n${rows.join('\n')}\n`;
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-rowcache-'));
    const cfg = config();
    const first = await prepare(dir, 'run-a', snap, cfg, true);
    expect(first.result.rowCache).toMatchObject({ hits: 0, written: expect.any(Number) });
    const second = await prepare(dir, 'run-b', snap, cfg, true);
    // Every row but those of the scan batch that held the header (read before the header was known) and piece-boundary rows.
    expect(second.result.rowCache!.hits).toBeGreaterThan(2000);
    same(second, await prepare(join(dir, 'slow'), 'run-s', snap, cfg, false));

    // Another defaultCountry changes what "(212) 555-0100" becomes: the cache must not answer.
    const gb = config({ defaultCountry: 'GB' });
    const other = await prepare(dir, 'run-c', snap, gb, true);
    expect(other.result.rowCache!.hits).toBe(0);
    same(other, await prepare(join(dir, 'slow-gb'), 'run-s', snap, gb, false));

    // Columns in another order: the same bytes mean something else.
    const swapped = `phone,email,idfa\n${rows.join('\n')}\n`;
    await prepare(dir, 'run-d', snap, cfg, true);
    const reordered = await prepare(dir, 'run-e', swapped, cfg, true);
    expect(reordered.result.rowCache!.hits).toBe(0);
    same(reordered, await prepare(join(dir, 'slow-swap'), 'run-s', swapped, cfg, false));

    // A damaged cache file is no cache (first a cache of the original header again).
    await prepare(dir, 'run-g', snap, cfg, true);
    const work = openBlobStore(join(dir, 'work'));
    const stored = await work.readBuffer(layout.rowCache(cfg.destinationId));
    await work.write(layout.rowCache(cfg.destinationId), stored.subarray(0, stored.length - 7));
    const damaged = await prepare(dir, 'run-f', snap, cfg, true);
    expect(damaged.result.rowCache!.hits).toBe(0);
    same(damaged, second);
  }, 300_000);

  it('a sync with the cache writes the customer files and applied state of a sync without it, byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-rowcache-sync-'));
    const inputs = openBlobStore(join(dir, 'inputs'));
    const line = (i: number): string =>
      i % 97 === 0 ? `bad-${i},12,zz` : `U${i}@Example${i % 7}.com,(212) 555-${String(i % 10000).padStart(4, '0')},6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`;
    const snap = (from: number, to: number, skip: (i: number) => boolean): string =>
      `email,phone,idfa\n${Array.from({ length: to - from }, (_, k) => from + k).filter((i) => !skip(i)).map(line).join('\n')}\n`;
    await inputs.write('a.csv', snap(0, 6000, () => false));
    // Rows gone, rows new, rows changed (the same user with another phone).
    await inputs.write('b.csv', snap(0, 6300, (i) => i % 50 === 3).replace(/\(212\) 555-0042/g, '(212) 555-9042'));
    const QUIET = { logger: new DefaultLogger('ERROR') };
    const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, QUIET).run(fn, ...args);

    async function syncs(name: string, cached: boolean): Promise<{ files: Record<string, string>[]; state: Record<string, string>[]; hits: (number | undefined)[] }> {
      const config: DestinationConfigInput = { ...(config0 as DestinationConfigInput), storage: { workdir: join(dir, name) } };
      const acts: AudienceDataActivities = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { rowCacheMaxRows: cached ? 1_000_000 : 0 } });
      const out = { files: [] as Record<string, string>[], state: [] as Record<string, string>[], hits: [] as (number | undefined)[] };
      for (const [runId, file] of [['run-1', 'a.csv'], ['run-2', 'b.csv'], ['run-3', 'b.csv']] as const) {
        const base = await run(acts.loadAppliedState, { config });
        const prepared = await run(acts.prepareSnapshot, { config, runId, snapshot: { uri: inputs.uriOf(file) } });
        out.hits.push(prepared.snapshot?.rowCache?.hits);
        const diffs = [];
        for (const [from, to] of [[0, 100], [100, 256]] as const) diffs.push(await run(acts.diffShards, { config, runId, baseVersion: base.version, from, to }));
        const built = await run(acts.buildCustomerFiles, { config, runId, diffUris: diffs.map((d) => d.summaryUri) });
        await run(acts.commitAppliedState, { config, runId, baseVersion: base.version, audienceId: null, diffUris: diffs.map((d) => d.summaryUri) });
        const stores = new Stores((uri) => openBlobStore(uri));
        const files: Record<string, string> = {};
        for (const f of built.files) files[f.uri.slice(f.uri.lastIndexOf('/') + 1)] = (await readRange(stores, f.uri, 0, f.bytes)).toString('latin1');
        out.files.push(files);
        const work = openBlobStore(join(dir, name));
        const { manifest } = await readAppliedState(work, 'fuzz');
        const state: Record<string, string> = {};
        for (const [type, t] of Object.entries(manifest!.types))
          for (const [xx, ref] of Object.entries(t!.shards)) state[`${type}/${xx}`] = (await readRange(stores, ref.uri, ref.start, ref.count * (ref.format === 'records' ? recordWidth(type as IdentifierType) : 2 * recordWidth(type as IdentifierType) + 1))).toString('hex');
        out.state.push(state);
      }
      return out;
    }
    const config0 = { ...config(), storage: undefined } as unknown as DestinationConfigInput;
    const fast = await syncs('fast', true);
    const slow = await syncs('slow', false);
    expect(fast.hits[0]).toBe(0);
    expect(fast.hits[1]).toBeGreaterThan(4000);
    expect(fast.hits[2]).toBeGreaterThan(4000);
    expect(slow.hits).toEqual([undefined, undefined, undefined]);
    expect(Object.keys(fast.files[1]!).length).toBeGreaterThan(0);
    expect(fast.files).toEqual(slow.files);
    expect(fast.state).toEqual(slow.state);
  }, 600_000);
});
