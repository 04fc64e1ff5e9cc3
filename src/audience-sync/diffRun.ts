import type { IdentifierType } from '../identifiers/schema';
import type { BlobStore } from '../storage';
import { diffChanges, diffSnapshot, foldChangeBatches, type ShardDiff } from './diff';
import { concatRecords, recordsOfHexLines, sortUniqueRecords } from './digestRecords';
import { multiOf, multiWidth, sortCountRecords } from './digestCounts';
import { diffDeltaGroup } from './diffDelta';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { batchSet, type InputSet } from './layout';
import { lineWidth, readLists, recordWidth } from './listStore';
import { groupSchema, keptState, readStateParts, wholeState } from './stateDelta';
import { mapLimit } from './pool';
import { diffPackers, type DiffCheckpoint, type DiffGroupInput } from './diffTypes';
import type { DiffGroup, ShardTypeResult } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
import type { Stores } from './stores';

export type { DiffCheckpoint, DiffGroupInput } from './diffTypes';

/**
 * Diffs shards [from, to) of a prepared run against the applied state. Per step (a run
 * of shards whose spill bytes fit the budget): reads each spill part's byte range of
 * those shards, sorts and dedupes each shard, merges it with the applied list, and writes
 * the adds, removes and new state (the sorted, deduplicated input shard in mirror mode)
 * as one object per kind. Outputs depend
 * only on the inputs, so a retried or resumed group rewrites identical bytes; the
 * checkpoint moves only after a step's objects are stored.
 */
