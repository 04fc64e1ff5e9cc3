import {
  ANSWERED_KEEP,
  type AudienceSyncStatus,
  type CarriedState,
  type ChangeBatch,
  type InputObject,
  type QueuedRequests,
  type SnapshotRequest,
  type SyncRequest,
} from '../../src/audience-sync/messages';
import { shouldFlushNow } from './plan';

/*
 * What the audience sync workflow has been asked to do and has not done yet: pending change
 * batches, the snapshot sync waiting, the cadence, a recreate, and the requests waiting for
 * an answer. Pure (no Temporal calls, the clock passed in) so every rule of who runs next
 * and who gets answered is unit-tested; the workflow's signal handlers only call in here.
 */
export class SyncRequests {
  readonly pending: ChangeBatch[];
  flushRequested: boolean;
  /** A snapshot sync asked for and not yet run; no `snapshot` means the config's storage.snapshot. */
  snapshotRequest: SnapshotRequest | null;
  nextRunAtMs: number;
  /** recreateAudience was signalled and no cycle has completed since. */
  recreateRequested: boolean;
  /** Request ids the next flush of change batches answers. */
  readonly flushRequestIds: string[];

  constructor(
    /** The workflow's status: requests are answered in it, and pause/park decide what runs. */
    readonly status: AudienceSyncStatus,
    carried: CarriedState | undefined,
    nowMs: number,
    private readonly cadenceMs: number,
    /** Whether the current config names a storage.snapshot (the config can change by update). */
    private readonly hasStorageSnapshot: () => boolean,
  ) {
    this.pending = [...(carried?.pending ?? [])];
    this.flushRequested = carried?.flushRequested ?? false;
    this.snapshotRequest = carried?.snapshotRequest ?? null;
    this.nextRunAtMs = carried?.nextRunAtMs ?? nowMs + cadenceMs;
    this.recreateRequested = carried?.recreateRequested ?? false;
    this.flushRequestIds = [...(carried?.flushRequestIds ?? [])];
  }

  /** What the workflow input asks for at once. */
  startWith(input: { snapshot?: InputObject; changes?: ChangeBatch }): void {
    if (input.snapshot) this.snapshotRequest = { snapshot: input.snapshot };
    if (input.changes) {
      this.pending.push(input.changes);
      this.flushRequested = true;
    }
  }

  /**
   * The status as the query shows it. `answered` and `queued` always present: their absence
   * tells a client the worker is older.
   */
  view(): AudienceSyncStatus {
    return { ...this.carriedStatus(), queued: this.queued() };
  }

  /** What is waiting for a cycle: ids and URIs only. */
  queued(): QueuedRequests {
    const s = this.snapshotRequest;
    return {
      ...(s
        ? {
            snapshot: {
              ...(s.snapshot ? { uri: s.snapshot.uri } : {}),
              ...(s.onCadence ? { onCadence: true } : {}),
              requestIds: [...(s.requestIds ?? [])],
            },
          }
        : {}),
      batches: this.pending.length,
      flushRequested: this.flushRequested && this.pending.length > 0,
      flushRequestIds: [...this.flushRequestIds],
      ...(this.recreateRequested ? { recreate: true } : {}),
    };
  }

  /** The status continue-as-new carries: `queued` is left out, the queue itself is carried beside it. */
  private carriedStatus(): AudienceSyncStatus {
    const { queued: _shownOnly, ...status } = this.status;
    return { ...status, pendingBatches: this.pending.length, nextRunAt: new Date(this.nextRunAtMs).toISOString(), answered: this.status.answered ?? [] };
  }

  /** syncNow; `nowIso` stamps the NothingToSync error when there is nothing to run. */
  syncNow(req: { snapshot?: InputObject; onCadence?: boolean; requestId?: string } | undefined, nowIso: string): void {
    if (this.pending.length) this.flushRequested = true;
    if (req?.onCadence && !req.snapshot) {
      if (this.hasStorageSnapshot() && !this.snapshotRequest) this.snapshotRequest = { onCadence: true };
      this.awaitLastCycle(req.requestId);
      return;
    }
    const ids = this.snapshotRequest?.requestIds;
    if (req?.snapshot) this.snapshotRequest = { snapshot: req.snapshot, ...(ids ? { requestIds: ids } : {}) };
    // Asked for explicitly: runs even if the snapshot has not changed since the last sync.
    else if (this.hasStorageSnapshot())
      this.snapshotRequest = { ...(this.snapshotRequest?.snapshot ? { snapshot: this.snapshotRequest.snapshot } : {}), ...(ids ? { requestIds: ids } : {}) };
    else if (!this.pending.length && !this.snapshotRequest) {
      this.status.lastError = {
        at: nowIso,
        phase: this.status.phase,
        type: 'NothingToSync',
        message: 'syncNow without a snapshot: the config names no storage.snapshot and no change batch is pending',
      };
      if (req?.requestId) this.answer([req.requestId], false);
      return;
    }
    this.awaitLastCycle(req?.requestId);
  }

