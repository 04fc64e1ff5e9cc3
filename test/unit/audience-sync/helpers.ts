import { createHash } from 'node:crypto';
import type { IdentifierType } from '../../../src/identifiers/schema';
import { listBytes, shardName, shardOf, SHARD_COUNT, type DiffGroup, type ShardTypeResult } from '../../../src/audience-sync';
import type { BlobStore } from '../../../src/storage';

export const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
export const md5 = (v: string | Buffer): string => createHash('md5').update(v).digest('hex');

/** Sorted, without duplicates: the reference the data plane's lists are checked against. */
export const sortUnique = (ids: Iterable<string>): string[] => [...new Set(ids)].sort();

/** `n` distinct SHA-256 digests of "<prefix><i>". */
export function digests(n: number, prefix = 'id'): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(sha(`${prefix}${i}`));
  return out;
}

/**
 * A diff summary (one group covering all shards) whose adds/removes of `type` are the
 * given digests, written as shard lists in `store`: the input build-files consumes.
 */
export async function writeDiffGroup(
  store: BlobStore,
  runId: string,
  lists: Partial<Record<IdentifierType, { adds?: string[]; removes?: string[] }>>,
): Promise<DiffGroup> {
  const shards: DiffGroup['shards'] = {};
  for (let s = 0; s < SHARD_COUNT; s++) shards[shardName(s)] = {};
  for (const [type, { adds = [], removes = [] }] of Object.entries(lists) as [IdentifierType, { adds?: string[]; removes?: string[] }][]) {
    const split = (ids: string[]) => {
      const by: string[][] = Array.from({ length: SHARD_COUNT }, () => []);
      for (const d of ids) by[shardOf(d)]!.push(d);
      return by.map((l) => sortUnique(l));
    };
    const a = split(adds);
    const r = split(removes);
    for (let s = 0; s < SHARD_COUNT; s++) {
      const xx = shardName(s);
      const res: ShardTypeResult = { input: 0, applied: 0, adds: a[s]!.length, removes: r[s]!.length, state: 0 };
      // One object per list here; diff packs them (both are valid list locations).
      if (a[s]!.length) {
        await store.write(`t/${runId}/${type}/${xx}.add`, listBytes(a[s]!));
        res.addAt = { uri: store.uriOf(`t/${runId}/${type}/${xx}.add`), start: 0 };
      }
      if (r[s]!.length) {
        await store.write(`t/${runId}/${type}/${xx}.remove`, listBytes(r[s]!));
        res.removeAt = { uri: store.uriOf(`t/${runId}/${type}/${xx}.remove`), start: 0 };
      }
      shards[xx]![type] = res;
    }
  }
  return { schema: 1, runId, baseVersion: null, syncMode: 'mirror', from: 0, to: 256, shards };
}
