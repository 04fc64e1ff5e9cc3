import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdjustableWindowLimiter, SlidingWindowLimiter, sharePart, type RateLimiter } from '../../../src/tiktok';
import { fuzzParams } from '../../helpers/fuzz';

afterEach(() => {
  vi.useRealTimers();
});

/** Sends at once and is answered at once: what a grant-only window would see. */
async function instant(l: RateLimiter): Promise<void> {
  const release = await l.acquire();
  release?.();
}

describe('SlidingWindowLimiter', () => {
  it('grants at most `limit` per window and queues the rest in order', async () => {
    const l = new SlidingWindowLimiter(4, 0);
    const t0 = performance.now();
    const order: number[] = [];
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        instant(l).then(() => {
          order.push(i);
          at.push(performance.now() - t0);
        }),
      ),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    // Behaviour, not speed: the 5th grant cannot happen before the first one's window ends.
    expect(at[3]!).toBeLessThan(500);
    expect(at[4]!).toBeGreaterThanOrEqual(999);
  });

  it('spreads fractional rates: 0.5/s = one grant per 2 s window', () => {
    const l = new SlidingWindowLimiter(0.5, 0);
    expect(l.limit).toBe(1);
    expect(l.windowMs).toBe(2000);
  });

  it('holds a place until a window after the answer: a slow request delays the next one by its own duration', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const l = new SlidingWindowLimiter(1, 0);
    const first = await l.acquire();
    let secondAt: number | undefined;
    void l.acquire().then((release) => {
      secondAt = performance.now();
      release();
    });
    await vi.advanceTimersByTimeAsync(300);
    first();
    first(); // a second call changes nothing
    await vi.advanceTimersByTimeAsync(999);
    expect(secondAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(secondAt).toBe(1300);
  });

  it('never lets more than `limit` requests arrive within one window, wherever between grant and answer they arrive', async () => {
    // TikTok counts a request when it arrives, which we never see: only that it lies between
    // our grant and our reading of the answer. Any such arrival times must keep to the limit.
    const request = fc.record({ issueAfterMs: fc.integer({ min: 0, max: 1500 }), answerAfterMs: fc.integer({ min: 0, max: 3000 }), arrival: fc.double({ min: 0, max: 1, noNaN: true }) });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(request, { minLength: 1, maxLength: 30 }), async (limit, requests) => {
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
        try {
          const l = new SlidingWindowLimiter(limit, 0);
          const arrivals: number[] = [];
          const done = requests.map(
            (r) =>
              new Promise<void>((resolve) => {
                setTimeout(() => {
                  void l.acquire().then((release) => {
                    const granted = performance.now();
                    setTimeout(() => {
                      const answered = performance.now();
                      arrivals.push(granted + r.arrival * (answered - granted));
                      release();
                      resolve();
                    }, r.answerAfterMs);
                  });
                }, r.issueAfterMs);
              }),
          );
          await vi.runAllTimersAsync();
          await Promise.all(done);
          arrivals.sort((a, b) => a - b);
          for (let i = 0; i + limit < arrivals.length; i++) expect(arrivals[i + limit]! - arrivals[i]!).toBeGreaterThanOrEqual(1000);
        } finally {
          vi.useRealTimers();
        }
      }),
      fuzzParams(200, 10_000),
    );
  });
});

describe('AdjustableWindowLimiter (a share of the limit that changes as workers come and go)', () => {
  it('splits a QPS into whole parts by rank that add up to it', () => {
    const parts = (q: number, n: number) => Array.from({ length: n }, (_, k) => sharePart(q, n, k));
    expect(parts(5, 3)).toEqual([2, 2, 1]);
    expect(parts(10, 4)).toEqual([3, 3, 2, 2]);
    expect(parts(10, 1)).toEqual([10]);
    expect(parts(3, 5)).toEqual([1, 1, 1, 0, 0]);
    for (const [q, n] of [[7, 3], [1000, 7], [9, 9], [10.5, 4]] as const) expect(parts(q, n).reduce((a, b) => a + b, 0)).toBe(Math.floor(q));
  });

  it('grants nothing before its gate opens, then in order', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const l = new AdjustableWindowLimiter(() => 10, () => gate, 0);
    const granted: number[] = [];
    const all = Promise.all([0, 1, 2].map((i) => instant(l).then(() => granted.push(i))));
    await new Promise((r) => setTimeout(r, 50));
    expect(granted).toEqual([]);
    open();
    await all;
    expect(granted).toEqual([0, 1, 2]);
  });

  it('counts the grants made under the old rate when the rate drops: no burst at the change', async () => {
    let rate = 4;
    const l = new AdjustableWindowLimiter(() => rate, undefined, 0);
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) await instant(l);
    // A second worker joined: this one's share halves. Four places are in the window already,
    // so the next waits until only one of them is left in it (the third's window ends).
    rate = 2;
    await instant(l);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(999);
  });

  it('grants again when a budget of 0 rises, without any release to wake it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let rate = 0;
    const l = new AdjustableWindowLimiter(() => rate, undefined, 0);
    let granted = false;
    void l.acquire().then((release) => {
      granted = true;
      release();
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(granted).toBe(false);
    rate = 1;
    await vi.advanceTimersByTimeAsync(500);
    expect(granted).toBe(true);
  });
});
