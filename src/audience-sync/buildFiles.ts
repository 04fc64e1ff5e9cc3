import type { IdentifierType } from '../identifiers/schema';
import type { BlobStore } from '../storage';
import { calculateTypeOf, type CalculateType } from '../tiktok/types';
import { coalesce, customerFileBytes, digestWidth, ListCursor, planFiles, type FileAction, type FileLimits, type ListRef } from './customerFiles';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { layout } from './layout';
import { readRange } from './listStore';
import { Md5Thread } from './md5Thread';
import { mapLimit } from './pool';
import type { DiffGroup } from './schemas';
import { SHARD_COUNT, shardName } from './shards';
import type { Stores } from './stores';

/** Largest read of adjacent lists while building (the cursor holds a few such reads). */
const READ_SPAN = 8 << 20;

/** One customer file ready for upload: everything TikTok's file upload needs except the bytes. */
export interface BuiltFile {
  uri: string;
  type: IdentifierType;
  calculateType: CalculateType;
  action: FileAction;
  ids: number;
  bytes: number;
  md5: string;
}

/** Every shard exactly once across the groups, or a clear error (a missing shard would lose ids). */
export function checkCoverage(groups: readonly DiffGroup[], runId: string): Map<string, DiffGroup['shards'][string]> {
  const shards = new Map<string, DiffGroup['shards'][string]>();
  const base = groups[0]?.baseVersion ?? null;
  for (const g of groups) {
    if (g.runId !== runId) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `diff group ${g.from}-${g.to} belongs to run ${g.runId}, not ${runId}`);
    if (g.baseVersion !== base) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, 'diff groups were computed against different applied-state versions');
    for (const [xx, v] of Object.entries(g.shards)) {
      if (shards.has(xx)) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `shard ${xx} is in two diff groups`);
      shards.set(xx, v);
    }
  }
  const missing: string[] = [];
  for (let s = 0; s < SHARD_COUNT; s++) if (!shards.has(shardName(s))) missing.push(shardName(s));
  if (missing.length)
    throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `the diff groups do not cover shards ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''}`);
  return shards;
}

/**
 * Packs the adds (APPEND) and removes (REMOVE) of every type into customer files: one
 * type per file, ids in sorted order (shards 00..ff concatenated), each file at most
 * `maxIds` ids and `maxBytes` bytes, its MD5 computed from the bytes as they are written
 * and checked against the store's own count. File i of (action, type) always holds the
 * same ids, so `done` files of an earlier attempt are skipped, not rebuilt.
 */
export async function buildFiles(
  work: BlobStore,
  stores: Stores,
  runId: string,
  groups: readonly DiffGroup[],
  limits: FileLimits,
  onFile: (done: BuiltFile[]) => Promise<void>,
  done: readonly BuiltFile[] = [],
): Promise<BuiltFile[]> {
  const shards = checkCoverage(groups, runId);
  const types = [...new Set([...shards.values()].flatMap((v) => Object.keys(v) as IdentifierType[]))].sort();
  const built: BuiltFile[] = [...done];
  const doneUris = new Set(done.map((f) => f.uri));
  // A local store hashes only to report the MD5: large files are hashed on a second
  // thread instead, while this one makes the lines and the store writes them. GCS hashes
  // to guard the upload, so there its own MD5 stays the one pass.
  const local = work.uri.startsWith('file:');
  // The types of one action are built LANES at a time, each lane its own file after file
  // (and its own MD5 thread): one file at a time left this thread idle two thirds of the
  // time, waiting for reads, writes and fsyncs. MD5 threads are started once per build and
  // passed from type to type (a thread's start costs tens of ms of CPU). Every thread started
  // is closed when the build ends, and none is started after that (by a lane still running
  // when another failed).
  const threads = { idle: [] as Md5Thread[], started: [] as Md5Thread[], closed: false };
  try {
    for (const action of ['APPEND', 'REMOVE'] as const) {
      await mapLimit(types, LANES, async (type) => {
        const lane: { thread: Md5Thread | null } = { thread: null };
        const md5Thread = (): Md5Thread => {
          if (lane.thread) return lane.thread;
          if (threads.closed) throw new Error('the build has stopped');
          let t = threads.idle.pop();
          if (!t) threads.started.push((t = new Md5Thread()));
          return (lane.thread = t);
        };
        let ok = false;
        try {
          const lists: ListRef[] = [];
          for (let s = 0; s < SHARD_COUNT; s++) {
            const r = shards.get(shardName(s))?.[type];
            const at = action === 'APPEND' ? r?.addAt : r?.removeAt;
            const count = action === 'APPEND' ? (r?.adds ?? 0) : (r?.removes ?? 0);
            if (count > 0 && at) lists.push({ ...at, count });
            else if (count > 0) throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `shard ${shardName(s)} counts ${count} ${type} ${action} ids but names no list`);
          }
          const total = lists.reduce((n, l) => n + l.count, 0);
          const plan = planFiles(type, total, limits);
          const width = digestWidth(type) + 1;
          const cursor = new ListCursor(coalesce(lists, width, READ_SPAN), width, (uri, start, bytes) => readRange(stores, uri, start, bytes));
          for (let i = 0; i < plan.length; i++) {
            const p = plan[i]!;
            const key = layout.file(runId, action, type, i);
            if (doneUris.has(work.uriOf(key))) {
              cursor.skip(p.ids);
              continue;
            }
            // One MD5 pass: the store's as the bytes go out (GCS also checks its own against
            // it), or on the MD5 thread. A second tally here was a third of a first sync's build.
            const tally = { bytes: 0 };
            const bytes = customerFileBytes(type, cursor.take(p.ids), limits.header, tally);
            const hasher = local && p.bytes >= THREAD_MIN_BYTES ? md5Thread() : null;
            const w = await work.write(key, hasher ? hashedBy(hasher, bytes) : bytes, { contentType: 'text/csv', reusesChunks: true, ...(hasher ? { md5: false } : {}) });
            const md5 = hasher ? await hasher.digest() : w.md5;
            if (w.size !== p.bytes || tally.bytes !== p.bytes || !/^[0-9a-f]{32}$/.test(md5) || (w.md5 !== '' && w.md5 !== md5))
              throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${work.uriOf(key)}: wrote ${w.size} bytes (md5 ${md5 || 'none'}); planned ${p.bytes} bytes`);
            built.push({ uri: work.uriOf(key), type, calculateType: calculateTypeOf(type), action, ids: p.ids, bytes: p.bytes, md5 });
            await onFile([...built]);
          }
          ok = true;
        } finally {
          // A thread whose file failed may hold part of a digest: it is not passed on.
          if (lane.thread && ok && !threads.closed) threads.idle.push(lane.thread);
        }
      });
    }
  } finally {
    threads.closed = true;
    await Promise.all(threads.started.map((t) => t.close()));
  }
  return order(built);
}

/** Types built at once (two cores: more lanes only hold more memory). */
const LANES = 2;

/** Files from this size on are hashed on the MD5 thread (below it, starting the thread costs more). */
const THREAD_MIN_BYTES = 4 << 20;

/** The chunks as they are, each given to the MD5 thread (copied) before the store takes it. */
async function* hashedBy(thread: Md5Thread, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    await thread.update(c);
    yield c;
  }
}

/** APPEND before REMOVE, then type, then file name: the order files were planned in. */
function order(files: BuiltFile[]): BuiltFile[] {
  const rank = (f: BuiltFile) => (f.action === 'APPEND' ? 0 : 1);
  return [...files].sort((a, b) => rank(a) - rank(b) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}