  /** The newest full snapshot supersedes one that is still waiting (and answers its requests). */
  snapshotLanded(req: { snapshot: InputObject; requestId?: string }): void {
    const ids = this.snapshotRequest?.requestIds;
    this.snapshotRequest = { snapshot: req.snapshot, ...(ids ? { requestIds: ids } : {}) };
    this.awaitLastCycle(req.requestId);
  }

  addChangeBatch(batch: ChangeBatch): void {
    this.pending.push(batch);
    if (shouldFlushNow(this.pending)) this.flushRequested = true;
  }

  /** Forget the missing audience; an audience a failed recreate cycle made is remembered again. */
  recreate(): void {
    this.recreateRequested = true;
    this.status.audienceId = null;
    // The new audience is another create, with a marker of its own.
    delete this.status.audienceCreate;
  }

  /** The cadence came round: flush pending batches and re-sync storage.snapshot if it changed. */
  onCadence(nowMs: number): void {
    if (nowMs < this.nextRunAtMs) return;
    if (this.pending.length) this.flushRequested = true;
    if (this.hasStorageSnapshot() && !this.snapshotRequest) this.snapshotRequest = { onCadence: true };
    this.nextRunAtMs = nowMs + this.cadenceMs;
  }

  msUntilCadence(nowMs: number): number {
    return Math.max(1, this.nextRunAtMs - nowMs);
  }

  /** The request that would run now, if any: change batches first, then the snapshot, then a recreate. */
  next(): SyncRequest | null {
    if (this.status.paused) return null;
    // Parked: sending to an audience that is gone would fail the same way every time.
    if (this.status.phase === 'audience_missing' && !this.recreateRequested) return null;
    if (this.flushRequested && this.pending.length) return { kind: 'changes', batches: [] };
    if (this.snapshotRequest) return { kind: 'snapshot', ...this.snapshotRequest };
    // Nothing new to send: the recreate cycle re-states the applied state alone.
    if (this.recreateRequested) return { kind: 'changes', batches: [] };
    return null;
  }

  /**
   * Takes the next request off the queue. Every pending batch goes in one cycle (one prepare,
   * one diff, one processing wait) unless `flushAll()` says no: runs from before that rule
   * took one batch per cycle, and their replay must too. It is asked only when batches run.
   */
  take(flushAll: () => boolean): SyncRequest | null {
    const req = this.next();
    if (!req) return null;
    if (req.kind === 'changes') {
      req.batches = this.pending.splice(0, flushAll() ? this.pending.length : 1);
      if (!this.pending.length) {
        this.flushRequested = false;
        req.requestIds = this.flushRequestIds.splice(0);
      }
    } else this.snapshotRequest = null;
    return req;
  }

  /**
   * A cycle ended. Its requests are answered; batches apply in order, so a failed one goes
   * back to the head of the queue and runs again at the next cadence or syncNow.
   */
  finish(req: SyncRequest, ok: boolean): void {
    this.answer(req.requestIds, ok);
    if (!ok && req.kind === 'changes') this.pending.unshift(...req.batches);
  }

  /** What continue-as-new carries to the next run. */
  carry(): CarriedState {
    return {
      status: this.carriedStatus(),
      pending: [...this.pending],
      flushRequested: this.flushRequested,
      snapshotRequest: this.snapshotRequest,
      nextRunAtMs: this.nextRunAtMs,
      ...(this.recreateRequested ? { recreateRequested: this.recreateRequested } : {}),
      ...(this.flushRequestIds.length ? { flushRequestIds: [...this.flushRequestIds] } : {}),
    };
  }

  /**
   * A request is answered by the last of the cycles it set going: the snapshot sync if one
   * is waiting (change batches flush before it), else the flush of pending batches.
   */
  private awaitLastCycle(requestId: string | undefined): void {
    if (requestId === undefined) return;
    if (this.snapshotRequest) (this.snapshotRequest.requestIds ??= []).push(requestId);
    else if (this.pending.length) this.flushRequestIds.push(requestId);
    else this.answer([requestId], false);
  }

  private answer(ids: readonly string[] | undefined, ok: boolean): void {
    if (!ids?.length) return;
    const list = (this.status.answered ??= []);
    for (const requestId of ids) list.push({ requestId, cycle: this.status.cycles, ok });
    list.splice(0, Math.max(0, list.length - ANSWERED_KEEP));
  }
}
