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

/**
 * At most `budget()` grants in any window of 1 s (+ margin), where the budget may change at
 * any time (this process's share of a limit, as workers come and go): grants made under the
 * old budget still count, so a change never lets a burst through. A budget of 0 grants
 * nothing until it rises. Before `gate` resolves nothing is granted.
 */
export class AdjustableWindowLimiter implements RateLimiter {
  private grants: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly windowMs: number;

  constructor(
    private readonly budget: () => number,
    private readonly gate: () => Promise<void> = () => Promise.resolve(),
    marginMs = 50,
  ) {
    this.windowMs = 1000 + marginMs;
  }

  acquire(): Promise<void> {
    // One waiter at a time, in arrival order.
    const turn = this.queue.then(() => this.grant());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async grant(): Promise<void> {
    await this.gate();
    for (;;) {
      const limit = Math.floor(this.budget());
      const now = performance.now();
      this.grants = this.grants.filter((t) => t > now - this.windowMs);
      if (limit >= 1 && this.grants.length < limit) {
        this.grants.push(now);
        return;
      }
      const wait = limit >= 1 ? this.grants[this.grants.length - limit]! + this.windowMs - now : 500;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(wait))));
    }
  }
}

/**
 * This process's part of a per-app limit shared by the live worker processes, and when it may
 * begin to send. Parts are whole requests per second and add up to the limit: with N workers
 * sorted by identity, the one at rank k gets floor(q/N), plus one when k < q mod N.
 */
export interface WorkerShare {
  workers(): number;
  budget(qps: number): number;
  ready(): Promise<void>;
}

/** The rank-k part of `qps` among `n` workers (whole requests per second; all parts add up to floor(qps)). */
export function sharePart(qps: number, n: number, rank: number): number {
  const q = Math.floor(qps);
  return Math.floor(q / n) + (rank < q % n ? 1 : 0);
}

/** The window margin of TIKTOK_QPS_WORKERS=auto (see appRateLimiters). */
export const AUTO_MARGIN_MS = 200;

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
      const part = (qps: number) => () => processShare?.budget(qps) ?? Math.floor(qps);
      const gate = () => processShare?.ready() ?? Promise.resolve();
      // Parts add up to the whole limit, so the window's margin is all that absorbs the jitter
      // between a grant and TikTok receiving the request (event loop, network), in several
      // processes at once: 200 ms rather than a single process's 50.
      l = { default: new AdjustableWindowLimiter(part(cfg.qps), gate, AUTO_MARGIN_MS), events: new AdjustableWindowLimiter(part(cfg.eventsQps), gate, AUTO_MARGIN_MS) };
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
