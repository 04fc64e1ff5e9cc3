import type { IdentifierType } from '../identifiers/schema';
import { readJsonObject, type BlobStore } from '../storage';
import { diffSnapshot, type ShardDiff } from './diff';
import { checkMulti, cmpAt, multiWidth, sortCountRecords, wordsOf, type CountedRecords } from './digestCounts';
import { concatRecords } from './digestRecords';
import { diffPackers, type DiffCheckpoint, type DiffGroupInput } from './diffTypes';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { layout } from './layout';
import { readLists, recordWidth } from './listStore';
import { mapLimit } from './pool';
import { ManifestSchema, type DiffGroup, type ListAt, type RecordListRef, type Manifest, type ShardTypeResult, type SpillPart } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
import { STATE_DELTA_COMPACT_AT, StateView, applyChanges, composeDelta, groupSchema, keptState, NO_STATE, readStateParts, stateCount, storedStateBytes, wholeState, type StateParts } from './stateDelta';
import { borrow, giveBack, usePool } from './stepMemory';
import type { Stores } from './stores';

// The merge of a list and its changes lives with the state's parts; tests reach it here too.
export { applyChanges } from './stateDelta';

/*
 * Diff of a delta run (snapshotDelta.ts): the snapshot's ids are the indexed state's ids
 * minus the ids no row gives any more plus the ids of new rows. Per shard and type, with S
 * the indexed state's list and U its multi list (digestCounts.ts: how many rows gave each id
 * given more than once; 1 for the rest of S, 0 for an id not in S), each id of the new lines
 * (A) or the gone lines (R) has now = before − (times in R) + (times in A): an id going from 0
 * is an add, one going to 0 a remove. Nothing else changes, so the whole snapshot is never
 * sorted: the state is S − removes ∪ adds, stored as S's base and the net change since
 * (stateDelta.ts), or copied whole in runs once that change outgrows a fraction of the base.
 *
 * When the run's base is not the indexed state (a dry run that raced a commit) or the mode
 * is addOnly, that list is the snapshot's desired ids, diffed against the base as usual.
 */

const EMPTY = Buffer.alloc(0);

type Delta = { adds: Buffer; removes: Buffer };

