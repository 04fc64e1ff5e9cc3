import { describe, expect, it } from 'vitest';
import { diffChanges, diffSnapshot, isSortedUniqueLines, linesOf, listBytes, minusLines, sortUniqueLines, unionLines } from '../../../src/audience-sync';
import { digests, sortUnique } from './helpers';

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const W = 65;
const L = (ids: readonly string[]): Buffer => listBytes(ids);
const S = (b: Buffer): string[] => linesOf(b);

describe('digest lists', () => {
  it('sortUniqueLines sorts by byte order and drops duplicates', () => {
    const ids = digests(5000);
    const withDupes = [...ids, ...ids.slice(0, 100), ...ids.slice(250, 260)].reverse();
    const out = sortUniqueLines(L(withDupes), W);
    expect(S(out)).toEqual(sortUnique(ids));
    expect(isSortedUniqueLines(out, W)).toBe(true);
    expect(isSortedUniqueLines(L([S(out)[1]!, S(out)[0]!]), W)).toBe(false);
    expect(isSortedUniqueLines(L([S(out)[0]!, S(out)[0]!]), W)).toBe(false);
  });

  it('orders digests that share their first 8 hex digits by the rest (the full-compare path)', () => {
    const tail = digests(300).map((d) => d.slice(8));
    const ids = tail.map((t, i) => `${i % 2 ? 'abcdef01' : '00000000'}${t}`);
    const input = [...ids, ...ids.slice(0, 50)];
    expect(S(sortUniqueLines(L(input), W))).toEqual(sortUnique(ids));
    // MD5-width lines sort the same way.
    const md5s = digests(1000).map((d) => d.slice(0, 32));
    expect(S(sortUniqueLines(L([...md5s, ...md5s]), 33))).toEqual(sortUnique(md5s));
  });

  it('refuses bytes that are not whole lines of lowercase hex', () => {
    expect(() => sortUniqueLines(Buffer.from('abc\n'), W)).toThrow(/whole 65-byte lines/);
    expect(() => sortUniqueLines(L(digests(2).map((d) => d.toUpperCase())), W)).toThrow(/lowercase hex/);
    expect(() => isSortedUniqueLines(Buffer.from(`${'a'.repeat(65)}`), W)).toThrow(/not 64 characters/);
  });

  it('round-trips through the stored text form (one digest a line, each ending in \\n)', () => {
    const ids = sortUnique(digests(10));
    const bytes = listBytes(ids);
    expect(bytes.toString('latin1')).toBe(ids.map((d) => `${d}\n`).join(''));
    expect(linesOf(bytes)).toEqual(ids);
    expect(linesOf(Buffer.alloc(0))).toEqual([]);
    expect(listBytes([]).length).toBe(0);
    expect(linesOf(bytes, 65, 195)).toEqual(ids.slice(1, 3));
  });

  it('minusLines and unionLines agree with Set arithmetic on random sets', () => {
    const pool = digests(2000);
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const a = sortUnique(pool.filter(() => r() < 0.4));
      const b = sortUnique(pool.filter(() => r() < 0.4));
      const B = new Set(b);
      expect(S(minusLines(L(a), L(b), W))).toEqual(a.filter((x) => !B.has(x)));
      expect(S(unionLines(L(a), L(b), W))).toEqual(sortUnique([...a, ...b]));
    }
    expect(S(minusLines(L([]), L(pool.slice(0, 3)), W))).toEqual([]);
    expect(S(unionLines(L([]), L([]), W))).toEqual([]);
  });
});

describe('diff of one shard', () => {
  const x = sortUnique(digests(5));
  const [x1, x2, x3, x4, x5] = x as [string, string, string, string, string];
  const strings = (d: { adds: Buffer; removes: Buffer; state: Buffer }) => ({ adds: S(d.adds), removes: S(d.removes), state: S(d.state) });

  it('snapshot, mirror: adds are the enters, removes the exits, the state is the snapshot', () => {
    expect(strings(diffSnapshot(L([x1, x2, x4]), L([x1, x3, x4]), 'mirror', W))).toEqual({ adds: [x2], removes: [x3], state: [x1, x2, x4] });
  });

  it('snapshot, addOnly: nothing is removed, the state grows', () => {
    expect(strings(diffSnapshot(L([x1, x2]), L([x1, x3]), 'addOnly', W))).toEqual({ adds: [x2], removes: [], state: [x1, x2, x3] });
  });

  it('the first snapshot adds everything; an empty snapshot in mirror mode removes everything', () => {
    expect(strings(diffSnapshot(L([x1, x2]), L([]), 'mirror', W))).toEqual({ adds: [x1, x2], removes: [], state: [x1, x2] });
    expect(strings(diffSnapshot(L([]), L([x1, x2]), 'mirror', W))).toEqual({ adds: [], removes: [x1, x2], state: [] });
  });

  it('change batch, mirror: enters already held are not re-added, every exit is removed, same-batch enter+exit counts as exit', () => {
    const d = diffChanges(L([x1, x2, x5]), L([x3, x5]), L([x1, x3, x4]), 'mirror', W);
    expect({ ...strings(d), conflicts: d.conflicts }).toEqual({ adds: [x2], removes: [x3, x5], state: [x1, x2, x4], conflicts: 1 });
  });

  it('change batch, addOnly: exits never removed', () => {
    const d = diffChanges(L([x2]), L([x1]), L([x1]), 'addOnly', W);
    expect({ ...strings(d), conflicts: d.conflicts }).toEqual({ adds: [x2], removes: [], state: [x1, x2], conflicts: 0 });
  });
});
