import type { BlobStore } from '../storage';
import { readAppliedState } from './appliedState';
import { RunIdSchema, layout } from './layout';
import type { Manifest } from './schemas';

/** Run folders a destination keeps beyond the ones its applied state needs (storage.keepRuns). */
export const DEFAULT_KEEP_RUNS = 3;

export interface RunGcResult {
  keptRuns: number;
  deletedRuns: number;
  /** Runs kept only for what the applied state reads in them, their other objects deleted (counted in deletedObjects). */
  trimmedRuns: number;
  deletedObjects: number;
  /** Old manifests deleted (audiences/<destinationId>/manifests/), counted in deletedObjects too. */
  deletedManifests: number;
}

/**
 * The run folders of the workdir (`runs/<runId>/...`) the manifest's lists live in. Manifests
 * hold absolute URIs, and an unchanged shard keeps pointing at the run that last changed it,
 * so the applied state can need runs far older than the last few.
 */
export function runsReferencedBy(work: BlobStore, manifest: Manifest): Set<string> {
  const runs = new Set<string>([manifest.runId]);
  // A row index stored as layers reads the folders of the runs that wrote its base and layers.
  for (const runId of manifest.rowIndex?.runs ?? []) runs.add(runId);
  const base = `${work.uri}runs/`;
  for (const t of Object.values(manifest.types))
    for (const ref of Object.values(t?.shards ?? {}))
      // A shard's multi list (digestCounts.ts) and its state delta (stateDelta.ts) may live in other runs than its state list.
      for (const uri of [ref.uri, ...[ref.multi, ref.delta?.adds, ref.delta?.removes].flatMap((l) => (l ? [l.uri] : []))]) {
        if (!uri.startsWith(base)) continue;
        const runId = decodeURIComponent(uri.slice(base.length).split('/')[0] ?? '');
        if (RunIdSchema.safeParse(runId).success) runs.add(runId);
      }
  return runs;
}

/**
 * The objects of the workdir the manifest reads (as URIs): its lists, multi lists and state
 * deltas. A row index reads every rowindex.* object of the runs it names (rowIndexLayers.ts).
 */
export function objectsReferencedBy(manifest: Manifest): Set<string> {
  const uris = new Set<string>();
  for (const t of Object.values(manifest.types))
    for (const ref of Object.values(t?.shards ?? {})) for (const l of [ref, ref.multi, ref.delta?.adds, ref.delta?.removes]) if (l) uris.add(l.uri);
  return uris;
}

const ROW_INDEX_OBJECT = /^rowindex\.[a-z]+$/;

/**
 * Deletes the destination's old run folders: keeps every run the applied state (CURRENT's
 * manifest) references plus the `keepRuns` most recently written, deletes the rest. Only run
 * ids of this destination (`<destinationId>.<cycle>.<run>`, see cycleRunId) are touched, so
 * destinations sharing a workdir never collect each other's runs. Run by the destination's
 * one workflow after its commit, when none of its runs is in flight. Idempotent: a repeat,
 * or a retry after a crash halfway, deletes what is left and nothing else. Without an applied
 * state nothing is deleted.
 *
 * A run kept only because the applied state still reads some of its objects (an unchanged
 * shard's list, a state delta's base, a row index's base) is trimmed to those: its spill,
 * customer files, rejects and summaries go. Otherwise the first sync's folder (spill and
 * customer files: about three times the state's bytes) stayed until its last list and its
 * index base were written anew, a day or more of hourly churn.
 *
 * Old manifests go too: the applied one, any newer one (a cycle that never committed), and
 * the `keepRuns` before it stay; older ones point at run folders deleted long ago.
 */
export async function collectRunGarbage(work: BlobStore, destinationId: string, keepRuns: number): Promise<RunGcResult> {
  const cur = await readAppliedState(work, destinationId);
  if (!cur.manifest) return { keptRuns: 0, deletedRuns: 0, trimmedRuns: 0, deletedObjects: 0, deletedManifests: 0 };
  const needed = runsReferencedBy(work, cur.manifest);
  const runs = new Map<string, { keys: string[]; newest: number }>();
  const prefix = `runs/${destinationId}.`;
  for await (const o of work.list(prefix)) {
    const runId = o.key.slice('runs/'.length).split('/')[0]!;
    const r = runs.get(runId) ?? { keys: [], newest: 0 };
    r.keys.push(o.key);
    r.newest = Math.max(r.newest, o.updated.getTime());
    runs.set(runId, r);
  }
  const byAge = [...runs.entries()].sort(([a, x], [b, y]) => y.newest - x.newest || (a < b ? 1 : -1));
  const recent = byAge.slice(0, Math.max(0, keepRuns)).map(([id]) => id);
  const keep = new Set([...needed, ...recent]);
  const whole = new Set([cur.manifest.runId, ...recent]);
  const read = objectsReferencedBy(cur.manifest);
  const indexRuns = new Set(cur.manifest.rowIndex?.runs ?? []);
  let deletedRuns = 0;
  let trimmedRuns = 0;
  let deletedObjects = 0;
  for (const [runId, r] of byAge) {
    if (whole.has(runId)) continue;
    const trim = keep.has(runId);
    let deleted = 0;
    for (const key of r.keys) {
      if (trim && (read.has(work.uriOf(key)) || (indexRuns.has(runId) && ROW_INDEX_OBJECT.test(key.slice(key.lastIndexOf('/') + 1))))) continue;
      await work.delete(key, { ignoreNotFound: true });
      deleted += 1;
    }
    deletedObjects += deleted;
    if (!trim) deletedRuns += 1;
    else if (deleted > 0) trimmedRuns += 1;
  }
  // Versions sort by their zero-padded sequence number (versionOf).
  const manifestDir = layout.manifest(destinationId, '');
  const older: string[] = [];
  for await (const o of work.list(manifestDir.slice(0, manifestDir.lastIndexOf('/') + 1))) {
    const version = o.key.slice(o.key.lastIndexOf('/') + 1).replace(/\.json$/, '');
    if (version < cur.manifest.version) older.push(o.key);
  }
  older.sort();
  const stale = older.slice(0, Math.max(0, older.length - Math.max(0, keepRuns)));
  for (const key of stale) await work.delete(key, { ignoreNotFound: true });
  return { keptRuns: byAge.length - deletedRuns, deletedRuns, trimmedRuns, deletedObjects: deletedObjects + stale.length, deletedManifests: stale.length };
}
