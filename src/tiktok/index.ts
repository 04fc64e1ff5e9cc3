export * from './errorTypes';
export * from './errors';
export * from './config';
export * from './rateLimiter';
export * from './schemas';
export * from './types';
export { TikTokClient, buildSegmentBatch, MAX_EVENTS_PER_REQUEST, type TikTokClientOptions } from './client';
export { TikTokMetricNames, tiktokCallMetrics, type TikTokCallObserver, type TikTokCallRecord } from './metrics';
export { encodeQuery, type RetryInfo, type RetryPolicy } from './transport';
