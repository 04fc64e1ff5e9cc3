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
  /**
   * Resolves when one request may be sent now. What it resolves with, when a function, is
   * called once that request has its answer or has failed (the transport always calls it).
   */
  acquire(): Promise<RateRelease | void>;
}

/** Ends a request's hold on its limiter: it was answered, or it failed. Calling it again does nothing. */
export type RateRelease = () => void;

export type RateBucket = 'default' | 'events';

/**
 * A window's margin over its nominal length. The window is held from a request's grant until
 * its answer, so the margin absorbs no network or event-loop delay (see AnsweredWindow): only
 * clock granularity, ours against TikTok's.
 */
export const WINDOW_MARGIN_MS = 10;

/**
 * At most `capacity()` requests in any window of `windowMs`, counted where TikTok counts them:
 * when they arrive. We cannot see the arrival, only that it lies between our grant and our
 * reading of the answer; so a request holds its place from its grant until `windowMs` after
 * its answer (or its failure). Had `capacity + 1` requests arrived within one window [x, x + W),
 * each would have been granted before x + W (it arrived after its grant) and would hold its
 * place until x + W at least (it was answered after it arrived): all of them would hold a place
 * at once, which the limiter never allows. So that holds whatever the delays between grant,
 * sending and arrival. A window counted from grants alone needs a margin for those delays, and no
 * margin is enough on a loaded worker: with 150 ms, a run on a machine at load 7 saw 11
 * requests arrive within one second against a limit of 10.
 *
 * The price is throughput for slow requests: a 3 s upload holds its place 4 s. Fast calls gain,
 * as the window has no margin for jitter any more.
 */
class AnsweredWindow {
  private inFlight = 0;
  /** When each answered request's place frees, in order: answers come in time order and the window is fixed. */
  private readonly frees: number[] = [];
  private readonly waiters: Array<(release: RateRelease) => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly capacity: () => number,
    readonly windowMs: number,
    /** How often to look at the capacity again while a waiter is kept out by it alone (it may rise without notice). */
    private readonly recheckMs: number | undefined,
  ) {}

  take(): Promise<RateRelease> {
    return new Promise<RateRelease>((resolve) => {
      this.waiters.push(resolve);
      this.drain();
    });
  }

  private drain(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = performance.now();
    while (this.frees.length && this.frees[0]! <= now) this.frees.shift();
    const cap = Math.floor(this.capacity());
    while (this.waiters.length && this.inFlight + this.frees.length < cap) {
      this.inFlight++;
      this.waiters.shift()!(this.releaser());
    }
    if (!this.waiters.length) return;
    // Someone waits: wake at the next place to free, or to look at the capacity again. A place
    // still in flight wakes us when it is released.
    const next = this.frees.length ? this.frees[0]! - now : Infinity;
    const wait = Math.min(next, this.recheckMs ?? Infinity);
    if (wait !== Infinity) this.timer = setTimeout(() => this.drain(), Math.max(1, Math.ceil(wait)));
  }

  private releaser(): RateRelease {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.frees.push(performance.now() + this.windowMs);
      if (this.waiters.length) this.drain();
    };
  }
}

/**
 * A fixed rate: at most `limit` requests in any window of `windowMs`, the strictest reading of
 * "N per second" (a token bucket would let 2N through across a window edge), held as
 * AnsweredWindow explains. A fractional rate widens the window: 0.5/s is one per 2 s.
 */
export class SlidingWindowLimiter implements RateLimiter {
  private readonly window: AnsweredWindow;
  readonly limit: number;
  readonly windowMs: number;

  constructor(ratePerSecond: number, marginMs = WINDOW_MARGIN_MS) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    const limit = Math.max(1, Math.floor(ratePerSecond));
    this.limit = limit;
    this.windowMs = (limit / ratePerSecond) * 1000 + marginMs;
    this.window = new AnsweredWindow(() => limit, this.windowMs, undefined);
  }

  acquire(): Promise<RateRelease> {
    return this.window.take();
  }
}

/**
 * At most `budget()` requests in any window of 1 s (+ margin), held as AnsweredWindow explains,
 * where the budget may change at any time (this process's share of a limit, as workers come
 * and go): places taken under the old budget still count, so a change never lets a burst
 * through. A budget of 0 grants nothing until it rises. Before `gate` resolves nothing is granted.
 */
export class AdjustableWindowLimiter implements RateLimiter {
  private readonly window: AnsweredWindow;

  constructor(
    budget: () => number,
    private readonly gate: () => Promise<void> = () => Promise.resolve(),
    marginMs = WINDOW_MARGIN_MS,
  ) {
    this.window = new AnsweredWindow(budget, 1000 + marginMs, 250);
  }

  async acquire(): Promise<RateRelease> {
    // Waiters that pass the gate together queue in the order they called.
    await this.gate();
    return this.window.take();
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

/**
 * With TIKTOK_QPS_WORKERS=auto, how much longer than one second a new worker waits, after every
 * other worker has seen it, before its first request: the places the others took under their
 * old, larger parts must have left the window first (src/temporal/workerShare.ts).
 */
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
      // Parts add up to the whole limit: each process keeps its own arrivals within its part
      // (AnsweredWindow), so together they keep within the limit, whatever their delays.
      l = { default: new AdjustableWindowLimiter(part(cfg.qps), gate), events: new AdjustableWindowLimiter(part(cfg.eventsQps), gate) };
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
