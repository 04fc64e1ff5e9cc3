import type { SyncMode } from './diff';
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
}
