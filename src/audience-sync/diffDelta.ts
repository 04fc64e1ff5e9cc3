import type { IdentifierType } from '../identifiers/schema';
import { readJsonObject, type BlobStore } from '../storage';
import { diffSnapshot, type ShardDiff } from './diff';
import { checkMulti, multiWidth, sortCountRecords, type CountedRecords } from './digestCounts';
import { isSortedUniqueLines } from './digestLists';
import { concatRecords, isSortedUniqueRecords, minusRecords, recordsOfHexLines, unionRecords } from './digestRecords';
import type { DiffCheckpoint, DiffGroupInput } from './diffRun';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { layout } from './layout';
import { ListPacker, lineWidth, readLists, recordWidth } from './listStore';
import { mapLimit } from './pool';
import { ManifestSchema, type DiffGroup, type Manifest, type ShardTypeResult, type SpillPart } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
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
  const budget = input.readBudgetBytes ?? 16 << 20;
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

  while (cp.next < to) {
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
    const idxLists = await readStateLists(stores, idx, types, s0, s1, budget, concurrency);
    const baseLists = direct ? idxLists : await readStateLists(stores, base, types, s0, s1, budget, concurrency);

    const packers = {
      add: new ListPacker(work, layout.diffLists(runId, s0, s1, 'add')),
      remove: new ListPacker(work, layout.diffLists(runId, s0, s1, 'remove')),
      state: new ListPacker(work, layout.diffLists(runId, s0, s1, 'state')),
      multi: new ListPacker(work, layout.diffLists(runId, s0, s1, 'multi')),
    };
    for (const type of types) {
      const w = recordWidth(type);
      for (let s = s0; s < s1; s++) {
        const xx = shardName(s);
        const k = `${s}/${type}`;
        const S = idxLists.state.get(k) ?? EMPTY;
        const U = idxLists.multi.get(k) ?? EMPTY;
        const A = counted(newIds.get(k), w);
        const R = counted(goneIds.get(k), w);
        const change = applyCounts(S, U, A, R, w, `${xx}/${type}`);
        const desired = unionRecords(minusRecords(S, change.removes, w), change.adds, w);
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
    cp.next = s1;
    await onProgress(cp);
  }
  return { schema: 1, runId, baseVersion: base?.version ?? null, syncMode, from, to, shards: cp.shards, ...(syncMode === 'mirror' ? { rowCounts: true as const } : {}) };
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
  );
  const withMulti = present.filter((p) => p.ref.multi);
  const multis = await readLists(
    stores,
    withMulti.map(({ ref, type }) => ({ uri: ref.multi!.uri, start: ref.multi!.start, bytes: ref.multi!.count * multiWidth(recordWidth(type)) })),
    budget,
    concurrency,
  );
  for (const [j, { type, s, ref }] of present.entries()) {
    let ids = lists[j]!;
    let ok = false;
    try {
      if (ref.format !== 'records' && isSortedUniqueLines(ids, lineWidth(type))) ids = recordsOfHexLines(ids, lineWidth(type));
      ok = isSortedUniqueRecords(ids, recordWidth(type));
    } catch {
      ok = false;
    }
    if (!ok)
      throw new AudienceDataError(
        AudienceDataErrorTypes.corruptData,
        `${ref.uri}: an applied-state list of manifest ${m.version} at byte ${ref.start} is not ${ref.count} sorted ${type} lines; it was altered outside ttsync`,
      );
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

function has(S: Buffer, key: Buffer, w: number): boolean {
  let lo = 0;
  let hi = S.length / w - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = Buffer.compare(S.subarray(mid * w, mid * w + w), key);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * The ids whose row count goes from 0 (adds) or to 0 (removes), and the multi list after,
 * from the indexed state S, its multi list U, and the counted ids of new (A) and gone (R) lines.
 */
export function applyCounts(S: Buffer, U: Buffer, A: CountedRecords, R: CountedRecords, w: number, where: string): { adds: Buffer; removes: Buffer; multi: Buffer } {
  const mw = multiWidth(w);
  const nA = A.unique.length / w;
  const nR = R.unique.length / w;
  const nU = U.length / mw;
  const adds: Buffer[] = [];
  const removes: Buffer[] = [];
  const multi: Buffer[] = [];
  let i = 0;
  let j = 0;
  let u = 0;
  let copyFrom = 0;
  while (i < nA || j < nR) {
    const ka = i < nA ? A.unique.subarray(i * w, i * w + w) : null;
    const kr = j < nR ? R.unique.subarray(j * w, j * w + w) : null;
    const c = !ka ? 1 : !kr ? -1 : Buffer.compare(ka, kr);
    const key = c <= 0 ? ka! : kr!;
    const a = c <= 0 ? (A.counts?.[i] ?? 1) : 0;
    const r = c >= 0 ? (R.counts?.[j] ?? 1) : 0;
    while (u < nU && Buffer.compare(U.subarray(u * mw, u * mw + w), key) < 0) u++;
    let before: number;
    if (u < nU && Buffer.compare(U.subarray(u * mw, u * mw + w), key) === 0) {
      // U's entries before this one stay as they are; this one is replaced below.
      if (u > copyFrom) multi.push(U.subarray(copyFrom * mw, u * mw));
      before = U.readUInt32LE(u * mw + w);
      copyFrom = ++u;
    } else {
      if (u > copyFrom) multi.push(U.subarray(copyFrom * mw, u * mw));
      copyFrom = u;
      before = has(S, key, w) ? 1 : 0;
    }
    const now = before - r + a;
    if (now < 0) throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `shard ${where}: the lines gone since the applied state give an id more often than its rows did; the row index does not match the applied state`);
    if (before === 0 && now > 0) adds.push(key);
    if (before > 0 && now === 0) removes.push(key);
    if (now >= 2) {
      const e = Buffer.allocUnsafe(mw);
      key.copy(e, 0);
      e.writeUInt32LE(now, w);
      multi.push(e);
    }
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
  if (nU > copyFrom) multi.push(U.subarray(copyFrom * mw));
  return { adds: Buffer.concat(adds), removes: Buffer.concat(removes), multi: Buffer.concat(multi) };
}
