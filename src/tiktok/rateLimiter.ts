/**
 * Client-side guard against causing 40100 ourselves.
 *
 * TikTok limits per app (QPS, QPM, QPD) and counts every request, whichever worker sends it.
 * One process enforces that exactly; several share it: each process's limiter takes
 * qps / N, so that N processes together never exceed qps in any window. N is
 *   - TIKTOK_QPS_WORKERS=<n>: fixed by the operator (must be at least the real count), or
 *   - TIKTOK_QPS_WORKERS=auto: the live worker processes, as the Temporal server lists them
 *     (src/temporal/workerShare.ts): no process to trust, nothing but Temporal to share.
 * Server-side maxTaskQueueActivitiesPerSecond cannot do this alone: it counts activity starts,
 * and one activity makes several requests (paging, uploads, in-client retries).
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
 * absorbs network jitter between our send time and TikTok's receive time.
 */
export class SlidingWindowLimiter implements RateLimiter {
  private readonly grants: Float64Array;
  private next = 0;
  private readonly waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  readonly limit: number;
  readonly windowMs: number;

  constructor(ratePerSecond: number, marginMs = 50) {
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

/**
 * At most floor(rate) grants in any window of 1 s (+ margin), where the rate may change at
 * any time (the share of a limit when workers come and go): grants made under the old rate
 * still count, so a change never lets a burst through. Before `gate` resolves nothing is granted.
 */
export class AdjustableWindowLimiter implements RateLimiter {
  private grants: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ratePerSecond: () => number,
    private readonly gate: () => Promise<void> = () => Promise.resolve(),
    private readonly marginMs = 50,
  ) {}

  acquire(): Promise<void> {
    // One waiter at a time, in arrival order.
    const turn = this.queue.then(() => this.grant());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async grant(): Promise<void> {
    await this.gate();
    for (;;) {
      const rate = this.ratePerSecond();
      if (!(rate > 0)) throw new RangeError('rate must be > 0');
      const limit = Math.max(1, Math.floor(rate));
      const windowMs = (limit / rate) * 1000 + this.marginMs;
      const now = performance.now();
      // Keep a minute of history: a lower rate means a longer window.
      while (this.grants.length && this.grants[0]! < now - 60_000) this.grants.shift();
      const inWindow = this.grants.filter((t) => t > now - windowMs);
      if (inWindow.length < limit) {
        this.grants.push(now);
        return;
      }
      const wait = inWindow[inWindow.length - limit]! + windowMs - now;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(wait))));
    }
  }
}

/** How many worker processes share each app's limit now, and when this one may begin to send. */
export interface WorkerShare {
  workers(): number;
  ready(): Promise<void>;
}

let processShare: WorkerShare | undefined;

/** Set by the worker when TIKTOK_QPS_WORKERS=auto; without it (a CLI command) the process counts as one. */
export function setProcessWorkerShare(share: WorkerShare | undefined): void {
  processShare = share;
}

export interface AppLimiterConfig {
  qps: number;
  eventsQps: number;
  /** Workers sharing this app's limit (each worker's guard gets 1/workers of it), or 'auto': the live count. */
  workers: number | 'auto';
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
    if (cfg.workers === 'auto') {
      const n = () => Math.max(1, processShare?.workers() ?? 1);
      const gate = () => processShare?.ready() ?? Promise.resolve();
      l = { default: new AdjustableWindowLimiter(() => cfg.qps / n(), gate), events: new AdjustableWindowLimiter(() => cfg.eventsQps / n(), gate) };
    } else {
      l = {
        default: new SlidingWindowLimiter(cfg.qps / cfg.workers),
        events: new SlidingWindowLimiter(cfg.eventsQps / cfg.workers),
      };
    }
    registry.set(key, l);
  }
  return l;
}
