import type { MetricMeter, MetricTags } from '@temporalio/common';

/*
 * ttsync's metrics of TikTok calls, recorded on whatever meter the caller injects (a worker's
 * activities pass the SDK's, so they reach the worker's Prometheus endpoint beside the SDK's
 * own). The kernel knows only the meter interface, never where the numbers go.
 */

export const TikTokMetricNames = {
  /** Every HTTP request sent (each in-client retry is one), by endpoint, code and outcome. */
  requests: 'ttsync_tiktok_requests',
  /** Milliseconds from sending a request to reading its answer (rate-limiter waits excluded), same labels. */
  latency: 'ttsync_tiktok_request_latency',
  /** Requests TikTok refused for its rate limits (40100, HTTP 429), by endpoint. */
  throttles: 'ttsync_tiktok_throttles',
  /** Milliseconds a request waited for ttsync's own per-app rate limiter before it was sent, by endpoint. */
  rateLimitWait: 'ttsync_tiktok_rate_limit_wait',
} as const;

/** One request as the transport saw it. No request data: endpoint, code and time only. */
export interface TikTokCallRecord {
  /** API path relative to the version, e.g. `dmp/custom_audience/update/`. */
  endpoint: string;
  /** TikTok's envelope code (`0`, `40100`, …), else `http_<status>`, else `network`. */
  code: string;
  /** `ok`, or the error type the answer was classified as (`Throttled`, `Transient`, …). */
  outcome: string;
  latencyMs: number;
  /** Time spent in ttsync's own rate limiter before sending. */
  queuedMs: number;
}

export type TikTokCallObserver = (call: TikTokCallRecord) => void;

/** An observer that records each call on `meter`. */
export function tiktokCallMetrics(meter: MetricMeter): TikTokCallObserver {
  const requests = meter.createCounter(TikTokMetricNames.requests, 'requests', 'TikTok API requests sent, by endpoint, code and outcome');
  const latency = meter.createHistogram(TikTokMetricNames.latency, 'float', 'ms', 'TikTok API request latency in milliseconds, by endpoint, code and outcome');
  const throttles = meter.createCounter(TikTokMetricNames.throttles, 'requests', 'TikTok API requests refused for rate limits, by endpoint');
  const queued = meter.createHistogram(TikTokMetricNames.rateLimitWait, 'float', 'ms', "Milliseconds a TikTok request waited for ttsync's own rate limiter, by endpoint");
  return (call) => {
    const tags: MetricTags = { endpoint: call.endpoint, code: call.code, outcome: call.outcome };
    requests.add(1, tags);
    latency.record(call.latencyMs, tags);
    queued.record(call.queuedMs, { endpoint: call.endpoint });
    if (call.outcome === 'Throttled') throttles.add(1, { endpoint: call.endpoint });
  };
}
