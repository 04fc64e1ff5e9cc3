export type Bucket = 'default' | 'events' | 'segment';

/**
 * TikTok's per-app limits: QPS exact over a sliding second (a ring of the last N admitted
 * request times), QPM over sixty one-second buckets. Only admitted requests count, so a
 * client that backs off after 40100 gets through again.
 */
class AppWindow {
  private ring: Float64Array;
  private idx = 0;
  private readonly secStamp = new Float64Array(60).fill(-1);
  private readonly secCount = new Uint32Array(60);

  constructor(
    private readonly qps: number,
    private readonly qpm: number,
  ) {
    this.ring = new Float64Array(Math.max(1, Math.floor(qps))).fill(-Infinity);
  }

  /** null when admitted (and recorded), else which limit was hit. */
  admit(now: number): 'QPS' | 'QPM' | null {
    if ((this.ring[this.idx] ?? -Infinity) > now - 1000) return 'QPS';
    const sec = Math.floor(now / 1000);
    let minute = 0;
    for (let i = 0; i < 60; i++) if (this.secStamp[i]! > sec - 60) minute += this.secCount[i]!;
    if (minute >= this.qpm) return 'QPM';
    this.ring[this.idx] = now;
    this.idx = (this.idx + 1) % this.ring.length;
    const b = sec % 60;
    if (this.secStamp[b] !== sec) {
      this.secStamp[b] = sec;
      this.secCount[b] = 0;
    }
    this.secCount[b]!++;
    return null;
  }
}

/** What one app sent to one bucket, as the emulator saw it arrive (refused requests included). */
export interface ObservedRate {
  requests: number;
  /** The most requests that arrived within any 1,000 ms (a sliding window, not calendar seconds). */
  peakPerSecond: number;
  /** When that peak was reached (ISO time). */
  peakAt: string | null;
  /** Requests refused for the QPS or QPM limit (code 40100). */
  rateLimited: number;
  /** The limit in force when last configured. */
  limitQps: number;
}

/**
 * Measures the arrival rate per app and bucket, so a load test can read from TikTok's side
 * whether a client kept to its limit (the limiter above only says what it admitted).
 */
class ArrivalMeter {
  private times: number[] = [];
  private head = 0;
  readonly rate: ObservedRate;

  constructor(limitQps: number) {
    this.rate = { requests: 0, peakPerSecond: 0, peakAt: null, rateLimited: 0, limitQps };
  }

  arrive(now: number): void {
    this.rate.requests++;
    this.times.push(now);
    while ((this.times[this.head] ?? now) <= now - 1000) this.head++;
    // Compact now and then instead of shifting on every request.
    if (this.head > 4096) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    const inWindow = this.times.length - this.head;
    if (inWindow > this.rate.peakPerSecond) {
      this.rate.peakPerSecond = inWindow;
      this.rate.peakAt = new Date(now).toISOString();
    }
  }
}

export class RateLimits {
  private windows = new Map<string, AppWindow>();
  private meters = new Map<string, { appId: string; bucket: Bucket; meter: ArrivalMeter }>();

  constructor(private limits: Record<Bucket, { qps: number; qpm: number }>) {}

  configure(limits: Record<Bucket, { qps: number; qpm: number }>): void {
    this.limits = limits;
    this.windows.clear();
  }

  admit(appId: string, bucket: Bucket, now: number): 'QPS' | 'QPM' | null {
    const key = `${appId}\u0000${bucket}`;
    let w = this.windows.get(key);
    if (!w) {
      w = new AppWindow(this.limits[bucket].qps, this.limits[bucket].qpm);
      this.windows.set(key, w);
    }
    let m = this.meters.get(key);
    if (!m) {
      m = { appId, bucket, meter: new ArrivalMeter(this.limits[bucket].qps) };
      this.meters.set(key, m);
    }
    m.meter.arrive(now);
    const hit = w.admit(now);
    if (hit) m.meter.rate.rateLimited++;
    return hit;
  }

  /** Arrival rates per app and bucket since the start or the last resetObserved(). */
  observed(): Record<string, Partial<Record<Bucket, ObservedRate>>> {
    const out: Record<string, Partial<Record<Bucket, ObservedRate>>> = {};
    for (const { appId, bucket, meter } of this.meters.values()) (out[appId] ??= {})[bucket] = { ...meter.rate };
    return out;
  }

  resetObserved(): void {
    this.meters.clear();
  }
}
