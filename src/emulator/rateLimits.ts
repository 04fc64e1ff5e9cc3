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

export class RateLimits {
  private windows = new Map<string, AppWindow>();

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
    return w.admit(now);
  }
}
