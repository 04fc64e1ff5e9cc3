import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChanges, applyCounts } from '../../../src/audience-sync/diffDelta';
import { lowerBound } from '../../../src/audience-sync/stateDelta';
import { isSortedUniqueRecords, recordBytes, recordsOf } from '../../../src/audience-sync';

/*
 * The merge steps of a delta diff (diffDelta.ts) against Set arithmetic on hex strings.
 * Digests are drawn from few first words so that many share their first 4 bytes.
 */

const W = 32;
const HEADS = ['00000000', '7fffffff', '80000000', 'ffffffff', 'a1b2c3d4'];
const digest = fc
  .tuple(fc.constantFrom(...HEADS), fc.stringMatching(/^[0-9a-f]{56}$/))
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

  it('lowerBound finds the first record not before the key, from any start, uniform or clustered', () => {
    const uniform = fc.uint8Array({ minLength: W, maxLength: W }).map((b) => Buffer.from(b).toString('hex'));
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.oneof(uniform, digest), { maxLength: 400, size: 'max' }), fc.array(fc.oneof(uniform, digest), { minLength: 1, maxLength: 20 }), fc.nat(), (only, list, keys, from) => {
        // `only`: no clustered digests, the guess's own case; with them, its fallbacks.
        const S = sortUnique(only ? list.filter((d) => !HEADS.includes(d.slice(0, 8))) : list);
        const words = new Uint32Array(new Uint8Array(recordBytes(S)).buffer);
        // Mostly from the start, as a search of a whole list begins.
        const lo = S.length === 0 || from % 2 === 0 ? 0 : from % (S.length + 1);
        // Keys from the list itself too, so that exact hits are asked for.
        for (const key of [...keys, ...S.filter((_, i) => i % 7 === 0)]) {
          const kw = new Uint32Array(new Uint8Array(Buffer.from(key, 'hex')).buffer);
          let want = lo;
          while (want < S.length && S[want]! < key) want++;
          expect(lowerBound(words, S.length, lo, kw, 0, W / 4)).toBe(want);
        }
      }),
      { numRuns: 400 },
    );
  });
});
