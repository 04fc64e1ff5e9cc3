import { describe, expect, it } from 'vitest';
import { runLoad } from '../../../scripts/chaos/loadRun';

/*
 * The CI version of `npm run load`: 20 small destinations (the npm script runs 100) on ONE
 * `ttsync worker` process against the emulator's 10 requests/s per app, two rounds of
 * snapshots on a cadence of at least destinations × TikTok calls per cycle ÷ QPS. The
 * emulator measures the arrival rate itself (GET /_emulator/rates): no 1 s window may hold
 * more than 10 requests and none may be refused; every audience ends exact (digests computed
 * from the input files), every round reaches every destination within its cadence, and each
 * workflow's history stays bounded because every cycle continues as new.
 */

describe('load held', () => {
  it('20 destinations on one worker at 10 QPS: exact, never over the limit, none starved, history bounded', { timeout: 300_000 }, async () => {
    const lines: string[] = [];
    const r = await runLoad({ destinations: 20, rounds: 2, log: (l) => lines.push(l) });
    const report = [...lines, ...r.report].join('\n');
    process.stdout.write(`${report}\n`);
    expect(r.rate, report).not.toBeNull();
    expect(r.rate!.requests).toBeGreaterThan(20 * 2 * 4);
    expect(r.rate!.peakPerSecond, report).toBeLessThanOrEqual(10);
    expect(r.rate!.rateLimited, report).toBe(0);
    expect({ exact: r.exact, lost: r.lost, unexpected: r.unexpected }, report).toEqual({ exact: 20, lost: 0, unexpected: 0 });
    expect(r.starved, report).toEqual([]);
    expect(r.cyclesMin).toBeGreaterThanOrEqual(2);
    // Two cycles and the idle run after them per workflow; each run a cycle's worth of events.
    expect(r.history.maxRunsPerWorkflow).toBeLessThanOrEqual(4);
    expect(r.history.maxEventsPerRun, report).toBeLessThan(400);
    expect(r.ok, report).toBe(true);
  });
});
