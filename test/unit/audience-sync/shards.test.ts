import { describe, expect, it } from 'vitest';
import { linesOf, shardName, shardNumber, shardOf, ShardBuffer, SHARD_COUNT } from '../../../src/audience-sync';
import { DigestList } from '../../../src/identifiers/digestList';
import { digests } from './helpers';

function listOf(ds: string[]): DigestList {
  const l = new DigestList(ds[0]!.length, 16);
  for (const d of ds) l.push(d);
  return l;
}

describe('shards', () => {
  it('takes the shard from the first two hex characters', () => {
    expect(shardOf('00ab')).toBe(0);
    expect(shardOf('ff00')).toBe(255);
    expect(shardOf('7e' + 'a'.repeat(62))).toBe(0x7e);
    expect(shardOf('FF00')).toBe(-1);
    expect(shardOf('g0')).toBe(-1);
    expect(shardOf('')).toBe(-1);
    expect(shardName(10)).toBe('0a');
    expect(shardNumber('0a')).toBe(10);
    expect(shardNumber('0A')).toBe(-1);
  });

  it('spreads digests evenly (each of 256 shards within 30% of the mean for 256k ids)', () => {
    const counts = new Array<number>(SHARD_COUNT).fill(0);
    for (const d of digests(256_000)) counts[shardOf(d)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(700);
    expect(Math.max(...counts)).toBeLessThan(1300);
  });

  it.each(['strings', 'digest lists'])('ShardBuffer lays out every (shard, type) slot in order with exact offsets, from %s', (form) => {
    const email = digests(3000, 'e');
    const maid = digests(2000, 'm').map((d) => d.slice(0, 32)); // MD5-width lines
    const buf = new ShardBuffer(2);
    // The reader hands digests over as bytes (DigestList); the same bytes must come out.
    const as = (ds: string[]): string[] | DigestList => (form === 'strings' ? ds : listOf(ds));
    buf.add(0, as(email.slice(0, 1000)));
    buf.add(1, as(maid));
    buf.add(0, as(email.slice(1000)));
    expect(buf.ids).toBe(5000);
    expect(buf.bytes).toBe(3000 * 65 + 2000 * 33);
    const part = buf.take();
    expect(buf.ids).toBe(0);
    expect(buf.bytes).toBe(0);
    expect(part.ids).toBe(5000);
    expect(part.offsets).toHaveLength(SHARD_COUNT * 2 + 1);
    const all = Buffer.concat(part.chunks);
    expect(all.length).toBe(part.offsets[SHARD_COUNT * 2]);
    for (let s = 0; s < SHARD_COUNT; s++) {
      const e = linesOf(all, part.offsets[s * 2]!, part.offsets[s * 2 + 1]!);
      const m = linesOf(all, part.offsets[s * 2 + 1]!, part.offsets[s * 2 + 2]!);
      // File order within a slot, and exactly this shard's ids.
      expect(e).toEqual(email.filter((d) => shardOf(d) === s));
      expect(m).toEqual(maid.filter((d) => shardOf(d) === s));
    }
  });

  it('scatters raw records of each width into their (shard, type) slots in arrival order, across chunks', () => {
    // Widths 32 (SHA-256), 16 (MD5) and 24 (the general path), one type each; a third of the
    // records start with byte 0x5a, so that slot runs over many 16 KiB chunks.
    const widths = [32, 16, 24];
    let seed = 7;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    const inputs = widths.map((w, t) => {
      const n = [6000, 4000, 5000][t]!;
      const b = Buffer.alloc(n * w);
      for (let i = 0; i < b.length; i++) b[i] = rnd();
      for (let i = 0; i < n; i += 3) b[i * w] = 0x5a;
      return b;
    });
    const buf = new ShardBuffer(widths.length, 'records');
    // Fed in uneven batches, the types interleaved.
    const at = widths.map(() => 0);
    for (let step = 0; at.some((a, t) => a < inputs[t]!.length); step++)
      widths.forEach((w, t) => {
        const take = Math.min(inputs[t]!.length - at[t]!, w * (1 + ((step * 37 + t * 11) % 400)));
        if (take > 0) buf.addRecords(t, inputs[t]!.subarray(at[t]!, at[t]! + take), w);
        at[t]! += take;
      });
    const part = buf.take();
    expect(part.ids).toBe(6000 + 4000 + 5000);
    const all = Buffer.concat(part.chunks);
    const T = widths.length;
    for (let s = 0; s < SHARD_COUNT; s++)
      widths.forEach((w, t) => {
        const want: Buffer[] = [];
        for (let i = 0; i < inputs[t]!.length; i += w) if (inputs[t]![i] === s) want.push(inputs[t]!.subarray(i, i + w));
        expect(all.subarray(part.offsets[s * T + t]!, part.offsets[s * T + t + 1]!).equals(Buffer.concat(want))).toBe(true);
      });
    expect(part.offsets[0x5a * T + 1]! - part.offsets[0x5a * T]!).toBeGreaterThan(2 * 16384);
  });

  it('refuses values that are not lowercase hex digests', () => {
    const buf = new ShardBuffer(1);
    expect(() => buf.add(0, ['ZZ' + 'a'.repeat(62)])).toThrow(/not lowercase hex/);
    expect(() => buf.add(0, listOf(['0a' + 'b'.repeat(62), 'aZ' + 'a'.repeat(62)]))).toThrow(/not lowercase hex/);
  });
});
