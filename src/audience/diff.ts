import { minus, union } from './digestLists';

export type SyncMode = 'mirror' | 'addOnly';

/** What one shard of one type changes: ids to APPEND, ids to REMOVE, and the audience after. */
export interface ShardDiff {
  adds: string[];
  removes: string[];
  /** The ids TikTok holds once adds and removes are applied (sorted unique). */
  state: string[];
}

/**
 * A full snapshot against the applied state (all sorted unique). mirror: the audience
 * becomes the snapshot (exits removed); addOnly: nobody is removed, the audience grows.
 */
export function diffSnapshot(desired: readonly string[], applied: readonly string[], mode: SyncMode): ShardDiff {
  const adds = minus(desired, applied);
  if (mode === 'addOnly') return { adds, removes: [], state: adds.length ? union(applied, adds) : [...applied] };
  return { adds, removes: minus(applied, desired), state: [...desired] };
}

/**
 * A change batch against the applied state. An id both entering and exiting in one batch
 * is treated as exiting: the batch has no order, and keeping someone who left is the
 * worse mistake. In mirror mode every exit is REMOVEd, not only those in the applied
 * state: REMOVE is idempotent on TikTok's side, and the applied state does not know the
 * members an audience had before ttsync fed it (action "append" to an existing audience).
 * addOnly ignores exits except to hold back a same-batch enter.
 */
export function diffChanges(enters: readonly string[], exits: readonly string[], applied: readonly string[], mode: SyncMode): ShardDiff & { conflicts: number } {
  const entering = exits.length ? minus(enters, exits) : [...enters];
  const conflicts = enters.length - entering.length;
  const adds = minus(entering, applied);
  if (mode === 'addOnly') return { adds, removes: [], state: adds.length ? union(applied, adds) : [...applied], conflicts };
  const kept = exits.length ? minus(applied, exits) : [...applied];
  return { adds, removes: [...exits], state: adds.length ? union(kept, adds) : kept, conflicts };
}
