import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rowFingerprint } from '../../../src/snapshot/rowFingerprint';

/*
 * The row fingerprint is stored in every row index: a change of its values would make each
 * index written before look damaged (a full read of the next snapshot). Checked against
 * MurmurHash3_x86_128 written here from the reference C (byte by byte, with a copy of the key,
 * as a reader of smhasher would), on lines of every tail length at every alignment.
 */

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}
const mul = (a: number, b: number): number => Math.imul(a, b) >>> 0;
function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = mul(h, 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  h = mul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** MurmurHash3_x86_128(key, seed) as its four 32-bit words h1..h4. */
function murmur3x86_128(key: Uint8Array, seed: number): number[] {
  const data = Uint8Array.from(key);
  const len = data.length;
  const nblocks = Math.floor(len / 16);
  let [h1, h2, h3, h4] = [seed >>> 0, seed >>> 0, seed >>> 0, seed >>> 0];
  const [c1, c2, c3, c4] = [0x239b961b, 0xab0e9789, 0x38b34ae5, 0xa1e38b93];
  const block = (i: number): number => (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
  for (let i = 0; i < nblocks; i++) {
    let k1 = block(16 * i);
    let k2 = block(16 * i + 4);
    let k3 = block(16 * i + 8);
    let k4 = block(16 * i + 12);
    k1 = mul(rotl(mul(k1, c1), 15), c2);
    h1 = (h1 ^ k1) >>> 0;
    h1 = (mul(((rotl(h1, 19) + h2) >>> 0), 5) + 0x561ccd1b) >>> 0;
    k2 = mul(rotl(mul(k2, c2), 16), c3);
    h2 = (h2 ^ k2) >>> 0;
    h2 = (mul(((rotl(h2, 17) + h3) >>> 0), 5) + 0x0bcaa747) >>> 0;
    k3 = mul(rotl(mul(k3, c3), 17), c4);
    h3 = (h3 ^ k3) >>> 0;
    h3 = (mul(((rotl(h3, 15) + h4) >>> 0), 5) + 0x96cd1c35) >>> 0;
    k4 = mul(rotl(mul(k4, c4), 18), c1);
    h4 = (h4 ^ k4) >>> 0;
    h4 = (mul(((rotl(h4, 13) + h1) >>> 0), 5) + 0x32ac3b17) >>> 0;
  }
  const tail = 16 * nblocks;
  let [k1, k2, k3, k4] = [0, 0, 0, 0];
  const rest = len & 15;
  for (let j = rest - 1; j >= 0; j--) {
    const byte = data[tail + j]!;
    if (j >= 12) k4 = (k4 ^ (byte << (8 * (j - 12)))) >>> 0;
    else if (j >= 8) k3 = (k3 ^ (byte << (8 * (j - 8)))) >>> 0;
    else if (j >= 4) k2 = (k2 ^ (byte << (8 * (j - 4)))) >>> 0;
    else k1 = (k1 ^ (byte << (8 * j))) >>> 0;
  }
  if (rest > 12) h4 = (h4 ^ mul(rotl(mul(k4, c4), 18), c1)) >>> 0;
  if (rest > 8) h3 = (h3 ^ mul(rotl(mul(k3, c3), 17), c4)) >>> 0;
  if (rest > 4) h2 = (h2 ^ mul(rotl(mul(k2, c2), 16), c3)) >>> 0;
  if (rest > 0) h1 = (h1 ^ mul(rotl(mul(k1, c1), 15), c2)) >>> 0;
  [h1, h2, h3, h4] = [(h1 ^ len) >>> 0, (h2 ^ len) >>> 0, (h3 ^ len) >>> 0, (h4 ^ len) >>> 0];
  h1 = (h1 + h2 + h3 + h4) >>> 0;
  h2 = (h2 + h1) >>> 0;
  h3 = (h3 + h1) >>> 0;
  h4 = (h4 + h1) >>> 0;
  [h1, h2, h3, h4] = [fmix32(h1), fmix32(h2), fmix32(h3), fmix32(h4)];
  h1 = (h1 + h2 + h3 + h4) >>> 0;
  h2 = (h2 + h1) >>> 0;
  h3 = (h3 + h1) >>> 0;
  h4 = (h4 + h1) >>> 0;
  return [h1, h2, h3, h4];
}

describe('rowFingerprint', () => {
  it('is MurmurHash3_x86_128 of the bytes, at any offset and length, in any buffer', () => {
    const out = new Uint32Array(6);
    expect(murmur3x86_128(new Uint8Array(0), 0)).toEqual([0, 0, 0, 0]);
    // Several buffers in turn: a view made for one must not be used for the next.
    const buffers = [randomBytes(300), randomBytes(257), Buffer.from('email,phone\nuser1@example.com,(212) 555-0100\n'.repeat(4))];
    for (let round = 0; round < 3; round++)
      for (const buf of buffers)
        for (let start = 0; start < 19; start++)
          for (let end = start; end <= Math.min(buf.length, start + 70); end++) {
            const seed = (start * 2654435761 + end) >>> 0;
            rowFingerprint(buf, start, end, seed, out, 1);
            expect([out[1], out[2], out[3], out[4]]).toEqual(murmur3x86_128(buf.subarray(start, end), seed));
          }
    // A view of part of a larger buffer (a piece of a read): offsets are the view's own.
    const big = randomBytes(1000);
    const view = big.subarray(333, 900);
    rowFingerprint(view, 5, 80, 7, out, 0);
    expect([out[0], out[1], out[2], out[3]]).toEqual(murmur3x86_128(big.subarray(338, 413), 7));
  });
});
