import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import {
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
