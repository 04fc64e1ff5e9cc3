import { describe, expect, it } from 'vitest';
import {
  diffChanges,
  diffSnapshot,
  hexLinesOfRecords,
  isSortedUniqueRecords,
  listBytes,
  minusRecords,
  recordBytes,
  recordsOf,
  recordsOfHexLines,
  ShardBuffer,
  shardOf,
  SHARD_COUNT,
  sortUniqueRecords,
  unionRecords,
} from '../../../src/audience-sync';
import { appliedListRecords } from '../../../src/audience-sync/appliedLists';
import { sortCountRecords } from '../../../src/audience-sync/digestCounts';
import { AudienceDataError, AudienceDataErrorTypes } from '../../../src/audience-sync/failures';
import { DigestList } from '../../../src/identifiers/digestList';
import { digests, sortUnique } from './helpers';

/*
 * Digest records (raw digest bytes, the form diff and the applied state use since the
 * hex-line lists): every expectation is computed on hex strings with Set and Array.sort,
 * independently of the record code.
 */

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const W = 32;
const R = (ids: readonly string[]): Buffer => recordBytes(ids);
const S = (b: Buffer, w = W): string[] => recordsOf(b, w);

/** The same bytes at an odd address: storage reads can hand out such views. */
function unaligned(b: Buffer): Buffer {
  const big = Buffer.alloc(b.length + 1);
  b.copy(big, 1);
  return big.subarray(1);
}

function listOf(ds: string[]): DigestList {
  const l = new DigestList(ds[0]!.length, 16);
  for (const d of ds) l.push(d);
  return l;
}

