import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { destinationArg, formatClosure, formatStatus } from '../../../src/audience-sync/cli';
import { initialAudienceSyncStatus } from '../../../src/audience-sync/messages';

describe('audience status and controls: what the operator types and reads', () => {
  it('takes a destination id or the workflow id copied from the UI', () => {
    expect(destinationArg('vip-buyers')).toBe('vip-buyers');
    expect(destinationArg('audience-sync:vip-buyers')).toBe('vip-buyers');
    expect(() => destinationArg('audience-sync:')).toThrow(InvalidArgumentError);
    expect(() => destinationArg('audience-sync-schedule:vip-buyers')).toThrow(/not a destination id or an audience sync workflow id/);
    // Not a slug: refused before any connection is tried.
    expect(() => destinationArg('bad id!')).toThrow('"bad id!" is not a destination id: it must be a slug: 1-64 lowercase letters, digits and "-", not starting or ending with "-"');
    expect(() => destinationArg('audience-sync:VIP')).toThrow(/"VIP" is not a destination id: it must be a slug/);
  });

  it('a workflow that ended shows its failure type and message', () => {
    const closed = {
      workflowId: 'audience-sync:vip-buyers',
      runId: 'r1',
      executionStatus: 'FAILED',
      closedAt: '2026-12-03T09:00:00.000Z',
      failure: { type: 'InvalidConfig', message: 'invalid workflow input: it looks like a destination config on its own' },
      lastStatus: null,
    };
    const text = formatClosure('vip-buyers', closed);
    expect(text).toContain('state        failed at 2026-12-03T09:00:00.000Z, not running');
    expect(text).toContain('failure      InvalidConfig: invalid workflow input: it looks like a destination config on its own');
    expect(text).not.toContain('last_phase');
    // A run that had a status no worker gave says why it is missing.
    expect(formatClosure('vip-buyers', { ...closed, lastStatusUnanswered: 'deadline exceeded' })).toContain('last_phase   not known: no worker answered (deadline exceeded)\n');
  });

  it('lists queued requests and what holds them', () => {
    const s = {
      ...initialAudienceSyncStatus({ destinationId: 'd', advertiserId: '70' }),
      paused: true,
      pendingBatches: 2,
      queued: { snapshot: { requestIds: ['r1'] }, batches: 2, flushRequested: true, flushRequestIds: ['r2'] },
    };
    expect(formatStatus(s)).toMatch(
      /queued +snapshot \(the config's storage\.snapshot\) \[request r1\]; 2 change batches \(flush asked\) \[request r2\] \(held: paused, signal resume\)\n/,
    );
    expect(formatStatus({ ...s, paused: false, queued: { batches: 0, flushRequested: false, flushRequestIds: [] } })).toMatch(/queued +nothing\n/);
  });

  it('a cycle that ended in error names the command that re-runs it; other phases do not', () => {
    const s = { ...initialAudienceSyncStatus({ destinationId: 'vip-buyers', advertiserId: '70' }), phase: 'error' as const };
    expect(formatStatus(s)).toMatch(/\nrerun +once the cause is fixed: ttsync rerun audience-sync:vip-buyers \(the failed cycle goes on from the step that failed\)\n$/);
    expect(formatStatus({ ...s, phase: 'synced' })).not.toContain('ttsync rerun');
    expect(formatStatus({ ...s, paused: true })).not.toContain('ttsync rerun');
  });
});
