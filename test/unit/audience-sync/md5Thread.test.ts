import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Md5Thread } from '../../../src/audience-sync/md5Thread';
import { mulberry32 } from '../../../src/util/prng';

describe('Md5Thread', () => {
  it('gives the MD5 node:crypto gives, file after file, for chunks of any size, with the chunk memory reused at once', async () => {
    const r = mulberry32(9);
    const t = new Md5Thread();
    try {
      const reused = Buffer.alloc(3 << 20);
      for (const sizes of [[0], [1, 2, 3], [1 << 20, (1 << 20) + 7, 5], [3 << 20, 100, 3 << 20]]) {
        const want = createHash('md5');
        for (const n of sizes) {
          for (let i = 0; i < n; i++) reused[i] = (r() * 256) | 0;
          want.update(reused.subarray(0, n));
          await t.update(reused.subarray(0, n));
          // The caller overwrites its memory as soon as update returns: the thread hashed a copy.
          reused.fill(0xaa, 0, n);
        }
        expect(await t.digest()).toBe(want.digest('hex'));
      }
    } finally {
      await t.close();
    }
  });
});
