import type { BlobStore } from '../storage';
import type { SyncMode } from './diff';
import { layout } from './layout';
import { ListPacker } from './listStore';
import type { DiffGroup, Manifest, PreparedRun } from './schemas';

export interface DiffCheckpoint {
  /** Next shard to diff; shards before it are in `shards`. */
  next: number;
  shards: DiffGroup['shards'];
}

export interface DiffGroupInput {
  runId: string;
  prepared: PreparedRun;
  base: Manifest | null;
  syncMode: SyncMode;
  from: number;
  to: number;
  /** Spill bytes handled per step (several shards per step while they fit); bounds memory. */
  readBudgetBytes?: number;
  /** Storage requests in flight (default 8). */
  concurrency?: number;
  /**
   * The audience is new and empty (recreated after it went missing in TikTok): every id of
   * the state after the run is an add, nothing is removed. The state is what it would be anyway.
   */
  resend?: boolean;
  /**
   * A delta run keeps a changed state list as its base and the net change while that change
   * is at most this fraction of the base (stateDelta.ts; default STATE_DELTA_COMPACT_AT); 0:
   * every changed list whole, as workers before state deltas read them.
   */
  stateDeltaCompactAt?: number;
}

/** The four lists a step of shards [s0, s1) writes: adds, removes, the new state and its multi counts. */
export function diffPackers(work: BlobStore, runId: string, s0: number, s1: number): Record<'add' | 'remove' | 'state' | 'multi', ListPacker> {
  return {
    add: new ListPacker(work, layout.diffLists(runId, s0, s1, 'add')),
    remove: new ListPacker(work, layout.diffLists(runId, s0, s1, 'remove')),
    state: new ListPacker(work, layout.diffLists(runId, s0, s1, 'state')),
    multi: new ListPacker(work, layout.diffLists(runId, s0, s1, 'multi')),
  };
}
