import { minusLines as minusHexLines, unionLines as unionHexLines } from './digestLists';
import { isRecordWidth, minusRecords, unionRecords } from './digestRecords';

// A list's width tells hex lines (odd) from records (even): one set of rules for both forms.
const minusLines = (a: Buffer, b: Buffer, w: number): Buffer => (isRecordWidth(w) ? minusRecords(a, b, w) : minusHexLines(a, b, w));
const unionLines = (a: Buffer, b: Buffer, w: number): Buffer => (isRecordWidth(w) ? unionRecords(a, b, w) : unionHexLines(a, b, w));

export type SyncMode = 'mirror' | 'addOnly';

/** What one shard of one type changes: ids to APPEND, ids to REMOVE, and the audience after. */
export interface ShardDiff {
  adds: Buffer;
  removes: Buffer;
  /** The ids TikTok holds once adds and removes are applied. */
  state: Buffer;
}

/*
 * All lists here are sorted unique digest lists of width `w`: hex lines (digestLists.ts)
 * or records (digestRecords.ts), never mixed in one call.
 */

/**
 * A full snapshot against the applied state. mirror: the audience becomes the snapshot
 * (exits removed); addOnly: nobody is removed, the audience grows.
 */
export function diffSnapshot(desired: Buffer, applied: Buffer, mode: SyncMode, w: number): ShardDiff {
  const adds = minusLines(desired, applied, w);
  if (mode === 'addOnly') return { adds, removes: Buffer.alloc(0), state: unionLines(applied, adds, w) };
  return { adds, removes: minusLines(applied, desired, w), state: desired };
}

/**
 * A change batch against the applied state. An id both entering and exiting in one batch
 * is treated as exiting: the batch has no order, and keeping someone who left is the
 * worse mistake. In mirror mode every exit is REMOVEd, not only those in the applied
 * state: REMOVE is idempotent on TikTok's side, and the applied state does not know the
 * members an audience had before ttsync fed it (action "append" to an existing audience).
 * addOnly ignores exits except to hold back a same-batch enter.
 */
export function diffChanges(enters: Buffer, exits: Buffer, applied: Buffer, mode: SyncMode, w: number): ShardDiff & { conflicts: number } {
  const entering = minusLines(enters, exits, w);
  const conflicts = (enters.length - entering.length) / w;
  const adds = minusLines(entering, applied, w);
  if (mode === 'addOnly') return { adds, removes: Buffer.alloc(0), state: unionLines(applied, adds, w), conflicts };
  return { adds, removes: exits, state: unionLines(minusLines(applied, exits, w), adds, w), conflicts };
}

/**
 * Several change batches in the order they came, as one batch: an id's LAST enter or exit
 * wins (within one batch, exit wins, as in diffChanges). The result's enters and exits are
 * disjoint, so diffChanges applies them as the batches would have been one after another.
 */
export function foldChangeBatches(batches: readonly { enters: Buffer; exits: Buffer }[], w: number): { enters: Buffer; exits: Buffer } {
  const [first, ...rest] = batches;
  if (!first) return { enters: Buffer.alloc(0), exits: Buffer.alloc(0) };
  let enters = minusLines(first.enters, first.exits, w);
  let exits = first.exits;
  for (const b of rest) {
    const entering = minusLines(b.enters, b.exits, w);
    enters = unionLines(minusLines(enters, b.exits, w), entering, w);
    exits = unionLines(minusLines(exits, entering, w), b.exits, w);
  }
  return { enters, exits };
}
