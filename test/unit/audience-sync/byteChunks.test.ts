import { describe, expect, it } from 'vitest';
import { ByteChunks } from '../../../src/audience-sync/byteChunks';

describe('ByteChunks', () => {
  it('gives back every byte appended, in order, across chunks and takes, without writing over what was taken', () => {
    const chunks = new ByteChunks();
    expect(chunks.take()).toEqual([]);
    const want: Buffer[] = [];
    const got: Buffer[] = [];
    let sinceTake = 0;
    const take = (): void => {
      expect(chunks.pending).toBe(sinceTake);
      got.push(...chunks.take());
      sinceTake = 0;
    };
    for (let i = 0; i < 5000; i++) {
      const line = Buffer.from(`line ${i} ${'x'.repeat(i % 300)}`);
      chunks.append(line, 0, line.length, 10);
      want.push(line, Buffer.from([10]));
      sinceTake += line.length + 1;
      if (i % 777 === 0) take();
    }
    // A run longer than a chunk, from inside its buffer.
    const big = Buffer.alloc(300 << 10, 65);
    chunks.append(big, 1, big.length);
    want.push(big.subarray(1));
    sinceTake += big.length - 1;
    take();
    // Offsets read from a Float64Array (as span reads compute them).
    const at = Float64Array.of(3, 9);
    chunks.append(big, at[0]!, at[1]!, 10);
    want.push(big.subarray(3, 9), Buffer.from([10]));
    sinceTake += 7;
    take();
    expect(chunks.take()).toEqual([]);
    expect(Buffer.concat(got).equals(Buffer.concat(want))).toBe(true);
  });
});
