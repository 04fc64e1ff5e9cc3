import type { IdentifierType } from '../identifiers/schema';
import { appliedListRecords } from './appliedLists';
import { cmpAt, wordsOf } from './digestCounts';
import { be, isSortedUniqueRecords, minusRecords, unionRecords } from './digestRecords';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { lineWidth, readLists, recordWidth } from './listStore';
import type { DiffGroup, ListAt, Manifest, RecordListRef, StateDelta } from './schemas';
import type { Stores } from './stores';

/*
 * State lists kept as a base and a net change (schemas.ts, StateDeltaSchema). A 1% churn
 * changes about 1% of each list but touches every shard, so writing each changed list whole
 * wrote the whole state (96 MiB at 1M rows of three identifiers) every hour: a third of a
 * churn diff's CPU, most of it the kernel's. A delta diff (diffDelta.ts) writes the net
 * change since the base instead; once that grows past a fraction of the base the list is
 * written whole again, so reading a state costs at most that fraction more than reading it whole.
 */

/** A manifest's reference to one shard's state list of one type. */
export type StateRef = NonNullable<Manifest['types'][IdentifierType]>['shards'][string];

/** A delta is kept while its ids are at most this fraction of its base's; past it the list is written whole. */
export const STATE_DELTA_COMPACT_AT = 0.125;

/** A state list as stored: its base list and the net change over it (records, sorted, unique; adds ∩ base = ∅, removes ⊆ base). */
export interface StateParts {
  base: Buffer;
  adds: Buffer;
  removes: Buffer;
}

const EMPTY = Buffer.alloc(0);
export const NO_STATE: StateParts = { base: EMPTY, adds: EMPTY, removes: EMPTY };

function baseCount(ref: StateRef): number {
  return ref.delta ? ref.delta.base : ref.count;
}

/** Bytes a state list takes in storage (its base in its own form, and its delta's lists). */
export function storedStateBytes(ref: StateRef, type: IdentifierType): number {
  const w = recordWidth(type);
  return baseCount(ref) * (ref.format === 'records' ? w : lineWidth(type)) + ((ref.delta?.adds?.count ?? 0) + (ref.delta?.removes?.count ?? 0)) * w;
}

/**
 * Reads state lists as their parts, with as few requests as their layout allows (into `room`
 * where the store reads into the caller's memory: at least their storedStateBytes together).
 * A list that is not what its manifest says was altered outside ttsync: corrupt data.
 */
export async function readStateParts(
  stores: Stores,
  refs: readonly { ref: StateRef; type: IdentifierType }[],
  version: string,
  budget: number,
  concurrency: number,
  room?: Buffer,
): Promise<StateParts[]> {
  const ranges: { uri: string; start: number; bytes: number }[] = [];
  for (const { ref, type } of refs) {
    const w = recordWidth(type);
    ranges.push({ uri: ref.uri, start: ref.start, bytes: baseCount(ref) * (ref.format === 'records' ? w : lineWidth(type)) });
    for (const d of [ref.delta?.adds, ref.delta?.removes]) if (d) ranges.push({ uri: d.uri, start: d.start, bytes: d.count * w });
  }
  const bytes = await readLists(stores, ranges, budget, concurrency, room);
  const out: StateParts[] = [];
  let k = 0;
  for (const { ref, type } of refs) {
    const w = recordWidth(type);
    const base = appliedListRecords(bytes[k++]!, type, { uri: ref.uri, start: ref.start, count: baseCount(ref), ...(ref.format ? { format: ref.format } : {}) }, version);
    const part = (d: RecordListRef | undefined): Buffer => {
      if (!d) return EMPTY;
      const ids = bytes[k++]!;
      if (!isSortedUniqueRecords(ids, w))
        throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${d.uri}: a state delta of manifest ${version} at byte ${d.start} is not ${d.count} sorted ${type} records; it was altered outside ttsync`);
      return ids;
    };
    const adds = part(ref.delta?.adds);
    const removes = part(ref.delta?.removes);
    if (baseCount(ref) - removes.length / w + adds.length / w !== ref.count)
      throw new AudienceDataError(
        AudienceDataErrorTypes.corruptData,
        `${ref.uri}: a state list of manifest ${version} at byte ${ref.start} counts ${ref.count} ids, but its base and delta give ${baseCount(ref) - removes.length / w + adds.length / w}`,
      );
    out.push({ base, adds, removes });
  }
  return out;
}

/** The state as one sorted list (the base itself when there is no delta). */
export function wholeState(p: StateParts, w: number, where: string, into?: Buffer): Buffer {
  try {
    return applyChanges(p.base, p.removes, p.adds, w, into);
  } catch (err) {
    if (err instanceof RangeError && /removed id/.test(err.message))
      throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${where}: a state delta removes an id its base list does not hold; it was altered outside ttsync`);
    throw err;
  }
}

