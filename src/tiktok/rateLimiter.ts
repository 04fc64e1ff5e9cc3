/**
 * Client-side guard against causing 40100 ourselves.
 *
 * TikTok limits per app (QPS, QPM, QPD) and counts every request. One process can enforce
 * that exactly; several workers cannot without coordination. The design:
 *   - cluster-wide: every TikTok-calling activity runs on TaskQueues.tiktok, whose workers set
 *     maxTaskQueueActivitiesPerSecond (the Temporal server enforces it across all workers);
 *   - per worker: this limiter, sized qps / TIKTOK_QPS_WORKERS, so that even activities that
 *     make several calls (paging, retries) cannot push one app over its limit.
 * Anything implementing RateLimiter (e.g. a Redis-backed one) can be passed to the client.
 */
export interface RateLimiter {
  /** Resolves when one request may be sent now. */
  acquire(): Promise<void>;
}

export type RateBucket = 'default' | 'events';

/**
 * Sliding window: at most `limit` grants in any window of `windowMs`, the strictest reading
 * of "N per second" (a token bucket would let 2N through across a window edge). The margin
 * absorbs the jitter between our send time and TikTok's receive time: with 50 ms, the load run
 * (npm run load) saw 11 requests arrive within one second at the emulator from one loaded
 * worker, uploads and JSON edits leaving at uneven delays after their grant.
 */
export class SlidingWindowLimiter implements RateLimiter {
  private readonly grants: Float64Array;
  private next = 0;
  private readonly waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  readonly limit: number;
  readonly windowMs: number;

  constructor(ratePerSecond: number, marginMs = 150) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    this.limit = Math.max(1, Math.floor(ratePerSecond));
    this.windowMs = (this.limit / ratePerSecond) * 1000 + marginMs;
    this.grants = new Float64Array(this.limit).fill(-Infinity);
  }

  acquire(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.drain();
    });
  }

  private drain(): void {
    if (this.timer) return;
    while (this.waiters.length) {
      const now = performance.now();
      const oldest = this.grants[this.next] ?? -Infinity;
      const wait = oldest + this.windowMs - now;
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.drain();
        }, Math.ceil(wait));
        return;
      }
      this.grants[this.next] = now;
      this.next = (this.next + 1) % this.limit;
      this.waiters.shift()?.();
    }
  }
}

export interface AppLimiterConfig {
  qps: number;
  eventsQps: number;
  /** Workers sharing this app's limit; each worker's guard gets 1/workers of it. */
  workers: number;
}

export type AppRateLimiters = Record<RateBucket, RateLimiter>;

const registry = new Map<string, AppRateLimiters>();

/**
 * One limiter pair per app per process: every client created for the same app (and the same
 * settings) shares it, so parallel activities in one worker do not each take the full QPS.
 */
export function appRateLimiters(appId: string, cfg: AppLimiterConfig): AppRateLimiters {
  const key = `${appId}\u0000${cfg.qps}\u0000${cfg.eventsQps}\u0000${cfg.workers}`;
  let l = registry.get(key);
  if (!l) {
    l = {
      default: new SlidingWindowLimiter(cfg.qps / cfg.workers),
      events: new SlidingWindowLimiter(cfg.eventsQps / cfg.workers),
    };
    registry.set(key, l);
  }
  return l;
}
