import type { IdentifierType } from '../identifiers/schema';
import type { BlobStore } from '../storage';
import { diffChanges, diffSnapshot, type ShardDiff, type SyncMode } from './diff';
import { isSortedUnique, linesOf, listBytes, sortUnique } from './digestLists';
import { AudienceDataError, AudienceDataErrorTypes } from './errors';
import { layout, type InputSet } from './layout';
import type { DiffGroup, Manifest, PreparedRun, ShardTypeResult, SpillPart } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
import type { Stores } from './stores';

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
  /** Bytes of spill data read at once (several shards per range read while it fits). */
  readBudgetBytes?: number;
}

/**
 * Diffs shards [from, to) of a prepared run against the applied state: for each shard,
 * gathers its digests from every spill part (one byte range a part), sorts and dedupes
 * them, merges with the applied list, and writes the sorted input shard, the adds, the
 * removes and the new state. Outputs are functions of the inputs only, so a retried or
 * resumed group rewrites identical bytes.
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
  const budget = input.readBudgetBytes ?? 32 << 20;
  const T = prepared.types.length;
  const types = [...new Set<IdentifierType>([...prepared.types, ...(Object.keys(base?.types ?? {}) as IdentifierType[])])].sort();
  const cp: DiffCheckpoint = resume && resume.next >= from && resume.next <= to ? structuredClone(resume) : { next: from, shards: {} };
  const sets: InputSet[] = prepared.kind === 'snapshot' ? ['snapshot'] : ['enters', 'exits'];

  while (cp.next < to) {
    // A run of shards whose spill bytes fit the budget: one range read per part.
    const s0 = cp.next;
    let s1 = s0 + 1;
    while (s1 < to && bytesOf(prepared, sets, T, s0, s1 + 1) <= budget) s1++;
    const gathered = new Map<string, string[]>();
    for (const set of sets) {
      for (const part of prepared.sets[set] ?? []) {
        const start = part.offsets[s0 * T]!;
        const end = part.offsets[s1 * T]!;
        if (end <= start) continue;
        const bytes = await readRange(work, part, start, end);
        for (let s = s0; s < s1; s++)
          for (let t = 0; t < T; t++) {
            const a = part.offsets[s * T + t]! - start;
            const b = part.offsets[s * T + t + 1]! - start;
            if (b <= a) continue;
            const k = `${set}/${s}/${prepared.types[t]}`;
            const list = gathered.get(k);
            const lines = linesOf(bytes, a, b);
            if (list) for (const l of lines) list.push(l);
            else gathered.set(k, lines);
          }
      }
    }
    for (let s = s0; s < s1; s++) {
      const xx = shardName(s);
      const out: Partial<Record<IdentifierType, ShardTypeResult>> = {};
      for (const type of types) {
        const applied = await appliedList(stores, base, type, xx);
        const take = (set: InputSet) => sortUnique(gathered.get(`${set}/${s}/${type}`) ?? []);
        let d: ShardDiff;
        let inputIds: string[];
        let exits: string[] | undefined;
        if (prepared.kind === 'snapshot') {
          inputIds = take('snapshot');
          d = diffSnapshot(inputIds, applied.ids, syncMode);
        } else {
          inputIds = take('enters');
          exits = take('exits');
          d = diffChanges(inputIds, exits, applied.ids, syncMode);
        }
        const r: ShardTypeResult = { input: inputIds.length, applied: applied.ids.length, adds: d.adds.length, removes: d.removes.length, state: d.state.length };
        if (exits) r.exits = exits.length;
        let inputUri: string | undefined;
        if (prepared.kind === 'snapshot' && inputIds.length) inputUri = await writeList(work, layout.shard(runId, type, xx), inputIds);
        if (d.adds.length) r.addUri = await writeList(work, layout.diffList(runId, type, xx, 'add'), d.adds);
        if (d.removes.length) r.removeUri = await writeList(work, layout.diffList(runId, type, xx, 'remove'), d.removes);
        if (d.state.length) {
          // Unchanged: keep pointing at the applied list. Mirror snapshot: the state is the input shard.
          if (!d.adds.length && !d.removes.length && applied.uri && d.state.length === applied.ids.length) r.stateUri = applied.uri;
          else if (inputUri && prepared.kind === 'snapshot' && syncMode === 'mirror') r.stateUri = inputUri;
          else r.stateUri = await writeList(work, layout.state(runId, type, xx), d.state);
        }
        out[type] = r;
      }
      cp.shards[xx] = out;
      cp.next = s + 1;
    }
    await onProgress(cp);
  }
  return { schema: 1, runId, baseVersion: base?.version ?? null, syncMode, from, to, shards: cp.shards };
}

function bytesOf(prepared: PreparedRun, sets: InputSet[], T: number, s0: number, s1: number): number {
  let n = 0;
  for (const set of sets) for (const p of prepared.sets[set] ?? []) n += p.offsets[s1 * T]! - p.offsets[s0 * T]!;
  return n;
}

async function readRange(work: BlobStore, part: SpillPart, start: number, end: number): Promise<Buffer> {
  const stream = await work.openRead(part.key, { start, end: end - 1 });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  if (buf.length !== end - start)
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${work.uriOf(part.key)}: read ${buf.length} bytes of range ${start}-${end - 1}; the spill part is shorter than its index says`);
  return buf;
}

async function appliedList(stores: Stores, base: Manifest | null, type: IdentifierType, xx: string): Promise<{ ids: string[]; uri: string | undefined }> {
  const ref = base?.types[type]?.shards[xx];
  if (!ref) return { ids: [], uri: undefined };
  const ids = linesOf(await stores.read(ref.uri));
  if (ids.length !== ref.count || !isSortedUnique(ids))
    throw new AudienceDataError(
      AudienceDataErrorTypes.corruptData,
      `${ref.uri}: the applied-state list of manifest ${base?.version ?? '?'} holds ${ids.length} ids (recorded: ${ref.count}) or is not sorted; it was altered outside ttsync`,
    );
  return { ids, uri: ref.uri };
}

async function writeList(work: BlobStore, key: string, ids: readonly string[]): Promise<string> {
  await work.write(key, listBytes(ids), { contentType: 'text/plain' });
  return work.uriOf(key);
}