export async function diffDeltaGroup(
  work: BlobStore,
  stores: Stores,
  input: DiffGroupInput,
  onProgress: (cp: DiffCheckpoint) => Promise<void>,
  resume?: DiffCheckpoint,
): Promise<DiffGroup> {
  const { runId, prepared, base, syncMode, from, to } = input;
  const delta = prepared.delta;
  if (!delta) throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${layout.prepared(runId)}: a delta run names no base index`);
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= SHARD_COUNT))
    throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `shard range [${from}, ${to}) is not within [0, ${SHARD_COUNT})`);
  const direct = base?.version === delta.baseVersion && syncMode === 'mirror';
  const idx: Manifest = direct && base ? base : await readJsonObject(work, delta.manifestKey, ManifestSchema);
  if (idx.version !== delta.baseVersion)
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${delta.manifestKey} is version ${idx.version}, not ${delta.baseVersion} as the delta run says`);
  // Steps of half the read budget: the groups of one sync run side by side, and their steps'
  // memory is reused (stepMemory.ts) only once each group's first step is done. (A quarter
  // saved a little more memory churn but cost more in objects: build read 4 times as many.)
  const budget = Math.max(1, (input.readBudgetBytes ?? 16 << 20) >>> 1);
  const concurrency = input.concurrency ?? 8;
  const T = prepared.types.length;
  const types = [...new Set<IdentifierType>([...prepared.types, ...(Object.keys(base?.types ?? {}) as IdentifierType[]), ...(Object.keys(idx.types) as IdentifierType[])])].sort();
  const cp: DiffCheckpoint = resume && resume.next >= from && resume.next <= to ? structuredClone(resume) : { next: from, shards: {} };
  const compactAt = input.stateDeltaCompactAt ?? STATE_DELTA_COMPACT_AT;
  const added = prepared.sets.snapshot ?? [];
  const gone = delta.gone;

  const listBytes = (m: Manifest | null, s: number): number => {
    let n = 0;
    for (const type of types) {
      const ref = m?.types[type]?.shards[shardName(s)];
      if (ref) n += ref.count * recordWidth(type);
    }
    return n;
  };

  const release = usePool();
  try {
    while (cp.next < to) await step();
  } finally {
    release();
  }
  return { schema: groupSchema(cp.shards), runId, baseVersion: base?.version ?? null, syncMode, from, to, shards: cp.shards, ...(syncMode === 'mirror' ? { rowCounts: true as const } : {}) };

  /** Shards [cp.next, s1) whose lists fit the budget: read, merged, stored; then the checkpoint moves. */
  async function step(): Promise<void> {
    const s0 = cp.next;
    let s1 = s0 + 1;
    let bytes = listBytes(idx, s0) + (direct ? 0 : listBytes(base, s0));
    while (s1 < to) {
      const more = listBytes(idx, s1) + (direct ? 0 : listBytes(base, s1));
      if (bytes + more > budget) break;
      bytes += more;
      s1++;
    }
    const newIds = await gather(work, stores, added, T, prepared.types, s0, s1, concurrency);
    const goneIds = await gather(work, stores, gone, T, prepared.types, s0, s1, concurrency);
    // The state lists are read into borrowed memory, and the lists written whole into more.
    const roomBytes = stateBytes(idx, s0, s1) + (direct ? 0 : stateBytes(base, s0, s1));
    const room = roomBytes ? borrow(roomBytes) : EMPTY;
    const idxLists = await readStateLists(stores, idx, types, s0, s1, budget, concurrency, room);
    const baseLists = direct ? idxLists : await readStateLists(stores, base, types, s0, s1, budget, concurrency, room.subarray(stateBytes(idx, s0, s1)));

    // Per list: its change, and how its state after is stored (kept, a delta over its base, or whole).
    const plans = new Map<string, { P: StateParts; U: Buffer; change: ReturnType<typeof applyCounts>; net: Delta | null; whole: number; full: Delta | null }>();
    let after = 0;
    for (const type of types) {
      const w = recordWidth(type);
      for (let s = s0; s < s1; s++) {
        const k = `${s}/${type}`;
        const P = idxLists.state.get(k) ?? NO_STATE;
        const U = idxLists.multi.get(k) ?? EMPTY;
        const A = counted(newIds.get(k), w);
        const R = counted(goneIds.get(k), w);
        const change = applyCounts(new StateView(P, w), U, A, R, w, `${shardName(s)}/${type}`);
        // The net change over the base, when the state after is that base and a delta (direct runs only).
        const net = direct && !input.resend ? composeDelta(P, change, w) : null;
        const changed = change.adds.length > 0 || change.removes.length > 0;
        const small = !!net && compactAt > 0 && P.base.length > 0 && net.adds.length + net.removes.length <= compactAt * P.base.length;
        // With deltas off, a list still kept as one is written whole too (the way back to schema 1).
        const flatten = compactAt === 0 && (P.adds.length > 0 || P.removes.length > 0);
        const whole = (changed && !small) || !net || flatten ? stateCount(P, w) * w - change.removes.length + change.adds.length : 0;
        after += whole;
        plans.set(k, { P, U, change, net: small ? net : null, whole, full: net });
      }
    }
    const out = after ? borrow(after) : EMPTY;
    let used = 0;

    const packers = diffPackers(work, runId, s0, s1);
    for (const type of types) {
      const w = recordWidth(type);
      for (let s = s0; s < s1; s++) {
        const xx = shardName(s);
        const k = `${s}/${type}`;
        const { P, U, change, net, whole, full } = plans.get(k)!;
        const idxRef = idx.types[type]?.shards[xx];
        const where = `${shardName(s)}/${type} of manifest ${idx.version}`;
        let r: ShardTypeResult;
        if (direct && !input.resend) {
          // The diff is the change itself: the applied state is the indexed one.
          const applied = stateCount(P, w);
          const state = applied - change.removes.length / w + change.adds.length / w;
          r = { input: state, applied, adds: change.adds.length / w, removes: change.removes.length / w, state };
          if (change.removes.length) r.removeAt = packers.remove.add(change.removes);
          if (change.adds.length) r.addAt = packers.add.add(change.adds);
          if (state > 0) {
            if (!change.adds.length && !change.removes.length && idxRef && !whole) Object.assign(r, keptState(idxRef));
            else if (net && idxRef) {
              // The net change is often this run's change itself (the first churn over a whole list): then it is the lists just written.
              const ref = (ids: Buffer, same: Buffer, at: ListAt | undefined): RecordListRef | undefined => {
                if (!ids.length) return undefined;
                const where2 = ids === same && at ? at : packers.state.add(ids);
                return { uri: where2.uri, start: where2.start, count: ids.length / w };
              };
              const adds = ref(net.adds, change.adds, r.addAt);
              const removes = ref(net.removes, change.removes, r.removeAt);
              r.stateAt = keptState(idxRef).stateAt;
              if (adds || removes) r.stateDelta = { base: P.base.length / w, ...(adds ? { adds } : {}), ...(removes ? { removes } : {}) };
            } else {
              const desired = wholeState({ base: P.base, removes: full!.removes, adds: full!.adds }, w, where, out.subarray(used, used + whole));
              used += whole;
              r.stateAt = packers.state.add(desired);
            }
          }
        } else {
          const desiredAll = wholeState(P, w, where);
          const desired = applyChanges(desiredAll, change.removes, change.adds, w, out.subarray(used, used + whole));
          used += whole;
          const appliedRef = base?.types[type]?.shards[xx];
          const appliedParts = direct ? P : (baseLists.state.get(k) ?? NO_STATE);
          const applied = direct ? desiredAll : wholeState(appliedParts, w, `${xx}/${type} of manifest ${base?.version ?? '?'}`);
          let d: ShardDiff = direct ? { adds: change.adds, removes: change.removes, state: desired } : diffSnapshot(desired, applied, syncMode, w);
          if (input.resend) d = { adds: d.state, removes: EMPTY, state: d.state };
          r = { input: desired.length / w, applied: applied.length / w, adds: d.adds.length / w, removes: d.removes.length / w, state: d.state.length / w };
          if (d.removes.length) r.removeAt = packers.remove.add(d.removes);
          if (d.state.length) {
            const unchanged = appliedRef && d.state.length === applied.length && !d.adds.length && !d.removes.length;
            if (unchanged && !(compactAt === 0 && appliedRef.delta)) Object.assign(r, keptState(appliedRef));
            else r.stateAt = packers.state.add(d.state);
          }
          if (d.adds.length) r.addAt = d.adds === d.state && r.stateAt && !r.stateDelta ? { ...r.stateAt } : packers.add.add(d.adds);
        }
        if (syncMode === 'mirror') {
          r.multi = change.multi.length / multiWidth(w);
          const oldMulti = idxRef?.multi;
          if (change.multi.length) r.multiAt = oldMulti && change.multi.equals(U) ? { uri: oldMulti.uri, start: oldMulti.start } : packers.multi.add(change.multi);
        }
        ((cp.shards[xx] ??= {}) as Partial<Record<IdentifierType, ShardTypeResult>>)[type] = r;
      }
    }
    await mapLimit(Object.values(packers), 4, (p) => p.flush());
    // Stored: nothing refers to the step's memory any more.
    if (room !== EMPTY) giveBack(room);
    if (out !== EMPTY) giveBack(out);
    cp.next = s1;
    await onProgress(cp);
  }

  /** Bytes of a manifest's state lists of shards [a, b), as stored. */
  function stateBytes(m: Manifest | null, a: number, b: number): number {
    let n = 0;
    for (let s = a; s < b; s++)
      for (const type of types) {
        const ref = m?.types[type]?.shards[shardName(s)];
        if (ref) n += storedStateBytes(ref, type);
      }
    return n;
  }
}

