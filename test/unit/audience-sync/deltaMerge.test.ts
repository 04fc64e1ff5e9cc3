import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChanges, applyCounts } from '../../../src/audience-sync/diffDelta';
import { isSortedUniqueRecords, recordBytes, recordsOf } from '../../../src/audience-sync';

/*
 * The merge steps of a delta diff (diffDelta.ts) against Set arithmetic on hex strings.
 * Digests are drawn from few first words so that many share their first 4 bytes.
 */

const W = 32;
const digest = fc
  .tuple(fc.constantFrom('00000000', '7fffffff', '80000000', 'ffffffff', 'a1b2c3d4'), fc.stringMatching(/^[0-9a-f]{56}$/))
  .map(([head, rest]) => head + rest);
const sortUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

describe('delta diff merge', () => {
  it('applyChanges is S − removes ∪ adds', () => {
    fc.assert(
      fc.property(fc.array(digest, { maxLength: 200 }), fc.array(digest, { maxLength: 60 }), fc.array(fc.boolean(), { maxLength: 200 }), (state, extra, drop) => {
        const S = sortUnique(state);
        const removes = S.filter((_, i) => drop[i % Math.max(1, drop.length)] === true);
        const adds = sortUnique(extra).filter((d) => !S.includes(d));
        const want = sortUnique([...S.filter((d) => !removes.includes(d)), ...adds]);
        const out = applyChanges(recordBytes(S), recordBytes(removes), recordBytes(adds), W);
        expect(recordsOf(out, W)).toEqual(want);
        expect(isSortedUniqueRecords(out, W)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('applyCounts adds the ids going from 0 rows and removes those going to 0', () => {
    fc.assert(
      fc.property(fc.array(digest, { maxLength: 150 }), fc.array(digest, { maxLength: 40 }), fc.array(fc.nat({ max: 3 }), { maxLength: 150 }), (state, fresh, goneTimes) => {
        const S = sortUnique(state);
        // Each id of S once (no multi list); gone lines give some of them once.
        const R = S.filter((_, i) => (goneTimes[i % Math.max(1, goneTimes.length)] ?? 0) === 1);
        const A = sortUnique(fresh);
        const after = new Map<string, number>(S.map((d) => [d, 1]));
        for (const d of R) after.set(d, after.get(d)! - 1);
        for (const d of A) after.set(d, (after.get(d) ?? 0) + 1);
        const adds = A.filter((d) => !S.includes(d));
        const removes = S.filter((d) => after.get(d) === 0);
        const change = applyCounts(recordBytes(S), Buffer.alloc(0), { unique: recordBytes(A), counts: null }, { unique: recordBytes(R), counts: null }, W, 'test');
        expect(recordsOf(change.adds, W)).toEqual(adds);
        expect(recordsOf(change.removes, W)).toEqual(removes);
      }),
      { numRuns: 300 },
    );
  });
});
