import type { IdentifierType } from '../identifiers/schema';
import { readJsonObject, type BlobStore } from '../storage';
import { appliedListRecords } from './appliedLists';
import { diffSnapshot, type ShardDiff } from './diff';
import { checkMulti, cmpAt, multiWidth, sortCountRecords, wordsOf, type CountedRecords } from './digestCounts';
import { concatRecords } from './digestRecords';
import { diffPackers, type DiffCheckpoint, type DiffGroupInput } from './diffTypes';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { layout } from './layout';
import { lineWidth, readLists, recordWidth } from './listStore';
import { mapLimit } from './pool';
import { ManifestSchema, type DiffGroup, type Manifest, type ShardTypeResult, type SpillPart } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
import { borrow, giveBack, usePool } from './stepMemory';
import type { Stores } from './stores';

/*
 * Diff of a delta run (snapshotDelta.ts): the snapshot's ids are the indexed state's ids
 * minus the ids no row gives any more plus the ids of new rows. Per shard and type, with S
 * the indexed state's list and U its multi list (digestCounts.ts: how many rows gave each id
 * given more than once; 1 for the rest of S, 0 for an id not in S), each id of the new lines
 * (A) or the gone lines (R) has now = before − (times in R) + (times in A): an id going from 0
 * is an add, one going to 0 a remove. Nothing else changes, so the whole snapshot is never
 * sorted: the state is S − removes ∪ adds, copied in runs.
 *
 * When the run's base is not the indexed state (a dry run that raced a commit) or the mode
 * is addOnly, that list is the snapshot's desired ids, diffed against the base as usual.
 */

