import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

const EMAILS = ['a@example.com', 'A@Example.COM', ' b.c+tag@example.org ', 'not-an-email', '', 'x@y', '"q@example.com"', 'm@example.com;n@example.com', 'ümlaut@example.de'];
const PHONES = ['+1 212 555 0101', '(212) 555-0102', '2125550103', '12', '', '+44 20 7946 0958', '"+1 (212) 555-0104"', 'a'.repeat(64).replace(/a/g, 'f')];
const IDFAS = ['6D92078A-8246-4BA4-AE5B-76104861E7DC', '00000000-0000-0000-0000-000000000000', '', 'zz', '6d92078a-8246-4ba4-ae5b-76104861e7dd'];

const rowArb = fc.record({
  email: fc.constantFrom(...EMAILS),
  phone: fc.constantFrom(...PHONES),
  idfa: fc.constantFrom(...IDFAS),
  extra: fc.constantFrom('', ',x', ',', ',"a,b"'),
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
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 1, maxLength: 60 }),
        fc.array(fc.oneof(fc.constant('keep' as const), fc.constant('drop' as const), fc.constant('dup' as const), rowArb), { minLength: 1, maxLength: 60 }),
        fc.array(rowArb, { maxLength: 20 }),
        fc.boolean(),
        fc.constantFrom(undefined, 97, 4096),
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
        },
      ),
      { numRuns: 40 },
    );
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
});