/** The ids in the state after the parts' ids: a state list's count. */
export function stateCount(p: StateParts, w: number): number {
  return (p.base.length - p.removes.length + p.adds.length) / w;
}

/**
 * The net change over the base after a further change of the state (adds: ids the state did
 * not hold; removes: ids it held): an id added back after its removal leaves the removes, an
 * id removed after its addition leaves the adds.
 */
export function composeDelta(prev: StateParts, change: { adds: Buffer; removes: Buffer }, w: number): { adds: Buffer; removes: Buffer } {
  return {
    adds: unionRecords(minusRecords(prev.adds, change.removes, w), minusRecords(change.adds, prev.removes, w), w),
    removes: unionRecords(minusRecords(prev.removes, change.adds, w), minusRecords(change.removes, prev.adds, w), w),
  };
}

/** A diff group summary's schema: 2 when a result names a state delta (workers before deltas refuse it), else 1. */
export function groupSchema(shards: DiffGroup['shards']): 1 | 2 {
  for (const byType of Object.values(shards)) for (const r of Object.values(byType)) if (r?.stateDelta) return 2;
  return 1;
}

/** What a diff names for a state list it leaves as it was: the same base, and its delta if any. */
export function keptState(ref: StateRef): { stateAt: ListAt; stateDelta?: StateDelta } {
  return { stateAt: { uri: ref.uri, start: ref.start, ...(ref.format ? { format: ref.format } : {}) }, ...(ref.delta ? { stateDelta: ref.delta } : {}) };
}

/** The first record of S (q words each) from `lo` on that is not before the key at kw[ki]. */
export function lowerBound(S: Uint32Array, n: number, lo: number, kw: Uint32Array, ki: number, q: number): number {
  let hi = n;
  if (n - lo > INTERPOLATE_PAST) {
    // Digests are uniform: a guess from the first words lands within a few records of the
    // place, and doubling steps from it bracket it (a plain halving took about twice the
    // comparisons on a churn's state lists of a thousand or more).
    const key = be(kw[ki]!);
    const first = be(S[lo * q]!);
    const last = be(S[(n - 1) * q]!);
    if (key > first && key <= last) {
      const p = lo + Math.floor(((key - first) / (last - first + 1)) * (n - lo));
      if (cmpAt(S, p * q, kw, ki, q) < 0) {
        // The place is after p.
        let below = p;
        let step = 1;
        for (;;) {
          const t = below + step;
          if (t >= n) break;
          if (cmpAt(S, t * q, kw, ki, q) >= 0) {
            hi = t;
            break;
          }
          below = t;
          step *= 2;
        }
        lo = below + 1;
      } else {
        // The place is p or before it.
        hi = p;
        let step = 1;
        for (;;) {
          const t = hi - step;
          if (t < lo) break;
          if (cmpAt(S, t * q, kw, ki, q) < 0) {
            lo = t + 1;
            break;
          }
          hi = t;
          step *= 2;
        }
      }
    }
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpAt(S, mid * q, kw, ki, q) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Below this many records a search halves at once (a guess saves nothing there). */
const INTERPOLATE_PAST = 16;

/** A sorted record list searched for ids in ascending order, each search from where the last ended. */
class AscendingSearch {
  private readonly words: Uint32Array;
  private readonly n: number;
  private readonly q: number;
  private at = 0;

  constructor(list: Buffer, w: number) {
    this.words = wordsOf(list);
    this.n = list.length / w;
    this.q = w >>> 2;
  }

  holds(kw: Uint32Array, ki: number): boolean {
    if (this.n === 0) return false;
    this.at = lowerBound(this.words, this.n, this.at, kw, ki, this.q);
    return this.at < this.n && cmpAt(this.words, this.at * this.q, kw, ki, this.q) === 0;
  }
}

/** Whether the state holds an id, from its parts without joining them: asked in ascending order of ids. */
export class StateView {
  private readonly base: AscendingSearch;
  private readonly adds: AscendingSearch;
  private readonly removes: AscendingSearch;

  constructor(
    readonly parts: StateParts,
    w: number,
  ) {
    this.base = new AscendingSearch(parts.base, w);
    this.adds = new AscendingSearch(parts.adds, w);
    this.removes = new AscendingSearch(parts.removes, w);
  }

  has(kw: Uint32Array, ki: number): boolean {
    if (this.adds.holds(kw, ki)) return true;
    if (this.removes.holds(kw, ki)) return false;
    return this.base.holds(kw, ki);
  }
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