const EMPTY = Buffer.alloc(0);

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
  return { schema: 1, runId, baseVersion: base?.version ?? null, syncMode, from, to, shards: cp.shards, ...(syncMode === 'mirror' ? { rowCounts: true as const } : {}) };

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
    // The state lists are read into borrowed memory, and the lists after written into more.
    const roomBytes = stateBytes(idx, s0, s1) + (direct ? 0 : stateBytes(base, s0, s1));
    const room = roomBytes ? borrow(roomBytes) : EMPTY;
    const idxLists = await readStateLists(stores, idx, types, s0, s1, budget, concurrency, room);
    const baseLists = direct ? idxLists : await readStateLists(stores, base, types, s0, s1, budget, concurrency, room.subarray(stateBytes(idx, s0, s1)));

    const changes = new Map<string, { S: Buffer; U: Buffer; change: ReturnType<typeof applyCounts> }>();
    let after = 0;
    for (const type of types) {
      const w = recordWidth(type);
      for (let s = s0; s < s1; s++) {
        const k = `${s}/${type}`;
        const S = idxLists.state.get(k) ?? EMPTY;
        const U = idxLists.multi.get(k) ?? EMPTY;
        const A = counted(newIds.get(k), w);
        const R = counted(goneIds.get(k), w);
        const change = applyCounts(S, U, A, R, w, `${shardName(s)}/${type}`);
        if (change.adds.length || change.removes.length) after += S.length - change.removes.length + change.adds.length;
        changes.set(k, { S, U, change });
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
        const { S, U, change } = changes.get(k)!;
        const desired = applyChanges(S, change.removes, change.adds, w, out.subarray(used));
        if (desired !== S) used += desired.length;
        const applied = direct ? S : (baseLists.state.get(k) ?? EMPTY);
        const appliedRef = base?.types[type]?.shards[xx];
        let d: ShardDiff = direct ? { adds: change.adds, removes: change.removes, state: desired } : diffSnapshot(desired, applied, syncMode, w);
        if (input.resend) d = { adds: d.state, removes: EMPTY, state: d.state };
        const r: ShardTypeResult = { input: desired.length / w, applied: applied.length / w, adds: d.adds.length / w, removes: d.removes.length / w, state: d.state.length / w };
        if (d.removes.length) r.removeAt = packers.remove.add(d.removes);
        if (d.state.length) {
          const unchanged = appliedRef && d.state.length === applied.length && !d.adds.length && !d.removes.length;
          r.stateAt = unchanged ? { uri: appliedRef.uri, start: appliedRef.start, ...(appliedRef.format ? { format: appliedRef.format } : {}) } : packers.state.add(d.state);
        }
        if (d.adds.length) r.addAt = d.adds === d.state && r.stateAt ? { ...r.stateAt } : packers.add.add(d.adds);
        if (syncMode === 'mirror') {
          r.multi = change.multi.length / multiWidth(w);
          const oldMulti = idx.types[type]?.shards[xx]?.multi;
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
        if (ref) n += ref.count * (ref.format === 'records' ? recordWidth(type) : lineWidth(type));
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

/** A manifest's state lists (as records) and multi lists of shards [s0, s1). */
async function readStateLists(
  stores: Stores,
  m: Manifest | null,
  types: readonly IdentifierType[],
  s0: number,
  s1: number,
  budget: number,
  concurrency: number,
  room: Buffer,
): Promise<{ state: Map<string, Buffer>; multi: Map<string, Buffer> }> {
  const state = new Map<string, Buffer>();
  const multi = new Map<string, Buffer>();
  if (!m) return { state, multi };
  const wanted = types.flatMap((type) => Array.from({ length: s1 - s0 }, (_, k) => ({ type, s: s0 + k })));
  const present = wanted.flatMap(({ type, s }) => {
    const ref = m.types[type]?.shards[shardName(s)];
    return ref ? [{ type, s, ref }] : [];
  });
  const lists = await readLists(
    stores,
    present.map(({ ref, type }) => ({ uri: ref.uri, start: ref.start, bytes: ref.count * (ref.format === 'records' ? recordWidth(type) : lineWidth(type)) })),
    budget,
    concurrency,
    room,
  );
  const withMulti = present.filter((p) => p.ref.multi);
  const multis = await readLists(
    stores,
    withMulti.map(({ ref, type }) => ({ uri: ref.multi!.uri, start: ref.multi!.start, bytes: ref.multi!.count * multiWidth(recordWidth(type)) })),
    budget,
    concurrency,
  );
  for (const [j, { type, s, ref }] of present.entries()) {
    const ids = appliedListRecords(lists[j]!, type, ref, m.version);
    state.set(`${s}/${type}`, ids);
  }
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

/** The first record of S (q words each) from `lo` on that is not before the key at kw[ki]. */
function lowerBound(S: Uint32Array, n: number, lo: number, kw: Uint32Array, ki: number, q: number): number {
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpAt(S, mid * q, kw, ki, q) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
export function applyCounts(S: Buffer, U: Buffer, A: CountedRecords, R: CountedRecords, w: number, where: string): { adds: Buffer; removes: Buffer; multi: Buffer } {
  const q = w >>> 2;
  const uq = q + 1;
  const sw = wordsOf(S);
  const aw = wordsOf(A.unique);
  const rw = wordsOf(R.unique);
  const uw = wordsOf(U);
  const nS = S.length / w;
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
  let s = 0;
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
    } else {
      s = lowerBound(sw, nS, s, kw, ki, q);
      before = s < nS && cmpAt(sw, s * q, kw, ki, q) === 0 ? 1 : 0;
    }
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

/**
 * S − removes ∪ adds (removes ⊆ S, adds disjoint from S; all sorted): S copied in runs
 * between the changes, which are few (a churn's), instead of record by record.
 */
export function applyChanges(S: Buffer, removes: Buffer, adds: Buffer, w: number, into?: Buffer): Buffer {
  if (!removes.length && !adds.length) return S;
  const q = w >>> 2;
  const sw = wordsOf(S);
  const xw = wordsOf(removes);
  const yw = wordsOf(adds);
  const nS = S.length / w;
  const nX = removes.length / w;
  const nY = adds.length / w;
  const size = S.length - removes.length + adds.length;
  if (into && into.length < size) throw new RangeError(`a list of ${size} bytes does not fit in ${into.length}`);
  const out = into ?? Buffer.allocUnsafeSlow(size);
  let o = 0;
  let s = 0;
  let i = 0;
  let j = 0;
  while (i < nX || j < nY) {
    const takeRemove = j >= nY || (i < nX && cmpAt(xw, i * q, yw, j * q, q) < 0);
    const kw = takeRemove ? xw : yw;
    const ki = takeRemove ? i * q : j * q;
    const p = lowerBound(sw, nS, s, kw, ki, q);
    if (p > s) o += S.copy(out, o, s * w, p * w);
    s = p;
    if (takeRemove) {
      if (!(s < nS && cmpAt(sw, s * q, kw, ki, q) === 0)) throw new RangeError('a removed id is not in the list');
      s++;
      i++;
    } else {
      o += adds.copy(out, o, j * w, j * w + w);
      j++;
    }
  }
  if (s < nS) o += S.copy(out, o, s * w, nS * w);
  return out.subarray(0, o);
}