function counted(pieces: Buffer[] | undefined, w: number): CountedRecords {
  if (!pieces) return { unique: EMPTY, counts: null };
  return sortCountRecords(concatRecords(pieces), w);
}

/** Each part's byte range of shards [s0, s1), split per (shard, type). */
async function gather(work: BlobStore, stores: Stores, parts: readonly SpillPart[], T: number, types: readonly IdentifierType[], s0: number, s1: number, concurrency: number): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>();
  if (!parts.length) return out;
  const ranges = await readLists(
    stores,
    parts.map((part) => ({ uri: work.uriOf(part.key), start: part.offsets[s0 * T]!, bytes: part.offsets[s1 * T]! - part.offsets[s0 * T]! })),
    Number.MAX_SAFE_INTEGER,
    concurrency,
  );
  for (const [i, part] of parts.entries()) {
    const bytes = ranges[i]!;
    const start = part.offsets[s0 * T]!;
    for (let s = s0; s < s1; s++)
      for (let t = 0; t < T; t++) {
        const a = part.offsets[s * T + t]! - start;
        const b = part.offsets[s * T + t + 1]! - start;
        if (b <= a) continue;
        const k = `${s}/${types[t]!}`;
        const list = out.get(k);
        if (list) list.push(bytes.subarray(a, b));
        else out.set(k, [bytes.subarray(a, b)]);
      }
  }
  return out;
}

