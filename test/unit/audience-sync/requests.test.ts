import { describe, expect, it } from 'vitest';
import { initialAudienceSyncStatus, type AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { SyncRequests } from '../../../workflows/audience-sync/requests';

/*
 * The audience workflow's request queue: which cycle runs next, what a signal asks for, and
 * which requests each cycle answers. Pure, so every rule is checked here without a server.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1);
const snap = (name: string) => ({ uri: `file:///exports/${name}.csv` });

function queue(opts: { storageSnapshot?: boolean; status?: Partial<AudienceSyncStatus> } = {}) {
  const status = { ...initialAudienceSyncStatus({ destinationId: 'd', advertiserId: '70' }), ...opts.status };
  return new SyncRequests(status, undefined, T0, HOUR, () => opts.storageSnapshot ?? false);
}
const all = () => true;

describe('the audience sync request queue', () => {
  it('nothing asked, nothing runs; the cadence comes an hour after start', () => {
    const q = queue();
    expect(q.next()).toBeNull();
    expect(q.msUntilCadence(T0)).toBe(HOUR);
    expect(q.view()).toMatchObject({ pendingBatches: 0, nextRunAt: new Date(T0 + HOUR).toISOString(), answered: [] });
  });

  it('pending change batches run before a snapshot, all in one cycle, in order', () => {
    const q = queue();
    q.snapshotLanded({ snapshot: snap('s1'), requestId: 'r-snap' });
    q.addChangeBatch({ enters: snap('e1') });
    q.addChangeBatch({ exits: snap('x1') });
    // Unannounced sizes wait for a trigger: only the snapshot would run.
    expect(q.next()?.kind).toBe('snapshot');
    q.syncNow(undefined, 'now');
    const first = q.take(all);
    expect(first).toMatchObject({ kind: 'changes', batches: [{ enters: snap('e1') }, { exits: snap('x1') }] });
    q.finish(first!, true);
    expect(q.take(all)).toMatchObject({ kind: 'snapshot', snapshot: snap('s1'), requestIds: ['r-snap'] });
    expect(q.next()).toBeNull();
  });

  it('old runs took one batch per cycle: take honours that when told', () => {
    const q = queue();
    q.addChangeBatch({ enters: snap('e1') });
    q.addChangeBatch({ enters: snap('e2') });
    q.syncNow({ requestId: 'r1' }, 'now');
    const one = q.take(() => false);
    expect(one).toMatchObject({ kind: 'changes', batches: [{ enters: snap('e1') }] });
    // The request is answered by the flush that empties the queue, not by this one.
    expect(one?.requestIds).toBeUndefined();
    q.finish(one!, true);
    const two = q.take(() => false);
    expect(two).toMatchObject({ batches: [{ enters: snap('e2') }], requestIds: ['r1'] });
  });

  it('a failed change cycle puts its batches back at the head of the queue', () => {
    const q = queue();
    q.addChangeBatch({ enters: snap('e1'), users: 500_000 });
    const req = q.take(all)!;
    q.addChangeBatch({ enters: snap('e2') });
    q.finish(req, false);
    expect(q.pending.map((b) => b.enters?.uri)).toEqual([snap('e1').uri, snap('e2').uri]);
  });

  it('a newer snapshot supersedes a waiting one and answers its requests too', () => {
    const q = queue();
    q.snapshotLanded({ snapshot: snap('old'), requestId: 'r-old' });
    q.snapshotLanded({ snapshot: snap('new'), requestId: 'r-new' });
    const req = q.take(all)!;
    expect(req).toMatchObject({ kind: 'snapshot', snapshot: snap('new'), requestIds: ['r-old', 'r-new'] });
    q.finish(req, true);
    expect(q.view().answered).toEqual([
      { requestId: 'r-old', cycle: 0, ok: true },
      { requestId: 'r-new', cycle: 0, ok: true },
    ]);
  });

  it('syncNow with nothing to sync says so and answers at once; with storage.snapshot it re-syncs it', () => {
    const bare = queue();
    bare.syncNow({ requestId: 'r' }, '2026-12-01T00:00:00.000Z');
    expect(bare.status.lastError).toMatchObject({ type: 'NothingToSync' });
    expect(bare.view().answered).toEqual([{ requestId: 'r', cycle: 0, ok: false }]);
    const stored = queue({ storageSnapshot: true });
    stored.syncNow({ requestId: 'r' }, 'now');
    // Asked for explicitly: not onCadence, so it runs even if the export did not change.
    expect(stored.take(all)).toEqual({ kind: 'snapshot', requestIds: ['r'] });
  });

  it('the cadence flushes pending batches and re-syncs storage.snapshot only if it changed (onCadence)', () => {
    const q = queue({ storageSnapshot: true });
    q.addChangeBatch({ enters: snap('e1') });
    q.onCadence(T0 + HOUR - 1);
    expect(q.next()).toBeNull();
    q.onCadence(T0 + HOUR);
    expect(q.take(all)?.kind).toBe('changes');
    expect(q.take(all)).toEqual({ kind: 'snapshot', onCadence: true });
    expect(q.msUntilCadence(T0 + HOUR)).toBe(HOUR);
  });

  it('paused, or parked on a missing audience, nothing runs until resume or recreate', () => {
    const paused = queue({ status: { paused: true } });
    paused.snapshotLanded({ snapshot: snap('s') });
    expect(paused.next()).toBeNull();
    const missing = queue({ status: { phase: 'audience_missing', audienceId: '71' } });
    missing.snapshotLanded({ snapshot: snap('s') });
    expect(missing.next()).toBeNull();
    missing.recreate();
    expect(missing.status.audienceId).toBeNull();
    expect(missing.next()?.kind).toBe('snapshot');
    // A recreate alone re-states the applied state.
    const alone = queue({ status: { phase: 'audience_missing' } });
    alone.recreate();
    expect(alone.take(all)).toEqual({ kind: 'changes', batches: [], requestIds: [] });
  });

  it('what continue-as-new carries comes back as the same queue', () => {
    const q = queue({ storageSnapshot: true });
    q.addChangeBatch({ enters: snap('e1') });
    q.snapshotLanded({ snapshot: snap('s1'), requestId: 'r1' });
    q.recreate();
    const carried = q.carry();
    const again = new SyncRequests(carried.status, carried, T0 + 5, HOUR, () => true);
    expect(again.carry()).toEqual(carried);
    expect(again.next()).toEqual(q.next());
  });

  it('keeps the last 20 answers', () => {
    const q = queue();
    for (let i = 0; i < 25; i++) q.syncNow({ requestId: `r${i}` }, 'now');
    expect(q.view().answered?.map((a) => a.requestId)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i + 5}`));
  });

  it('status lists what waits for a cycle: held while paused, gone once taken', () => {
    const q = queue({ storageSnapshot: true, status: { paused: true } });
    expect(q.view().queued).toEqual({ batches: 0, flushRequested: false, flushRequestIds: [] });
    q.addChangeBatch({ enters: snap('e1') });
    q.syncNow({ requestId: 'r-now' }, 'now');
    q.snapshotLanded({ snapshot: snap('s2'), requestId: 'r-snap' });
    // Paused: nothing runs, and status says what is waiting (ids and URIs only).
    expect(q.next()).toBeNull();
    expect(q.view()).toMatchObject({
      pendingBatches: 1,
      queued: { snapshot: { uri: snap('s2').uri, requestIds: ['r-now', 'r-snap'] }, batches: 1, flushRequested: true, flushRequestIds: [] },
    });
    q.recreate();
    expect(q.view().queued?.recreate).toBe(true);
    q.status.paused = false;
    q.finish(q.take(all)!, true);
    expect(q.view().queued).toMatchObject({ batches: 0, flushRequested: false, snapshot: { uri: snap('s2').uri } });
    q.finish(q.take(all)!, true);
    expect(q.view().queued?.snapshot).toBeUndefined();
  });

  it('the cadence\'s own snapshot re-sync shows as onCadence; continue-as-new carries the queue, not its view', () => {
    const q = queue({ storageSnapshot: true });
    q.onCadence(T0 + HOUR);
    expect(q.view().queued?.snapshot).toEqual({ onCadence: true, requestIds: [] });
    const carried = q.carry();
    expect(carried.status.queued).toBeUndefined();
    expect(carried.snapshotRequest).toEqual({ onCadence: true });
  });
});
