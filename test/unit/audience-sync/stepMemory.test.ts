import { describe, expect, it } from 'vitest';
import { borrow, giveBack, usePool } from '../../../src/audience-sync/stepMemory';

describe('step memory of delta diffs', () => {
  it('lends the smallest buffer given back that fits, and fresh memory when none does', () => {
    const release = usePool();
    const big = borrow(1 << 20);
    const small = borrow(1 << 16);
    giveBack(big);
    giveBack(small);
    // Both fit: the smaller is lent.
    expect(borrow(1000)).toBe(small);
    // Only the big one fits.
    expect(borrow(small.length + 1)).toBe(big);
    // Nothing left that fits: fresh memory, neither of the two.
    const fresh = borrow(1000);
    expect(fresh).not.toBe(big);
    expect(fresh).not.toBe(small);
    release();
  });

  it('keeps memory while any diff runs, and drops it when the last one ends', () => {
    const a = usePool();
    const b = usePool();
    const room = borrow(1 << 20);
    giveBack(room);
    // A release counts once.
    a();
    a();
    const c = usePool();
    expect(borrow(1 << 20)).toBe(room);
    giveBack(room);
    b();
    c();
    const d = usePool();
    expect(borrow(1 << 20)).not.toBe(room);
    d();
  });

  it('takes nothing back when no diff uses it', () => {
    const room = Buffer.alloc(1 << 16);
    giveBack(room);
    const e = usePool();
    expect(borrow(1 << 16)).not.toBe(room);
    e();
  });
});
