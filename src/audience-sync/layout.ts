import { z } from 'zod';

/*
 * Where the data plane keeps its objects, relative to the destination's workdir store.
 * One function per object kind so the layout is written down once:
 *
 *   runs/<runId>/spill/<set>/<seq>.lines     digests of one checkpoint, shard-major
 *   runs/<runId>/spill/<set>/<seq>.json      that part's byte offsets per shard and type
 *   runs/<runId>/rejects/<set>/<seq>.csv     rejects of one checkpoint (no header)
 *   runs/<runId>/rejects.csv                 (rejects-enters.csv / rejects-exits.csv)
 *   runs/<runId>/prepared.json               what prepare produced (parts per input set)
 *   runs/<runId>/diff/<s0>-<s1>.add|.remove|.state
 *        sorted lists of shards [s0, s1) packed in one object per kind, type-major then
 *        shard (so a type's lists of consecutive shards are adjacent): the adds, the
 *        removes, and the audience after the run (in mirror mode: the input's sorted,
 *        deduplicated shards). Summaries and manifests locate each list by offset.
 *        .multi: digests occurring more than once, with their counts (digestCounts.ts)
 *   runs/<runId>/diff/groups/<from>-<to>.json   one diff activity's summary
 *   runs/<runId>/rowindex.json|.table|.lines|.extra   the snapshot's row index (rowIndex.ts);
 *        a layer: .json|.bin|.gone|.extra (rowIndexLayers.ts)
 *   runs/<runId>/spill/gone/<seq>.lines|.json   a delta run's ids of gone lines (snapshotDelta.ts)
 *   runs/<runId>/spill/rowindex/<seq>.table   table entries a row index build let go of (rowIndex.ts)
 *   runs/<runId>/files/<action>-<type>-<nnnn>.csv   customer files for TikTok
 *   (a dry run's runId is preview_<destinationId>.<run>: see previewRuns.ts)
 *   audiences/<destinationId>/manifests/<version>.json
 *   audiences/<destinationId>/CURRENT
 */

/** Run ids name folders; Temporal run ids (UUIDs) and workflow-derived ids fit. */
export const RunIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');

/**
 * The inputs prepare can read: one snapshot, or the two halves of each change batch. Several
 * pending batches flush in one run: batch 0 reads into `enters`/`exits` (the layout of a
 * single batch), batch i > 0 into `enters-<i>`/`exits-<i>`.
 */
export type InputSet = 'snapshot' | 'enters' | 'exits' | `enters-${number}` | `exits-${number}`;
const INPUT_SET = /^(?:snapshot|enters|exits|(?:enters|exits)-[1-9]\d{0,5})$/;
export const InputSetSchema = z.custom<InputSet>((v) => typeof v === 'string' && INPUT_SET.test(v), 'must be snapshot, enters, exits, enters-<n> or exits-<n>');

/** The input set of one half of change batch `index` (0-based, in the order the batches came). */
export function batchSet(half: 'enters' | 'exits', index: number): InputSet {
  if (!Number.isInteger(index) || index < 0 || index > 999_999) throw new RangeError(`change batch index ${index} is out of range`);
  return index === 0 ? half : `${half}-${index}`;
}

const run = (runId: string): string => `runs/${RunIdSchema.parse(runId)}`;

export const layout = {
  spillLines: (runId: string, set: InputSet, seq: number) => `${run(runId)}/spill/${set}/${pad(seq, 6)}.lines`,
  spillIndex: (runId: string, set: InputSet, seq: number) => `${run(runId)}/spill/${set}/${pad(seq, 6)}.json`,
  rejectsPart: (runId: string, set: InputSet, seq: number) => `${run(runId)}/rejects/${set}/${pad(seq, 6)}.csv`,
  rejects: (runId: string, set: InputSet) => `${run(runId)}/${set === 'snapshot' ? 'rejects' : `rejects-${set}`}.csv`,
  prepared: (runId: string) => `${run(runId)}/prepared.json`,
  diffLists: (runId: string, s0: number, s1: number, kind: 'add' | 'remove' | 'state' | 'multi') => `${run(runId)}/diff/${pad(s0, 3)}-${pad(s1, 3)}.${kind}`,
  diffGroup: (runId: string, from: number, to: number) => `${run(runId)}/diff/groups/${pad(from, 3)}-${pad(to, 3)}.json`,
  file: (runId: string, action: 'APPEND' | 'REMOVE', type: string, index: number) =>
    // TikTok accepts only .csv or .txt names (tiktok-api.md §3.1).
    `${run(runId)}/files/${action.toLowerCase()}-${type}-${pad(index + 1, 4)}.csv`,
  manifest: (destinationId: string, version: string) => `audiences/${destinationId}/manifests/${version}.json`,
  current: (destinationId: string) => `audiences/${destinationId}/CURRENT`,
  goneSpillLines: (runId: string, seq: number) => `${run(runId)}/spill/gone/${pad(seq, 6)}.lines`,
  goneSpillIndex: (runId: string, seq: number) => `${run(runId)}/spill/gone/${pad(seq, 6)}.json`,
  rowIndexSpills: (runId: string) => `${run(runId)}/spill/rowindex/`,
  rowIndexSpill: (runId: string, seq: number) => `${layout.rowIndexSpills(runId)}${pad(seq, 6)}.table`,
};

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