describe('digest records', () => {
  it('sortUniqueRecords sorts by byte order (the hex order) and drops duplicates, aligned or not', () => {
    const ids = digests(5000);
    const input = [...ids, ...ids.slice(0, 100), ...ids.slice(250, 260)].reverse();
    for (const b of [R(input), unaligned(R(input))]) {
      const out = sortUniqueRecords(b, W);
      expect(S(out)).toEqual(sortUnique(ids));
      expect(isSortedUniqueRecords(out, W)).toBe(true);
    }
    expect(isSortedUniqueRecords(R([sortUnique(ids)[1]!, sortUnique(ids)[0]!]), W)).toBe(false);
    expect(isSortedUniqueRecords(R([ids[0]!, ids[0]!]), W)).toBe(false);
  });

  it('orders digests that share their first 4 bytes by the rest; MD5 width too', () => {
    const tail = digests(300).map((d) => d.slice(8));
    const ids = tail.map((t, i) => `${i % 2 ? 'abcdef01' : '00000000'}${t}`);
    expect(S(sortUniqueRecords(R([...ids, ...ids.slice(0, 50)]), W))).toEqual(sortUnique(ids));
    const md5s = digests(1000).map((d) => d.slice(0, 32));
    expect(S(sortUniqueRecords(R([...md5s, ...md5s]), 16), 16)).toEqual(sortUnique(md5s));
  });

  it('sortCountRecords and sortUniqueRecords agree with Array.sort and a Map count on random lists: uniform, clustered, one key, duplicates', () => {
    const rand = rng(19);
    const hex = (k: number): string => Array.from({ length: k }, () => Math.floor(rand() * 16).toString(16)).join('');
    for (let t = 0; t < 60; t++) {
      const n = 1 + Math.floor(rand() * 3000);
      // Uniform digests; digests in a narrow band of first words (buckets of several); one
      // shared first word (one bucket past the insertion limit: sorted by comparison).
      const kind = t % 3;
      const prefix = hex(8);
      const fresh = (): string => (kind === 0 ? hex(64) : kind === 1 ? `${prefix.slice(0, 5)}${hex(59)}` : `${prefix}${hex(56)}`);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(i > 0 && rand() < 0.2 ? ids[Math.floor(rand() * i)]! : fresh());
      const count = new Map<string, number>();
      for (const d of ids) count.set(d, (count.get(d) ?? 0) + 1);
      const want = [...count.keys()].sort();
      for (const b of [R(ids), unaligned(R(ids))]) {
        const got = sortCountRecords(b, W);
        expect(S(got.unique)).toEqual(want);
        const times = got.counts ? Array.from(got.counts) : want.map(() => 1);
        expect(times).toEqual(want.map((d) => count.get(d)));
        expect(S(sortUniqueRecords(b, W))).toEqual(want);
      }
    }
  });

  it('isSortedUniqueRecords is true exactly for strictly increasing lists (hex order), whatever prefix neighbours share', () => {
    const rand = rng(19);
    // Few first words, so that neighbours often share 4, 8 or all their bytes.
    const heads = ['00000000', '0000000000000000', '7fffffff', '80000000', 'ffffffff'];
    for (let round = 0; round < 400; round++) {
      const w = round % 3 === 0 ? 16 : W;
      const n = Math.floor(rand() * 12);
      const ids = Array.from({ length: n }, () => {
        const head = heads[Math.floor(rand() * heads.length)]!;
        const tail = digests(1, `r${Math.floor(rand() * 1e9)}`)[0]!;
        return (head + tail).slice(0, 2 * w);
      });
      // Sorted unique, or that list with one change: a swap, a duplicate, a record moved.
      const sorted = sortUnique(ids);
      const list = [...sorted];
      const k = Math.floor(rand() * 4);
      if (list.length >= 2 && k === 1) [list[0], list[list.length - 1]] = [list[list.length - 1]!, list[0]!];
      if (list.length >= 1 && k === 2) list.splice(Math.floor(rand() * list.length), 0, list[Math.floor(rand() * list.length)]!);
      if (list.length >= 2 && k === 3) list.push(list.shift()!);
      const want = list.every((d, i) => i === 0 || list[i - 1]! < d);
      for (const b of [R(list), unaligned(R(list))]) expect(isSortedUniqueRecords(b, w)).toBe(want);
    }
    expect(() => isSortedUniqueRecords(Buffer.alloc(W + 1), W)).toThrow(RangeError);
  });

  it('an applied-state list read back that is not sorted unique records is corrupt data naming the object', () => {
    const ids = sortUnique(digests(300));
    const ref = { uri: 'file:///work/runs/r1/state', start: 64, count: 300, format: 'records' };
    expect(S(appliedListRecords(R(ids), 'EMAIL_SHA256', ref, 'v1'))).toEqual(ids);
    const hexLines = Buffer.from(ids.map((d) => `${d}\n`).join(''));
    expect(S(appliedListRecords(hexLines, 'EMAIL_SHA256', { ...ref, format: undefined }, 'v1'))).toEqual(ids);
    for (const bad of [[...ids.slice(0, 150), ids[10]!, ...ids.slice(150)], [...ids.slice(1), ids[0]!], [...ids.slice(0, 299), ids[298]!]]) {
      let err: unknown;
      try {
        appliedListRecords(R(bad), 'EMAIL_SHA256', ref, 'v1');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AudienceDataError);
      expect(err).toMatchObject({ type: AudienceDataErrorTypes.corruptData });
      expect((err as Error).message).toContain('file:///work/runs/r1/state: an applied-state list of manifest v1 at byte 64 is not 300 sorted EMAIL_SHA256 lines');
    }
  });

  it('minusRecords and unionRecords agree with Set arithmetic on random sets', () => {
    const pool = digests(2000);
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const a = sortUnique(pool.filter(() => r() < 0.4));
      const b = sortUnique(pool.filter(() => r() < 0.4));
      const B = new Set(b);
      expect(S(minusRecords(R(a), unaligned(R(b)), W))).toEqual(a.filter((x) => !B.has(x)));
      expect(S(unionRecords(unaligned(R(a)), R(b), W))).toEqual(sortUnique([...a, ...b]));
    }
    expect(S(minusRecords(R([]), R(pool.slice(0, 3)), W))).toEqual([]);
    expect(S(unionRecords(R([]), R([]), W))).toEqual([]);
  });

  it('converts to and from the hex lines of customer files and older lists', () => {
    const ids = sortUnique(digests(777));
    const lines = listBytes(ids);
    expect(S(recordsOfHexLines(lines, 65))).toEqual(ids);
    expect(hexLinesOfRecords(R(ids), W).equals(lines)).toBe(true);
    const md5s = sortUnique(digests(50).map((d) => d.slice(0, 32)));
    expect(hexLinesOfRecords(recordsOfHexLines(listBytes(md5s), 33), 16).toString('latin1')).toBe(md5s.map((d) => `${d}\n`).join(''));
    expect(() => recordsOfHexLines(listBytes([ids[0]!.toUpperCase()]), 65)).toThrow(/lowercase hex/);
    expect(() => recordsOfHexLines(Buffer.from('abc\n'), 65)).toThrow(/whole 65-byte lines/);
    expect(() => sortUniqueRecords(Buffer.alloc(33), W)).toThrow(/whole 32-byte records/);
  });
});

