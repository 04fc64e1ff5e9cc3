import type { FaultRule, Faults } from './options';
import { mulberry32 } from '../util/prng';

export type FaultKind = 'throttle' | 'error' | 'http503' | 'drop' | 'dropAfter' | null;


export class FaultInjector {
  private rand: () => number;
  /** How often each rule (by index) has applied since the faults were set: `times` counts down on it. */
  private applied = new Map<number, number>();

  constructor(private faults: Faults) {
    this.rand = mulberry32(faults.seed);
  }

  get config(): Faults {
    return this.faults;
  }

  configure(faults: Faults): void {
    this.faults = faults;
    this.rand = mulberry32(faults.seed);
    this.applied.clear();
  }

  /** The first rule that matches a request to `endpoint` with this JSON body, if any. */
  ruleFor(endpoint: string, body: Record<string, unknown>): FaultRule | undefined {
    const i = this.faults.rules.findIndex(
      (r, idx) => r.endpoint === endpoint && Object.entries(r.match ?? {}).every(([k, v]) => body[k] === v) && (r.times === undefined || (this.applied.get(idx) ?? 0) < r.times),
    );
    if (i < 0) return undefined;
    this.applied.set(i, (this.applied.get(i) ?? 0) + 1);
    return this.faults.rules[i];
  }

  /** Two draws per request, always, so the sequence depends only on the request count. */
  draw(path?: string): { kind: FaultKind; latencyMs: number } {
    const r = this.rand();
    const l = this.rand();
    const f = this.faults;
    if (f.paths && (path === undefined || !f.paths.includes(path))) return { kind: null, latencyMs: 0 };
    const latencyMs = f.latency > 0 && l < f.latencyShare ? f.latency : 0;
    let edge = f.throttle;
    if (r < edge) return { kind: 'throttle', latencyMs };
    if (r < (edge += f.error)) return { kind: 'error', latencyMs };
    if (r < (edge += f.http503)) return { kind: 'http503', latencyMs };
    if (r < (edge += f.drop)) return { kind: 'drop', latencyMs };
    if (r < (edge += f.dropAfter)) return { kind: 'dropAfter', latencyMs };
    return { kind: null, latencyMs };
  }
}
