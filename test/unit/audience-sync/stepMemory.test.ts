import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { borrow, giveBack, KEEP_IDLE_BYTES, KEEP_IDLE_MS, pooledBytes, usePool } from '../../../src/audience-sync/stepMemory';

// The pool is module state: each test ends with it idle and dropped (timers run out).
describe('step memory of delta diffs', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.runAllTimers();
    vi.useRealTimers();
  });

  it('lends the smallest buffer given back that fits, and fresh memory when none does', () => {
    const release = usePool();
    const big = borrow(1 << 20);
    const small = borrow(1 << 16);
    expect(big.length).toBeGreaterThanOrEqual(1 << 20);
    expect(small.length).toBeGreaterThanOrEqual(1 << 16);
    giveBack(big);
    giveBack(small);
    expect(pooledBytes()).toBe(big.length + small.length);
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

  it('keeps its memory KEEP_IDLE_MS after the last diff ends, for the next one', () => {
    const first = usePool();
    const room = borrow(3 << 20);
    giveBack(room);
    first();
    vi.advanceTimersByTime(KEEP_IDLE_MS - 1);
    expect(pooledBytes()).toBe(room.length);
    // A diff that starts within the time reads into the same memory.
    const second = usePool();
    expect(borrow(3 << 20)).toBe(room);
    giveBack(room);
    second();
    // Its end starts the time again.
    vi.advanceTimersByTime(KEEP_IDLE_MS - 1);
    expect(pooledBytes()).toBe(room.length);
    vi.advanceTimersByTime(1);
    expect(pooledBytes()).toBe(0);
    const third = usePool();
    expect(borrow(3 << 20)).not.toBe(room);
    third();
  });

  it('drops nothing while any diff still runs, and counts each release once', () => {
    const a = usePool();
    const b = usePool();
    const room = borrow(1 << 20);
    giveBack(room);
    a();
    a();
    vi.advanceTimersByTime(KEEP_IDLE_MS * 2);
    expect(pooledBytes()).toBe(room.length);
    b();
    vi.advanceTimersByTime(KEEP_IDLE_MS);
    expect(pooledBytes()).toBe(0);
  });

  it('keeps at most KEEP_IDLE_BYTES once idle, the largest buffers that fit first', () => {
    const release = usePool();
    // Lent memory is never written here: its pages cost nothing.
    const big = borrow(KEEP_IDLE_BYTES * 0.75);
    const middle = borrow(KEEP_IDLE_BYTES / 8);
    const small = borrow(KEEP_IDLE_BYTES / 64);
    for (const b of [small, middle, big]) giveBack(b);
    expect(pooledBytes()).toBe(big.length + middle.length + small.length);
    expect(big.length + middle.length).toBeGreaterThan(KEEP_IDLE_BYTES);
    expect(big.length + small.length).toBeLessThanOrEqual(KEEP_IDLE_BYTES);
    release();
    // The middle one no longer fits beside the big one; the small one still does.
    expect(pooledBytes()).toBe(big.length + small.length);
    const again = usePool();
    expect(borrow(KEEP_IDLE_BYTES / 2)).toBe(big);
    expect(borrow(1)).toBe(small);
    again();
  });

  it('takes nothing back when no diff uses it', () => {
    vi.runAllTimers();
    giveBack(Buffer.alloc(1 << 16));
    expect(pooledBytes()).toBe(0);
  });
});
