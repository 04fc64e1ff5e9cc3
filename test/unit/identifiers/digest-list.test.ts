import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestList } from '../../../src/identifiers/digestList';
import { Sha256HexQueue } from '../../../src/identifiers';

const sha = (s: string) => hash('sha256', s, 'hex');

describe('DigestList', () => {
  it('keeps hex digests as bytes, in order, growing past its first capacity', () => {
    const want = Array.from({ length: 5000 }, (_, i) => sha(`v${i}`));
    const l = new DigestList(64, 4);
    for (const d of want) l.push(d);
    expect(l.length).toBe(5000);
    expect(l.at(0)).toBe(want[0]);
    expect(l.at(4999)).toBe(want[4999]);
    expect([...l]).toEqual(want);
    expect(l.toArray()).toEqual(want);
    expect(l.view().toString('latin1')).toBe(want.join(''));
  });

  it('takes MD5 width, and refuses digests of another width', () => {
    const l = new DigestList(32);
    l.push(hash('md5', 'x', 'hex'));
    expect(l.toArray()).toEqual([hash('md5', 'x', 'hex')]);
    expect(() => l.push(sha('x'))).toThrow(/32-character hex digest/);
    expect(() => new DigestList(40)).toThrow(/SHA-256 \(64\) or MD5 \(32\)/);
  });

  it('receives digests from the SHA-256 queue into reserved slots, between strings', () => {
    const q = new Sha256HexQueue();
    const l = new DigestList(64, 2);
    const values = ['alpha', 'beta', 'gamma'];
    l.push(sha('before'));
    for (const v of values) {
      const at = q.reserve(v.length);
      q.u8.set(Buffer.from(v), at);
      q.commit(v.length, l, l.length);
      l.push('');
    }
    l.push(sha('after'));
    q.flush();
    expect(l.toArray()).toEqual([sha('before'), ...values.map(sha), sha('after')]);
    expect(() => l.setFrom(9, q.words, 0)).toThrow(/never reserved/);
  });
});

describe('DigestList of raw digests', () => {
  it('holds the digests as their bytes, gives them back as hex, and decodes hex pushed or delivered by the queue', () => {
    const q = new Sha256HexQueue();
    const l = new DigestList(32, 2, true);
    const values = ['alpha', 'beta', 'gamma'];
    l.push(sha('before'));
    for (const v of values) {
      const at = q.reserve(v.length);
      q.u8.set(Buffer.from(v), at);
      q.commit(v.length, l, l.length);
      l.push('');
    }
    l.push(sha('after'));
    q.flush();
    const want = [sha('before'), ...values.map(sha), sha('after')];
    expect(l.toArray()).toEqual(want);
    expect(l.view().equals(Buffer.from(want.join(''), 'hex'))).toBe(true);
    expect(() => l.push('zz'.repeat(32))).toThrow(/not hex/);
    expect(() => l.push(sha('x').slice(2))).toThrow(/64-character hex digest/);
  });

  it('takes MD5 (16 bytes), and refuses widths that are not raw SHA-256 or MD5', () => {
    const l = new DigestList(16, 4, true);
    l.push(hash('md5', 'x', 'hex'));
    expect(l.view().equals(hash('md5', 'x', 'buffer'))).toBe(true);
    expect(() => new DigestList(64, 4, true)).toThrow(/SHA-256 \(32\) or MD5 \(16\)/);
  });
});
