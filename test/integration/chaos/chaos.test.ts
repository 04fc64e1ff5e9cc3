import { describe, expect, it } from 'vitest';
import { runChaos } from '../../../scripts/chaos/chaosRun';

/*
 * The CI version of `npm run chaos`: the same harness for about a minute and a quarter.
 * Audience syncs, an events export, a SAN migration of two accounts, a retention dataset run
 * daily and a usage report (run twice) work on two `ttsync worker` processes (from dist/) that
 * are SIGKILLed and restarted at random, on a Temporal dev server of its own that is
 * SIGKILLed and restarted on its SQLite file, while the emulator throttles, fails, drops
 * (before and after the edit took effect) and slows TikTok answers and a proxy in front of
 * fake-gcs-server answers 503 and drops connections. Then every audience must hold exactly
 * the newest snapshot's digests and the event store every row once; the partner-config store,
 * BI mapping files and TikTok's campaigns what the migration must leave; every partition the
 * policy's bytes, the aggregate its merge with per-day totals kept, the audit one record per
 * run; the report the lines computed from the emulator's seed; every notice one email (Mailpit)
 * to the right people. All computed from the inputs with node:crypto and parsing of its own
 * (scripts/chaos/expected.ts), and every sync and export workflow must still run.
 */

describe('chaos: kills and faults lose and duplicate nothing', () => {
  it('audience syncs, an events export, a SAN migration, retention and a usage report under worker and server SIGKILLs, TikTok and GCS faults, end exact', { timeout: 300_000 }, async () => {
    const lines: string[] = [];
    const r = await runChaos({
      durationMs: 60_000,
      audiences: 3,
      eventsDestinations: 1,
      workers: 2,
      seed: 18,
      workerKillEveryMs: 6_000,
      serverKillEveryMs: 30_000,
      feedEveryMs: 3_000,
      settleTimeoutMs: 90_000,
      // Signals only: the updateConfig Update can wedge a destination on replay (an SDK bug the
      // 10-minute run found, README "Chaos and load held"); `npm run chaos` keeps sending it.
      configUpdates: false,
      log: (l) => lines.push(l),
    });
    process.stdout.write(`${[...lines, ...r.report].join('\n')}\n`);
    expect(r.kills.workers, r.report.join('\n')).toBeGreaterThan(0);
    expect(r.kills.server).toBeGreaterThan(0);
    expect(Object.values(r.tiktokFaults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(Object.values(r.gcsFaults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(r.settled, r.report.join('\n')).toBe(true);
    expect(r.closedWorkflows).toEqual([]);
    expect(r.audiences.every((a) => a.audiences === 1)).toBe(true);
    expect(r.lifecycles.map((c) => [c.lifecycle, c.finished]), r.report.join('\n')).toEqual([
      ['san-migration', true],
      ['retention', true],
      ['usage-report', true],
    ]);
    expect(r.notices.duplicated).toEqual([]);
    expect({ lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected }, r.report.join('\n')).toEqual({ lost: 0, duplicated: 0, unexpected: 0 });
  });
});
