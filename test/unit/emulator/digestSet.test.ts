import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestSet } from '../../../src/emulator';

const hex = (i: number, algo = 'sha256') => createHash(algo).update(String(i)).digest('hex');

describe('DigestSet', () => {
  it('behaves like a Set of hex digests under random adds and deletes (grow, backward-shift delete)', () => {
    const ref = new Set<string>();
    const s = new DigestSet(4);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 3000);
    for (let i = 0; i < 20_000; i++) {
      const v = hex(rand(), i % 5 === 0 ? 'md5' : 'sha256');
      if (i % 3 === 2) expect(s.delete(Buffer.from(v.padEnd(64, '0'), 'hex'))).toBe(ref.delete(v));
      else expect(s.addHex(v)).toBe(!ref.has(v) && Boolean(ref.add(v)));
      expect(s.size).toBe(ref.size);
    }
    expect(new Set(s.hexes())).toEqual(ref);
    for (const v of ref) expect(s.hasHex(v)).toBe(true);
    expect(s.hasHex(hex(99_999))).toBe(false);
  });

  it('packs and unpacks, keeps MD5 digests at 32 hex chars, treats case alike', () => {
    const s = new DigestSet();
    s.addHex(hex(1));
    s.addHex(hex(2, 'md5'));
    expect(s.addHex(hex(1).toUpperCase())).toBe(false);
    const back = DigestSet.unpack(s.pack());
    expect(new Set(back.hexes())).toEqual(new Set([hex(1), hex(2, 'md5')]));
    expect(s.pack()).toHaveLength(64);
  });
});
