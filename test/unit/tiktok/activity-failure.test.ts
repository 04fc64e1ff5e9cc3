import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../../src/tiktok/activityFailure';
import { Transient, UnexpectedResponse } from '../../../src/tiktok';

const init = { code: 0, requestId: 'RID', httpStatus: 200, endpoint: 'dmp/custom_audience/get/' };

describe('TikTok errors as activity failures', () => {
  it('UnexpectedResponse (already retried in the client) fails the activity for good, with its JSON path in the details', () => {
    const f = toActivityFailure(new UnexpectedResponse({ ...init, jsonPath: 'data.list.0.audience_details.is_valid', tiktokMessage: 'data.list.0.audience_details.is_valid: missing' }));
    expect(f).toBeInstanceOf(ApplicationFailure);
    const a = f as ApplicationFailure;
    expect(a.type).toBe('UnexpectedResponse');
    expect(a.nonRetryable).toBe(true);
    expect(a.message).toBe('TikTok answered dmp/custom_audience/get/ with an unexpected shape (request_id RID): data.list.0.audience_details.is_valid: missing');
    expect(a.details?.[0]).toMatchObject({ endpoint: 'dmp/custom_audience/get/', requestId: 'RID', jsonPath: 'data.list.0.audience_details.is_valid' });
  });

  it('Transient stays retryable', () => {
    const a = toActivityFailure(new Transient({ ...init, code: 50000, tiktokMessage: 'System error' })) as ApplicationFailure;
    expect(a.type).toBe('Transient');
    expect(a.nonRetryable).toBe(false);
  });
});
