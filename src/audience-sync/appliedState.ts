import type { IdentifierType } from '../identifiers/schema';
import { ABSENT_GENERATION, isStorageError, parseStoredJson, readJsonObject, StorageError, type BlobStore } from '../storage';
import { checkCoverage } from './buildFiles';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { layout, RunIdSchema } from './layout';
import { ManifestSchema, PointerSchema, type DiffGroup, type Manifest, type Pointer } from './schemas';

export interface AppliedState {
  pointer: Pointer | null;
  /** The CURRENT object's generation: the compare-and-swap token of the next commit. */
  generation: string;
  manifest: Manifest | null;
}

/**
 * The audience's applied state: the manifest CURRENT points to, or nothing (generation
 * ABSENT) before the first commit.
 */
export async function readAppliedState(work: BlobStore, destinationId: string): Promise<AppliedState> {
  const key = layout.current(destinationId);
  let raw: Buffer;
  let generation: string;
  try {
    // stat, then read, then stat again: the generation must belong to the bytes read.
    for (let attempt = 1; ; attempt++) {
      const before = await work.stat(key);
      raw = await work.readBuffer(key);
      const after = await work.stat(key);
      if (before.generation === after.generation) {
        generation = after.generation;
        break;
      }
      if (attempt >= 5) throw new StorageError('unavailable', `${work.uriOf(key)} changed during each of 5 reads; another writer is committing`, { uri: work.uriOf(key) });
    }
  } catch (err) {
    if (isStorageError(err, 'not_found')) return { pointer: null, generation: ABSENT_GENERATION, manifest: null };
    throw err;
  }
  const pointer = parseStoredJson(raw, PointerSchema, work.uriOf(key));
  const manifest = await readJsonObject(work, pointer.manifestKey, ManifestSchema);
  if (manifest.version !== pointer.version)
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${work.uriOf(key)} points to version ${pointer.version} but ${pointer.manifestKey} is version ${manifest.version}`);
  return { pointer, generation, manifest };
}

export function versionOf(seq: number, runId: string): string {
  return `${String(seq).padStart(8, '0')}-${RunIdSchema.parse(runId)}`;
}

/** The manifest after a run: the diff groups' new state lists (every shard, every type). */
export function nextManifest(
  destinationId: string,
  base: Manifest | null,
  runId: string,
  audienceId: string | null,
  groups: readonly DiffGroup[],
  committedAt: Date,
  /** The run's row index (rowIndex.ts): named only when every group counted its digests. */
  rowIndex?: { key: string; runs?: string[] },
): Manifest {
  const shards = checkCoverage(groups, runId);
  const seq = (base?.seq ?? 0) + 1;
  const types: Manifest['types'] = {};
  let deltas = false;
  for (const [xx, byType] of [...shards.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [type, r] of Object.entries(byType) as [IdentifierType, NonNullable<(typeof byType)[IdentifierType]>][]) {
      if (r.state === 0) continue;
      if (!r.stateAt) throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `shard ${xx} of ${type} counts ${r.state} ids but names no state list`);
      const t = (types[type] ??= { count: 0, shards: {} });
      t.count += r.state;
      t.shards[xx] = {
        uri: r.stateAt.uri,
        start: r.stateAt.start,
        count: r.state,
        ...(r.stateAt.format ? { format: r.stateAt.format } : {}),
        ...(r.multiAt && r.multi ? { multi: { uri: r.multiAt.uri, start: r.multiAt.start, count: r.multi } } : {}),
        ...(r.stateDelta ? { delta: r.stateDelta } : {}),
      };
      if (r.stateDelta) deltas = true;
    }
  }
  // Types of the base that the groups do not mention would silently vanish from the state.
  for (const type of Object.keys(base?.types ?? {}) as IdentifierType[])
    for (const byType of shards.values())
      if (!byType[type]) throw new AudienceDataError(AudienceDataErrorTypes.badConfig, `the diff groups leave out ${type}, which the applied state holds`);
  return {
    schema: deltas ? 2 : 1,
    destinationId,
    version: versionOf(seq, runId),
    seq,
    runId,
    baseVersion: base?.version ?? null,
    audienceId,
    committedAt: committedAt.toISOString(),
    types,
    ...(rowIndex && groups.every((g) => g.rowCounts) ? { rowIndex } : {}),
  };
}

export interface CommitResult {
  version: string;
  manifestUri: string;
  /** True when this run had already been committed (a retried commit). */
  alreadyCommitted: boolean;
  counts: Partial<Record<IdentifierType, number>>;
}

/**
 * Commits a run's diff as the applied state: writes the new manifest (a key of its own,
 * so concurrent runs never overwrite each other's), then flips CURRENT from the base
 * version with a compare-and-swap. A crash before the flip leaves the old state in force
 * and loses nothing; committing the same run again is a no-op; a run whose base is no
 * longer CURRENT gets an AppliedStateConflict.
 */
export async function commitAppliedState(
  work: BlobStore,
  destinationId: string,
  runId: string,
  baseVersion: string | null,
  audienceId: string | null,
  groups: readonly DiffGroup[],
  now: Date,
  rowIndex?: { key: string; runs?: string[] },
): Promise<CommitResult> {
  const cur = await readAppliedState(work, destinationId);
  if (cur.pointer?.runId === runId && cur.manifest) return result(work, cur.manifest, cur.pointer.manifestKey, true);
  const curVersion = cur.pointer?.version ?? null;
  if (curVersion !== baseVersion) throw conflict(destinationId, runId, baseVersion, curVersion);
  for (const g of groups)
    if (g.baseVersion !== baseVersion)
      throw new AudienceDataError(AudienceDataErrorTypes.conflict, `diff group ${g.from}-${g.to} of run ${runId} was computed against ${g.baseVersion ?? 'no applied state'}, not ${baseVersion ?? 'no applied state'}`);
  const manifest = nextManifest(destinationId, cur.manifest, runId, audienceId, groups, now, rowIndex);
  const manifestKey = layout.manifest(destinationId, manifest.version);
  await work.write(manifestKey, JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
  const pointer: Pointer = { schema: 1, version: manifest.version, runId, manifestKey };
  try {
    await work.writeIfGeneration(layout.current(destinationId), JSON.stringify(pointer), cur.generation, { contentType: 'application/json' });
  } catch (err) {
    if (!isStorageError(err, 'precondition_failed')) throw err;
    const now2 = await readAppliedState(work, destinationId);
    if (now2.pointer?.runId === runId && now2.manifest) return result(work, now2.manifest, now2.pointer.manifestKey, true);
    throw conflict(destinationId, runId, baseVersion, now2.pointer?.version ?? null);
  }
  return result(work, manifest, manifestKey, false);
}

function conflict(destinationId: string, runId: string, base: string | null, current: string | null): AudienceDataError {
  return new AudienceDataError(
    AudienceDataErrorTypes.conflict,
    `cannot commit run ${runId} for destination ${destinationId}: it was diffed against applied state ${base ?? '(none)'}, but ${current ?? '(none)'} is current; another run committed first, so this run must diff again`,
  );
}

function result(work: BlobStore, m: Manifest, manifestKey: string, alreadyCommitted: boolean): CommitResult {
  const counts: Partial<Record<IdentifierType, number>> = {};
  for (const [t, v] of Object.entries(m.types)) if (v) counts[t as IdentifierType] = v.count;
  return { version: m.version, manifestUri: work.uriOf(manifestKey), alreadyCommitted, counts };
}