/** A manifest's state lists (as their parts) and multi lists of shards [s0, s1). */
async function readStateLists(
  stores: Stores,
  m: Manifest | null,
  types: readonly IdentifierType[],
  s0: number,
  s1: number,
  budget: number,
  concurrency: number,
  room: Buffer,
): Promise<{ state: Map<string, StateParts>; multi: Map<string, Buffer> }> {
  const state = new Map<string, StateParts>();
  const multi = new Map<string, Buffer>();
  if (!m) return { state, multi };
  const wanted = types.flatMap((type) => Array.from({ length: s1 - s0 }, (_, k) => ({ type, s: s0 + k })));
  const present = wanted.flatMap(({ type, s }) => {
    const ref = m.types[type]?.shards[shardName(s)];
    return ref ? [{ type, s, ref }] : [];
  });
  const lists = await readStateParts(stores, present, m.version, budget, concurrency, room);
  const withMulti = present.filter((p) => p.ref.multi);
  const multis = await readLists(
    stores,
    withMulti.map(({ ref, type }) => ({ uri: ref.multi!.uri, start: ref.multi!.start, bytes: ref.multi!.count * multiWidth(recordWidth(type)) })),
    budget,
    concurrency,
  );
  for (const [j, { type, s }] of present.entries()) state.set(`${s}/${type}`, lists[j]!);
  for (const [j, { type, s, ref }] of withMulti.entries()) {
    try {
      checkMulti(multis[j]!, recordWidth(type));
    } catch (err) {
      throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${ref.multi!.uri}: the digest counts of manifest ${m.version} at byte ${ref.multi!.start} are damaged (${(err as Error).message})`);
    }
    multi.set(`${s}/${type}`, multis[j]!);
  }
  return { state, multi };
}

/** Records of width w picked by word offsets into one buffer. */
function gatherRecords(src: Uint32Array[], picks: number[], q: number): Buffer {
  const out = Buffer.allocUnsafeSlow((picks.length / 2) * q * 4);
  const ow = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let o = 0;
  for (let k = 0; k < picks.length; k += 2) {
    const from = src[picks[k]!]!;
    const at = picks[k + 1]!;
    for (let x = 0; x < q; x++) ow[o++] = from[at + x]!;
  }
  return out;
}

/**
 * The ids whose row count goes from 0 (adds) or to 0 (removes), and the multi list after,
 * from the indexed state S, its multi list U, and the counted ids of new (A) and gone (R) lines.
 */
export function applyCounts(S: Buffer | StateView, U: Buffer, A: CountedRecords, R: CountedRecords, w: number, where: string): { adds: Buffer; removes: Buffer; multi: Buffer } {
  const q = w >>> 2;
  const uq = q + 1;
  const state = S instanceof StateView ? S : new StateView({ base: S, adds: EMPTY, removes: EMPTY }, w);
  const aw = wordsOf(A.unique);
  const rw = wordsOf(R.unique);
  const uw = wordsOf(U);
  const nA = A.unique.length / w;
  const nR = R.unique.length / w;
  const nU = U.length / (4 * uq);
  const src = [aw, rw];
  const adds: number[] = [];
  const removes: number[] = [];
  // The multi list after: runs of U kept as they are, and changed entries.
  const multi: Buffer[] = [];
  let i = 0;
  let j = 0;
  let u = 0;
  let copyFrom = 0;
  while (i < nA || j < nR) {
    const c = i >= nA ? 1 : j >= nR ? -1 : cmpAt(aw, i * q, rw, j * q, q);
    const kw = c <= 0 ? aw : rw;
    const ki = c <= 0 ? i * q : j * q;
    const a = c <= 0 ? (A.counts?.[i] ?? 1) : 0;
    const r = c >= 0 ? (R.counts?.[j] ?? 1) : 0;
    while (u < nU && cmpAt(uw, u * uq, kw, ki, q) < 0) u++;
    if (u > copyFrom) multi.push(U.subarray(copyFrom * 4 * uq, u * 4 * uq));
    copyFrom = u;
    let before: number;
    if (u < nU && cmpAt(uw, u * uq, kw, ki, q) === 0) {
      before = uw[u * uq + q]!;
      copyFrom = ++u;
    } else before = state.has(kw, ki) ? 1 : 0;
    const now = before - r + a;
    if (now < 0) throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `shard ${where}: the lines gone since the applied state give an id more often than its rows did; the row index does not match the applied state`);
    if (before === 0 && now > 0) adds.push(c <= 0 ? 0 : 1, ki);
    if (before > 0 && now === 0) removes.push(c <= 0 ? 0 : 1, ki);
    if (now >= 2) {
      const e = Buffer.allocUnsafe(4 * uq);
      const ew = new Uint32Array(e.buffer, e.byteOffset, uq);
      for (let x = 0; x < q; x++) ew[x] = kw[ki + x]!;
      ew[q] = now;
      multi.push(e);
    }
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
  if (nU > copyFrom) multi.push(U.subarray(copyFrom * 4 * uq));
  return { adds: gatherRecords(src, adds, q), removes: gatherRecords(src, removes, q), multi: multi.length === 1 ? multi[0]! : Buffer.concat(multi) };
}
