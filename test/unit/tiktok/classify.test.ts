import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_TIKTOK_ERROR_TYPES,
  TIKTOK_NON_RETRYABLE_ERROR_TYPES,
  TikTokErrorType,
  classifyCode,
  classifyHttpStatus,
  createTikTokError,
  isSuccessCode,
  InvalidRequest,
  TikTokError,
  UnexpectedResponse,
} from '../../../src/tiktok';

describe('classifyCode', () => {
  const table: Array<[number, string, string]> = [
    [40100, 'Too many requests. Please retry in some time.', 'Throttled'],
    [40133, '', 'Throttled'],
    [40016, '', 'Throttled'],
    [40132, '', 'Throttled'],
    [61000, '', 'Throttled'],
    [50000, 'System error', 'Transient'],
    [50002, '', 'Transient'],
    [51000, '', 'Transient'],
    [51063, '', 'Transient'],
    [51999, '', 'Transient'],
    [52000, '', 'Transient'],
    [52204, '', 'Transient'],
    [60001, '', 'Transient'],
    [40002, 'Audience is not editable, please check audience status', 'AudienceBusy'],
    [40002, 'Parameter error: invalid audience ID', 'InvalidRequest'],
    [40102, '', 'ReauthorizationRequired'],
    [40104, '', 'ReauthorizationRequired'],
    [40105, '', 'ReauthorizationRequired'],
    [40106, '', 'ReauthorizationRequired'],
    [40110, '', 'ReauthorizationRequired'],
    [40113, '', 'ReauthorizationRequired'],
    [40001, 'No permission to operate pixel code', 'PermissionDenied'],
    [40000, '', 'InvalidRequest'],
    [40101, '', 'InvalidRequest'],
    [40900, '', 'InvalidRequest'],
    [40907, '', 'InvalidRequest'],
    [40202, '', 'InvalidRequest'],
    [53102, '', 'InvalidRequest'],
    [12345, '', 'InvalidRequest'],
  ];
  it.each(table)('%i %s → %s', (code, message, type) => {
    expect(classifyCode(code, message)).toBe(type);
  });

  it('0 and 20001 are success, nothing else is', () => {
    expect(isSuccessCode(0)).toBe(true);
    expect(isSuccessCode(20001)).toBe(true);
    expect(isSuccessCode(40100)).toBe(false);
  });

  it('HTTP statuses: 5xx Transient, 429 Throttled, other 4xx InvalidRequest', () => {
    expect(classifyHttpStatus(500)).toBe('Transient');
    expect(classifyHttpStatus(502)).toBe('Transient');
    expect(classifyHttpStatus(503)).toBe('Transient');
    expect(classifyHttpStatus(429)).toBe('Throttled');
    expect(classifyHttpStatus(404)).toBe('InvalidRequest');
    expect(classifyHttpStatus(405)).toBe('InvalidRequest');
  });

  it('agrees with the peer response-classification vectors where the peer is right', () => {
    const vectors = JSON.parse(
      readFileSync('/work/shared/reference/peer-vectors/rudderlabs-rudder-transformer.response-classification.json', 'utf8'),
    ) as { vectors: Array<{ http_status: number; body: { code?: number; message?: string }; id: string }> };
    const ours = vectors.vectors.map((v) => {
      if (v.http_status !== 200) return [v.id, classifyHttpStatus(v.http_status)];
      const code = v.body.code!;
      return [v.id, isSuccessCode(code) ? 'success' : classifyCode(code, v.body.message ?? '')];
    });
    expect(Object.fromEntries(ours)).toEqual({
      'rud-resp-001': 'success',
      'rud-resp-002': 'success',
      'rud-resp-003': 'Throttled',
      // A plain parameter error (peer: aborted): ours too, not AudienceBusy.
      'rud-resp-004': 'InvalidRequest',
      'rud-resp-005': 'PermissionDenied',
      'rud-resp-006': 'Transient',
      'rud-resp-007': 'Transient',
    });
  });
});

describe('error objects', () => {
  it('UnexpectedResponse names the request path, request_id and JSON path in a readable message', () => {
    const e = new UnexpectedResponse({
      code: 0,
      requestId: 'RID1',
      httpStatus: 200,
      endpoint: 'dmp/custom_audience/get/',
      requestPath: '/open_api/v1.3/dmp/custom_audience/get/',
      jsonPath: 'data.list.0.audience_id',
      tiktokMessage: 'data.list.0.audience_id: missing',
    });
    expect(e.message).toBe(
      'TikTok answered /open_api/v1.3/dmp/custom_audience/get/ with an unexpected shape (request_id RID1): data.list.0.audience_id: missing',
    );
    expect(e).toBeInstanceOf(TikTokError);
    expect(e).not.toBeInstanceOf(InvalidRequest);
    expect(e.toJSON()).toMatchObject({ type: 'UnexpectedResponse', endpoint: 'dmp/custom_audience/get/', requestId: 'RID1', jsonPath: 'data.list.0.audience_id' });
  });

  it('name = class name = type, and the names are exported for retry policies', () => {
    for (const type of ALL_TIKTOK_ERROR_TYPES) {
      const e = createTikTokError(type, { code: 1, tiktokMessage: 'm', requestId: 'r', httpStatus: 200, endpoint: 'x/' });
      expect(e.name).toBe(type);
      expect(e.constructor.name).toBe(type);
      expect(e.type).toBe(type);
      expect(JSON.parse(JSON.stringify(e))).toEqual({
        name: type,
        type,
        code: 1,
        message: 'm',
        requestId: 'r',
        httpStatus: 200,
        endpoint: 'x/',
        // Only UnexpectedResponse says where in the body the problem is; none given here.
        ...(type === 'UnexpectedResponse' ? { jsonPath: '(root)' } : {}),
      });
    }
    // UnexpectedResponse is not here: the client retries it a few times before giving up.
    expect(TIKTOK_NON_RETRYABLE_ERROR_TYPES).toEqual([
      TikTokErrorType.ReauthorizationRequired,
      TikTokErrorType.PermissionDenied,
      TikTokErrorType.InvalidRequest,
    ]);
  });
});
