import { describe, expect, it } from 'vitest';
import { diffChanges, diffSnapshot, intersect, isSortedUnique, linesOf, listBytes, minus, sortUnique, union } from '../../../src/audience';
import { digests } from './helpers';

/** Deterministic pseudo-random subset picker. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe('digest lists', () => {
  it('sortUnique sorts by byte order and drops duplicates', () => {
    const ids = digests(500);
    const withDupes = [...ids, ...ids.slice(0, 100), ...ids.slice(250, 260)].reverse();
    const out = sortUnique(withDupes);
    expect(out).toEqual(sorted(new Set(ids)));
    expect(isSortedUnique(out)).toBe(true);
    expect(isSortedUnique([out[1]!, out[0]!])).toBe(false);
    expect(isSortedUnique([out[0]!, out[0]!])).toBe(false);
  });

  it('round-trips through the stored text form (one digest a line, each ending in \\n)', () => {
    const ids = sortUnique(digests(10));
    const bytes = listBytes(ids);
    expect(bytes.toString('latin1')).toBe(ids.map((d) => `${d}\n`).join(''));
    expect(linesOf(bytes)).toEqual(ids);
    expect(linesOf(Buffer.alloc(0))).toEqual([]);
    expect(listBytes([]).length).toBe(0);
    // A slice of a buffer, as diff reads them out of spill parts.
    expect(linesOf(bytes, 65, 195)).toEqual(ids.slice(1, 3));
  });

  it('minus, union and intersect agree with Set arithmetic on random sets', () => {
    const pool = digests(2000);
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const a = sortUnique(pool.filter(() => r() < 0.4));
      const b = sortUnique(pool.filter(() => r() < 0.4));
      const A = new Set(a);
      const B = new Set(b);
      expect(minus(a, b)).toEqual(sorted(a.filter((x) => !B.has(x))));
      expect(union(a, b)).toEqual(sorted(new Set([...a, ...b])));
      expect(intersect(a, b)).toEqual(sorted(b.filter((x) => A.has(x))));
    }
  });
});

describe('diff of one shard', () => {
  const [x1, x2, x3, x4, x5] = sortUnique(digests(5));
  const X = { x1: x1!, x2: x2!, x3: x3!, x4: x4!, x5: x5! };

  it('snapshot, mirror: adds are the enters, removes the exits, the state is the snapshot', () => {
    const d = diffSnapshot([X.x1, X.x2, X.x4], [X.x1, X.x3, X.x4], 'mirror');
    expect(d).toEqual({ adds: [X.x2], removes: [X.x3], state: [X.x1, X.x2, X.x4] });
  });

  it('snapshot, addOnly: nothing is removed, the state grows', () => {
    const d = diffSnapshot([X.x1, X.x2], [X.x1, X.x3], 'addOnly');
    expect(d).toEqual({ adds: [X.x2], removes: [], state: [X.x1, X.x2, X.x3] });
  });

  it('the first snapshot adds everything; an empty snapshot in mirror mode removes everything', () => {
    expect(diffSnapshot([X.x1, X.x2], [], 'mirror')).toEqual({ adds: [X.x1, X.x2], removes: [], state: [X.x1, X.x2] });
    expect(diffSnapshot([], [X.x1, X.x2], 'mirror')).toEqual({ adds: [], removes: [X.x1, X.x2], state: [] });
  });

  it('change batch, mirror: enters already held are not re-added, every exit is removed, same-batch enter+exit counts as exit', () => {
    const d = diffChanges([X.x1, X.x2, X.x5], [X.x3, X.x5], [X.x1, X.x3, X.x4], 'mirror');
    expect(d).toEqual({ adds: [X.x2], removes: [X.x3, X.x5], state: [X.x1, X.x2, X.x4], conflicts: 1 });
  });

  it('change batch, addOnly: exits never removed', () => {
    const d = diffChanges([X.x2], [X.x1], [X.x1], 'addOnly');
    expect(d).toEqual({ adds: [X.x2], removes: [], state: [X.x1, X.x2], conflicts: 0 });
  });
});