export async function diffGroup(
  work: BlobStore,
  stores: Stores,
  input: DiffGroupInput,
  onProgress: (cp: DiffCheckpoint) => Promise<void>,
  resume?: DiffCheckpoint,
): Promise<DiffGroup> {
  const { runId, prepared, base, syncMode, from, to } = input;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= SHARD_COUNT))
    throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `shard range [${from}, ${to}) is not within [0, ${SHARD_COUNT})`);
  if (prepared.kind === 'delta') return diffDeltaGroup(work, stores, input, onProgress, resume);
  const budget = input.readBudgetBytes ?? 16 << 20;
  // A run that wrote a row index keeps, beside its state, how often each digest occurred.
  const counting = prepared.kind === 'snapshot' && !!prepared.rowIndex && syncMode === 'mirror';
  const concurrency = input.concurrency ?? 8;
  const T = prepared.types.length;
  const types = [...new Set<IdentifierType>([...prepared.types, ...(Object.keys(base?.types ?? {}) as IdentifierType[])])].sort();
  const cp: DiffCheckpoint = resume && resume.next >= from && resume.next <= to ? structuredClone(resume) : { next: from, shards: {} };
  const batchCount = prepared.kind === 'snapshot' ? 0 : (prepared.batches ?? 1);
  const batchSets = Array.from({ length: batchCount }, (_, i) => ({ enters: batchSet('enters', i), exits: batchSet('exits', i) }));
  const sets: InputSet[] = prepared.kind === 'snapshot' ? ['snapshot'] : batchSets.flatMap((b) => [b.enters, b.exits]);
  const parts = sets.flatMap((set) => (prepared.sets[set] ?? []).map((part) => ({ set, part })));

  while (cp.next < to) {
    const s0 = cp.next;
    let s1 = s0 + 1;
    while (s1 < to && spillBytes(parts, T, s0, s1 + 1) <= budget) s1++;

    // The input: each part's range of these shards, split per (set, shard, type).
    const gathered = new Map<string, Buffer[]>();
    const ranges = await readLists(
      stores,
      parts.map(({ part }) => ({ uri: work.uriOf(part.key), start: part.offsets[s0 * T]!, bytes: part.offsets[s1 * T]! - part.offsets[s0 * T]! })),
      Number.MAX_SAFE_INTEGER,
      concurrency,
    );
    for (const [r, { set, part }] of parts.entries()) {
      const bytes = ranges[r]!;
      const start = part.offsets[s0 * T]!;
      for (let s = s0; s < s1; s++)
        for (let t = 0; t < T; t++) {
          const a = part.offsets[s * T + t]! - start;
          const b = part.offsets[s * T + t + 1]! - start;
          if (b <= a) continue;
          const type = prepared.types[t]!;
          const k = `${set}/${s}/${type}`;
          // Parts written before records hold hex lines: read them as records.
          const piece = part.format === 'records' ? bytes.subarray(a, b) : hexLinesAsRecords(bytes.subarray(a, b), type, part.key);
          const list = gathered.get(k);
          if (list) list.push(piece);
          else gathered.set(k, [piece]);
        }
    }

    // The applied lists of these shards, read with as few requests as their layout allows.
    const wanted = types.flatMap((type) => Array.from({ length: s1 - s0 }, (_, k) => ({ type, s: s0 + k })));
    const refs = wanted.map(({ type, s }) => base?.types[type]?.shards[shardName(s)]);
    const present = refs.flatMap((ref, i) => (ref ? [{ i, ref, type: wanted[i]!.type }] : []));
    const appliedParts = await readStateParts(stores, present, base?.version ?? '?', budget, concurrency);
    const applied = new Map<string, Buffer>();
    for (const [j, { i, type }] of present.entries()) {
      const s = wanted[i]!.s;
      applied.set(`${s}/${type}`, wholeState(appliedParts[j]!, recordWidth(type), `${shardName(s)}/${type} of manifest ${base?.version ?? '?'}`));
    }

    const packers = diffPackers(work, runId, s0, s1);
    for (const type of types) {
      const w = recordWidth(type);
      for (let s = s0; s < s1; s++) {
        const xx = shardName(s);
        const appliedIds = applied.get(`${s}/${type}`) ?? EMPTY;
        const appliedRef = base?.types[type]?.shards[xx];
        const take = (set: InputSet): Buffer => {
          const pieces = gathered.get(`${set}/${s}/${type}`);
          if (!pieces) return EMPTY;
          gathered.delete(`${set}/${s}/${type}`);
          return sortUniqueRecords(concatRecords(pieces), w);
        };
        let d: ShardDiff;
        let inputIds: Buffer;
        let exits: Buffer | undefined;
        let multi: Buffer = EMPTY;
        if (prepared.kind === 'snapshot' && counting) {
          const pieces = gathered.get(`snapshot/${s}/${type}`);
          gathered.delete(`snapshot/${s}/${type}`);
          const counted = pieces ? sortCountRecords(concatRecords(pieces), w) : { unique: EMPTY, counts: null };
          inputIds = counted.unique;
          multi = multiOf(counted, w);
          d = diffSnapshot(inputIds, appliedIds, syncMode, w);
        } else if (prepared.kind === 'snapshot') {
          inputIds = take('snapshot');
          d = diffSnapshot(inputIds, appliedIds, syncMode, w);
        } else {
          // Several pending batches in one run: folded in order, the last word on an id wins.
          const folded = foldChangeBatches(batchSets.map((b) => ({ enters: take(b.enters), exits: take(b.exits) })), w);
          inputIds = folded.enters;
          exits = folded.exits;
          d = diffChanges(inputIds, exits, appliedIds, syncMode, w);
        }
        if (input.resend) d = { adds: d.state, removes: EMPTY, state: d.state };
        const r: ShardTypeResult = { input: inputIds.length / w, applied: appliedIds.length / w, adds: d.adds.length / w, removes: d.removes.length / w, state: d.state.length / w };
        if (exits) r.exits = exits.length / w;
        if (counting) r.multi = multi.length / multiWidth(w);
        if (multi.length) r.multiAt = packers.multi.add(multi);
        if (d.removes.length) r.removeAt = packers.remove.add(d.removes);
        if (d.state.length) {
          // An unchanged shard keeps pointing at the applied list (in its own form) instead of a copy.
          const unchanged = appliedRef && d.state.length === appliedIds.length && !d.adds.length && !d.removes.length;
          // With deltas off (stateDeltaCompactAt 0) a list kept as a base and a delta is written whole.
          if (unchanged && !(input.stateDeltaCompactAt === 0 && appliedRef.delta)) Object.assign(r, keptState(appliedRef));
          else r.stateAt = packers.state.add(d.state);
        }
        // Adds that are the whole new state (a first sync, a resend) are that list, not a copy.
        if (d.adds.length) r.addAt = d.adds === d.state && r.stateAt && !r.stateDelta ? { ...r.stateAt } : packers.add.add(d.adds);
        ((cp.shards[xx] ??= {}) as Partial<Record<IdentifierType, ShardTypeResult>>)[type] = r;
      }
    }
    await mapLimit(Object.values(packers), 4, (p) => p.flush());
    cp.next = s1;
    await onProgress(cp);
  }
  // A list left as it was keeps its delta (keptState): then the summary says so.
  return { schema: groupSchema(cp.shards), runId, baseVersion: base?.version ?? null, syncMode, from, to, shards: cp.shards, ...(counting ? { rowCounts: true as const } : {}) };
}

const EMPTY = Buffer.alloc(0);

function hexLinesAsRecords(lines: Buffer, type: IdentifierType, key: string): Buffer {
  try {
    return recordsOfHexLines(lines, lineWidth(type));
  } catch (err) {
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${key}: a spill part's ${type} lines are not digests (${(err as Error).message}); it was altered outside ttsync`);
  }
}

function spillBytes(parts: { part: { offsets: number[] } }[], T: number, s0: number, s1: number): number {
  let n = 0;
  for (const { part } of parts) n += part.offsets[s1 * T]! - part.offsets[s0 * T]!;
  return n;
}
