import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import {
  SlidingWindowLimiter,
  AdjustableWindowLimiter,
  sharePart,
  TIKTOK_PRODUCTION_BASE_URL,
  TikTokClient,
  buildSegmentBatch,
  encodeQuery,
  parseTikTokEnv,
} from '../../../src/tiktok';

describe('encodeQuery', () => {
  it('JSON-encodes arrays, skips undefined', () => {
    expect(encodeQuery({ advertiser_ids: ['1', '2'], page: 2, x: undefined })).toBe(
      `?advertiser_ids=${encodeURIComponent('["1","2"]')}&page=2`,
    );
    expect(encodeQuery({})).toBe('');
  });
});

describe('buildSegmentBatch', () => {
  it('one slot per id_schema entry, {} where the user has no such id', () => {
    expect(
      buildSegmentBatch(['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'], [{ EMAIL_SHA256: 'e', IDFA_SHA256: 'i' }, { PHONE_SHA256: 'p' }], ['A']),
    ).toEqual([
      [{ id: 'e', audience_ids: ['A'] }, {}, { id: 'i', audience_ids: ['A'] }],
      [{}, { id: 'p', audience_ids: ['A'] }, {}],
    ]);
  });
});

describe('config', () => {
  it('defaults to production and the documented limits', () => {
    const env = parseTikTokEnv({});
    expect(env).toMatchObject({
      TIKTOK_API_BASE_URL: TIKTOK_PRODUCTION_BASE_URL,
      TIKTOK_QPS: 10,
      TIKTOK_EVENTS_QPS: 1000,
      TIKTOK_QPS_WORKERS: 1,
    });
    expect(parseTikTokEnv({ TIKTOK_API_BASE_URL: 'http://127.0.0.1:8787/open_api/v1.3/' }).TIKTOK_API_BASE_URL).toBe(
      'http://127.0.0.1:8787/open_api/v1.3',
    );
  });
  it('rejects bad values naming the key', () => {
    expect(() => parseTikTokEnv({ TIKTOK_QPS: '-1' })).toThrow(ConfigError);
    expect(() => parseTikTokEnv({ TIKTOK_API_BASE_URL: 'not a url' })).toThrow(/TIKTOK_API_BASE_URL/);
  });
  it('the client refuses an auth call without a token, before any request', async () => {
    const c = new TikTokClient({ env: { TIKTOK_API_BASE_URL: 'http://127.0.0.1:9' } });
    await expect(c.getUserInfo()).rejects.toMatchObject({ name: 'ReauthorizationRequired', code: null });
  });
});

describe('SlidingWindowLimiter', () => {
  it('grants at most `limit` per window and queues the rest in order', async () => {
    const l = new SlidingWindowLimiter(4, 0);
    const t0 = performance.now();
    const order: number[] = [];
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        l.acquire().then(() => {
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
    const all = Promise.all([0, 1, 2].map((i) => l.acquire().then(() => granted.push(i))));
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
    for (let i = 0; i < 4; i++) await l.acquire();
    // A second worker joined: this one's share halves. Four grants are in the window already,
    // so the next waits until only one of them is left in it (the third's window ends).
    rate = 2;
    await l.acquire();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(999);
  });
});
