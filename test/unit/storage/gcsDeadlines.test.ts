import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import { gcsDeadlinesFromEnv, retryTiming } from '../../../src/storage/gcsDeadlines';

describe('TTSYNC_GCS_REQUEST_TIMEOUT and TTSYNC_GCS_STALL_TIMEOUT', () => {
  it('default to 60 s per request and 120 s of stall, blank counting as unset', () => {
    expect(gcsDeadlinesFromEnv({})).toEqual({ requestMs: 60_000, stallMs: 120_000 });
    expect(gcsDeadlinesFromEnv({ TTSYNC_GCS_REQUEST_TIMEOUT: ' ', TTSYNC_GCS_STALL_TIMEOUT: '' })).toEqual({ requestMs: 60_000, stallMs: 120_000 });
  });

  it('take durations with their unit', () => {
    expect(gcsDeadlinesFromEnv({ TTSYNC_GCS_REQUEST_TIMEOUT: '90s', TTSYNC_GCS_STALL_TIMEOUT: '5m' })).toEqual({ requestMs: 90_000, stallMs: 300_000 });
    expect(gcsDeadlinesFromEnv({ TTSYNC_GCS_REQUEST_TIMEOUT: '1m30s', TTSYNC_GCS_STALL_TIMEOUT: '1500ms' })).toEqual({ requestMs: 90_000, stallMs: 1_500 });
  });

  it('refuse anything else with a message naming the variable and what to write', () => {
    const problem = (env: Record<string, string>): string => {
      try {
        gcsDeadlinesFromEnv(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return expect.unreachable(`${JSON.stringify(env)} was accepted`);
    };
    expect(problem({ TTSYNC_GCS_REQUEST_TIMEOUT: '60' })).toBe('TTSYNC_GCS_REQUEST_TIMEOUT: "60" has no unit: write "60ms" for milliseconds, or use s, m, h or d');
    expect(problem({ TTSYNC_GCS_STALL_TIMEOUT: '2.5m' })).toBe('TTSYNC_GCS_STALL_TIMEOUT: "2.5m" is not a whole number of m: combine units instead, e.g. "1s500ms"');
    expect(problem({ TTSYNC_GCS_STALL_TIMEOUT: 'soon' })).toMatch(/^TTSYNC_GCS_STALL_TIMEOUT: "soon" is not a duration such as /);
    expect(problem({ TTSYNC_GCS_REQUEST_TIMEOUT: '0s' })).toMatch(/^TTSYNC_GCS_REQUEST_TIMEOUT is "0s": give a duration above zero/);
  });
});

describe('the client retry budget', () => {
  it('keeps the library default of 600 s where every attempt and backoff fits in it', () => {
    // 4 attempts of up to 2 × 60 s (headers, then body) and backoffs of at most 3, 5 and 9 s: 497 s.
    expect(retryTiming(60_000, 3)).toEqual({ retryDelayMultiplier: 2, maxRetryDelay: 64, totalTimeout: 600 });
  });

  it('grows past the worst case when attempts are long, so a retry is never skipped (which would hang the call)', () => {
    // 4 attempts of up to 2 × 300 s and backoffs of at most 3, 5 and 9 s: 2417 s.
    expect(retryTiming(300_000, 3).totalTimeout).toBeGreaterThan(4 * 2 * 300 + 3 + 5 + 9);
    // 7 attempts; the sixth backoff is capped at 64 s: 3 + 5 + 9 + 17 + 33 + 64.
    expect(retryTiming(200_000, 6).totalTimeout).toBeGreaterThan(7 * 2 * 200 + 3 + 5 + 9 + 17 + 33 + 64);
  });
});
