import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../../src/audience-sync/cli';
import type { AudienceSyncPhase, AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { initialAudienceSyncStatus } from '../../../src/audience-sync/messages';

/* The progress display of `ttsync audience sync --wait`, on a terminal and in a log. */

const status = (phase: AudienceSyncPhase, extra: Partial<AudienceSyncStatus> = {}): AudienceSyncStatus => ({
  ...initialAudienceSyncStatus({ destinationId: 'd1', advertiserId: '1' }),
  phase,
  cycles: 1,
  currentRunId: 'run',
  ...extra,
});

function sink(isTTY: boolean) {
  let out = '';
  return { stream: { isTTY, write: (s: string) => ((out += s), true) }, text: () => out };
}

const cycle = [
  status('inspecting'),
  status('preparing'),
  status('preparing'),
  status('reauthorization_required', { advice: 'update the secret env:T, then signal "reauthorized"' }),
  status('reauthorization_required', { advice: 'update the secret env:T, then signal "reauthorized"' }),
  status('uploading'),
  status('waiting_for_processing', { audienceId: '77', isValid: false, coverNum: 0 }),
  status('synced', { audienceId: '77', isValid: true, coverNum: 1500, currentRunId: null }),
];

describe('audience sync progress line', () => {
  it('on a terminal redraws one line; a park prints its advice once on a line of its own', () => {
    const s = sink(true);
    const p = new ProgressLine(s.stream);
    for (const st of cycle) p.show(st);
    p.end();
    const text = s.text();
    expect(text.split('\r\x1b[2K').length - 1).toBe(cycle.length);
    expect(text.match(/reauthorization_required: update the secret env:T/g)).toHaveLength(1);
    expect(text.endsWith('[####################] synced  audience 77  cover 1500\n')).toBe(true);
  });

  it('in a log prints one line per phase change, the bar only moving forward', () => {
    const s = sink(false);
    const p = new ProgressLine(s.stream);
    for (const st of cycle) p.show(st);
    p.end();
    const lines = s.text().trimEnd().split('\n');
    expect(lines.map((l) => /^\[[#.]+\] (\w+)/.exec(l)?.[1] ?? l.split(':')[0])).toEqual([
      'inspecting',
      'preparing',
      'reauthorization_required',
      'reauthorization_required',
      'uploading',
      'waiting_for_processing',
      'synced',
    ]);
    expect(lines[3]).toBe('reauthorization_required: update the secret env:T, then signal "reauthorized"');
    const bars = lines.flatMap((l) => /^\[(#*)\.*\]/.exec(l)?.[1]?.length ?? []);
    expect([...bars].sort((a, b) => a - b)).toEqual(bars);
    expect(bars.at(-1)).toBe(20);
  });

  it('the wait for TikTok after the commit does not move the bar back; the next cycle starts it again', () => {
    const s = sink(false);
    const p = new ProgressLine(s.stream);
    for (const st of [
      status('committing'),
      status('waiting_for_processing'),
      status('synced', { currentRunId: null }),
      status('inspecting', { cycles: 2, currentRunId: 'run2' }),
    ])
      p.show(st);
    const bars = s.text().trimEnd().split('\n').flatMap((l) => /^\[(#*)\.*\]/.exec(l)?.[1]?.length ?? []);
    // committing is step 13 of 13 (19 of 20 marks), the wait keeps it, synced fills it, a new cycle restarts at its first step.
    expect(bars).toEqual([19, 19, 20, 1]);
  });
});
