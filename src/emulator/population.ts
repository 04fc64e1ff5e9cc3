import { createHash } from 'node:crypto';
import type { DigestSet } from './digestSet';

/**
 * The emulated TikTok user base: a digest "is a TikTok user" when 4 of its bytes, mixed with
 * the population seed, fall under matchRate. Deterministic per digest (the same id always
 * matches or never does) and, as digests are uniform, close to matchRate in share.
 */
export class Population {
  private mix = 0;
  private threshold = 0;

  constructor(matchRate: number, seed: number) {
    this.configure(matchRate, seed);
  }

  configure(matchRate: number, seed: number): void {
    this.mix = createHash('sha256').update(`population:${seed}`).digest().readUInt32BE(0);
    this.threshold = Math.floor(matchRate * 2 ** 32);
  }

  /** Bytes 8..11 of the 32-byte key (the hash table uses bytes 0..3). */
  has(key: Uint8Array, off = 0): boolean {
    const v = ((key[off + 8]! << 24) | (key[off + 9]! << 16) | (key[off + 10]! << 8) | key[off + 11]!) ^ this.mix;
    return v >>> 0 < this.threshold;
  }

  count(set: DigestSet): number {
    let n = 0;
    set.forEach((k, off) => {
      if (this.has(k, off)) n++;
    });
    return n;
  }
}
