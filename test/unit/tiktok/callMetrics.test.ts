import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { TikTokClient, TikTokMetricNames } from '../../../src/tiktok';

/** A meter that keeps every value it is given, by metric name. */
function recordingMeter() {
  const seen: Array<{ name: string; value: number; tags: MetricTags }> = [];
  const metric = (name: string) => ({
    name,
    kind: 'counter' as const,
    valueType: 'int' as const,
    add: (value: number, tags: MetricTags = {}) => void seen.push({ name, value, tags }),
    record: (value: number, tags: MetricTags = {}) => void seen.push({ name, value, tags }),
    set: (value: number, tags: MetricTags = {}) => void seen.push({ name, value, tags }),
    withTags: () => metric(name),
  });
  const meter: MetricMeter = {
    createCounter: (name) => metric(name) as unknown as MetricCounter,
    createHistogram: (name) => metric(name) as unknown as MetricHistogram,
    createGauge: (name) => metric(name) as unknown as MetricGauge,
    withTags: () => meter,
  };
  return { meter, seen };
}

const envelope = (code: number, data: unknown = {}) => new Response(JSON.stringify({ code, message: code ? 'no' : 'OK', request_id: 'r', data }), { status: 200 });

/** A client whose requests get `answers` in turn (an Error is a network failure). */
function clientWith(answers: Array<Response | Error>, meter: MetricMeter, token: string | null = 'test-token-0123') {
  let i = 0;
  return new TikTokClient({
    ...(token !== null ? { accessToken: token } : {}),
    appId: `metrics-${Math.random()}`,
    env: { TIKTOK_API_BASE_URL: 'http://tiktok.invalid/open_api/v1.3', TIKTOK_QPS: 1000 },
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    meter,
    fetch: (async () => {
      const a = answers[i++];
      if (!a) throw new Error('no more answers');
      if (a instanceof Error) throw a;
      return a;
    }) as typeof fetch,
  });
}

describe('TikTok call metrics', () => {
  it('counts each request sent, retries included, by endpoint, code and outcome, with its latency; throttles apart', async () => {
    const { meter, seen } = recordingMeter();
    // Throttled (TikTok's 40100: retried after at least 1 s), then a 503, then success.
    const c = clientWith([envelope(40100), new Response('busy', { status: 503 }), envelope(0, { list: [] })], meter);
    await c.getAudiences({ advertiserId: '1', audienceIds: ['2'] });
    const requests = seen.filter((s) => s.name === TikTokMetricNames.requests);
    expect(requests.map((s) => [s.value, s.tags])).toEqual([
      [1, { endpoint: 'dmp/custom_audience/get/', code: '40100', outcome: 'Throttled' }],
      [1, { endpoint: 'dmp/custom_audience/get/', code: 'http_503', outcome: 'Transient' }],
      [1, { endpoint: 'dmp/custom_audience/get/', code: '0', outcome: 'ok' }],
    ]);
    const latencies = seen.filter((s) => s.name === TikTokMetricNames.latency);
    expect(latencies.map((s) => s.tags)).toEqual(requests.map((s) => s.tags));
    expect(latencies.every((s) => s.value >= 0)).toBe(true);
    const queued = seen.filter((s) => s.name === TikTokMetricNames.rateLimitWait);
    expect(queued.map((s) => s.tags)).toEqual([0, 1, 2].map(() => ({ endpoint: 'dmp/custom_audience/get/' })));
    expect(queued.every((s) => s.value >= 0)).toBe(true);
    expect(seen.filter((s) => s.name === TikTokMetricNames.throttles).map((s) => [s.value, s.tags])).toEqual([[1, { endpoint: 'dmp/custom_audience/get/' }]]);
  }, 20_000);

  it('names a network failure `network`, and counts nothing for a request never sent', async () => {
    const { meter, seen } = recordingMeter();
    const c = clientWith([new TypeError('fetch failed')], meter);
    // Creates are not retried after an unknown outcome: one request.
    await expect(c.createAudience({ advertiserId: '1', name: 'n', calculateType: 'EMAIL_SHA256', filePaths: ['p'] })).rejects.toThrow();
    expect(seen.filter((s) => s.name === TikTokMetricNames.requests).map((s) => s.tags)).toEqual([{ endpoint: 'dmp/custom_audience/create/', code: 'network', outcome: 'Transient' }]);

    const none = recordingMeter();
    await expect(clientWith([], none.meter, null).getUserInfo()).rejects.toThrow(/no access token/);
    expect(none.seen).toEqual([]);
  });
});