describe('diff as a merge of sorted records', () => {
  it('a snapshot diff is the set difference both ways, computed independently (mirror and addOnly)', () => {
    const pool = digests(3000);
    for (let seed = 1; seed <= 10; seed++) {
      const r = rng(seed);
      const desired = pool.filter(() => r() < 0.5);
      const applied = sortUnique(pool.filter(() => r() < 0.5));
      const D = new Set(desired);
      const A = new Set(applied);
      const d = diffSnapshot(sortUniqueRecords(R(desired), W), R(applied), 'mirror', W);
      expect(S(d.adds)).toEqual(sortUnique(desired.filter((x) => !A.has(x))));
      expect(S(d.removes)).toEqual(applied.filter((x) => !D.has(x)));
      expect(S(d.state)).toEqual(sortUnique(desired));
      const g = diffSnapshot(sortUniqueRecords(R(desired), W), R(applied), 'addOnly', W);
      expect(S(g.removes)).toEqual([]);
      expect(S(g.state)).toEqual(sortUnique([...desired, ...applied]));
    }
  });

  it('a change batch: exit wins over a same-batch enter, and every exit is removed in mirror mode', () => {
    const [a, b, c, d] = sortUnique(digests(4));
    const r = diffChanges(R(sortUnique([a!, b!])), R(sortUnique([b!, c!])), R(sortUnique([c!, d!])), 'mirror', W);
    expect(S(r.adds)).toEqual([a]);
    expect(S(r.removes)).toEqual(sortUnique([b!, c!]));
    expect(S(r.state)).toEqual(sortUnique([a!, d!]));
    expect(r.conflicts).toBe(1);
  });
});

describe('ShardBuffer of records', () => {
  it.each(['strings', 'digest lists'])('puts each digest as raw bytes in its (shard, type) slot with exact offsets, from %s', (form) => {
    const email = digests(3000, 'e');
    const maid = digests(2000, 'm').map((d) => d.slice(0, 32));
    const buf = new ShardBuffer(2, 'records');
    const as = (ds: string[]): string[] | DigestList => (form === 'strings' ? ds : listOf(ds));
    buf.add(0, as(email.slice(0, 1000)));
    buf.add(1, as(maid));
    buf.add(0, as(email.slice(1000)));
    expect(buf.ids).toBe(5000);
    expect(buf.bytes).toBe(3000 * 32 + 2000 * 16);
    const part = buf.take();
    const all = Buffer.concat(part.chunks);
    expect(all.length).toBe(part.offsets[SHARD_COUNT * 2]);
    for (let s = 0; s < SHARD_COUNT; s++) {
      expect(S(all.subarray(part.offsets[s * 2]!, part.offsets[s * 2 + 1]!))).toEqual(email.filter((d) => shardOf(d) === s));
      expect(S(all.subarray(part.offsets[s * 2 + 1]!, part.offsets[s * 2 + 2]!), 16)).toEqual(maid.filter((d) => shardOf(d) === s));
    }
  });

  it('refuses values that are not lowercase hex digests', () => {
    const buf = new ShardBuffer(1, 'records');
    expect(() => buf.add(0, ['ZZ' + 'a'.repeat(62)])).toThrow(/not lowercase hex/);
    expect(() => buf.add(0, ['0a' + 'B'.repeat(62)])).toThrow(/not lowercase hex/);
    expect(() => buf.add(0, listOf(['0a' + 'b'.repeat(62), 'a0' + 'a'.repeat(61) + 'G']))).toThrow(/not lowercase hex/);
  });
});
