import type { Faults } from './options';

export type FaultKind = 'throttle' | 'error' | 'http503' | 'drop' | null;

/** mulberry32: tiny, fast, good enough to spread faults; seeded so runs repeat. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private rand: () => number;

  constructor(private faults: Faults) {
    this.rand = mulberry32(faults.seed);
  }

  get config(): Faults {
    return this.faults;
  }

  configure(faults: Faults): void {
    this.faults = faults;
    this.rand = mulberry32(faults.seed);
  }

  /** Two draws per request, always, so the sequence depends only on the request count. */
  draw(): { kind: FaultKind; latencyMs: number } {
    const r = this.rand();
    const l = this.rand();
    const f = this.faults;
    const latencyMs = f.latency > 0 && l < f.latencyShare ? f.latency : 0;
    let edge = f.throttle;
    if (r < edge) return { kind: 'throttle', latencyMs };
    if (r < (edge += f.error)) return { kind: 'error', latencyMs };
    if (r < (edge += f.http503)) return { kind: 'http503', latencyMs };
    if (r < (edge += f.drop)) return { kind: 'drop', latencyMs };
    return { kind: null, latencyMs };
  }
}
