import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ABSENT_GENERATION, isStorageError, readJsonForUpdate, readJsonObject, StoredJsonError, type BlobStore } from '../storage';
import { clearedColumns, type DatasetConfig } from './config';
import { RetentionError, RetentionFailureType } from './failures';
import { partitionDateOf } from './window';

/*
 * The audit folder of a dataset (config.audit):
 *   <datasetId>/months/<YYYY-MM>.json        progress of the partition objects of one month (below)
 *   <datasetId>/objects/<sha256(key)>.json   progress of one partition object: the format before month
 *                                            records, still read, and still written by per-object activities
 *   <datasetId>/staging/<sha256(key)>.<gen>  a checked new version not yet in place (only versions
 *                                            before the one-pass write made these; still resumed)
 *   <datasetId>/runs/<asOf>_<finishedAt>_<runId>.json   one record per run
 *   <datasetId>/alerts/open.json             the failure announced and not yet cleared (below)
 *   <datasetId>/aggregate-moves/<runId>/<sha256(table, key)>.json  a run's move of one aggregate object
 * An object's progress moves clean | staged → replaced. `staged` is written once the new
 * version streamed past its count check, before the store publishes it (the store's temporary
 * file or unfinished upload holds it until then), and names the old generation and both
 * digests, so a run that dies anywhere resumes by comparing the object with them: already the
 * new digest → finish; still the old generation → read it again (a staged copy of an older
 * version goes in place instead); anything else → read it again. Never a mix: a version goes
 * in place whole, by a compare-and-swap on the generation that was read.
 *
 * A month record holds the progress records of its month's objects (by partition date), so
 * a batch of objects costs two durable writes, not two per object: one naming every prepared
 * object `staged` before any of them is published, one naming them `replaced` after. The
 * resume rules are the same, object by object. It is replaced by compare-and-swap, so two
 * batches of one month never lose each other's entries. Where an object has both a month
 * entry and a per-object record (written by an older worker), the later `updatedAt` decides.
 */

export const OBJECT_STATE_VERSION = 1;

const CountsSchema = z.object({
  rowsSeen: z.number().int(),
  rowsAnonymized: z.number().int(),
  tiktokWithinWindow: z.number().int(),
  unreadableRows: z.number().int(),
});

export const ObjectStateSchema = z.object({
  version: z.literal(OBJECT_STATE_VERSION),
  key: z.string(),
  /** Digest of the policy settings that shape the output: a change of them rescans everything. */
  policy: z.string(),
  phase: z.enum(['clean', 'staged', 'replaced']),
  /** The generation the object is at when this record is current (after the replace, the new one). */
  generation: z.string(),
  sha256: z.string(),
  oldGeneration: z.string().optional(),
  oldSha256: z.string().optional(),
  newSha256: z.string().optional(),
  stagedKey: z.string().optional(),
  counts: CountsSchema,
  /** When the earliest kept TikTok row falls past its window (ISO), or null. */
  nextDueAt: z.string().nullable(),
  unreadableSamples: z.array(z.object({ record: z.number(), reason: z.string() })).default([]),
  absentColumns: z.array(z.string()).default([]),
  asOf: z.string(),
  runId: z.string(),
  updatedAt: z.string(),
});
export type ObjectState = z.output<typeof ObjectStateSchema>;

export const MONTH_RECORD_VERSION = 1;

export const MonthRecordSchema = z.object({
  version: z.literal(MONTH_RECORD_VERSION),
  datasetId: z.string(),
  month: z.string(),
  /** By object key. */
  objects: z.record(z.string(), ObjectStateSchema),
});
export type MonthRecord = z.output<typeof MonthRecordSchema>;

export const RUN_RECORD_VERSION = 1;

export const RunRecordSchema = z.object({
  version: z.literal(RUN_RECORD_VERSION),
  datasetId: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  asOf: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  cutoffs: z.record(z.string(), z.string()),
  scanUpTo: z.string(),
  partitions: z.array(z.string()),
  objectsScanned: z.number(),
  objectsSkipped: z.number(),
  objectsChanged: z.number(),
  rowsSeen: z.number(),
  rowsAnonymized: z.number(),
  tiktokWithinWindow: z.number(),
  unreadableRows: z.number(),
  changed: z.boolean(),
  objects: z.array(
    z.object({
      key: z.string(),
      outcome: z.string(),
      rowsSeen: z.number(),
      rowsAnonymized: z.number(),
      oldSha256: z.string(),
      newSha256: z.string(),
      oldGeneration: z.string(),
      newGeneration: z.string(),
    }),
  ),
  aggregates: z.array(
    z.object({ table: z.string(), key: z.string(), outcome: z.string(), rowsMoved: z.number(), rowsMerged: z.number(), days: z.number(), oldSha256: z.string(), newSha256: z.string() }),
  ),
  /** Where replaced bytes may still exist after the run, and until when. */
  oldBytes: z.string(),
});
export type RunRecord = z.output<typeof RunRecordSchema>;

const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 40);

export const AuditKeys = {
  object: (datasetId: string, key: string): string => `${datasetId}/objects/${hashKey(key)}.json`,
  objectsPrefix: (datasetId: string): string => `${datasetId}/objects/`,
  month: (datasetId: string, month: string): string => `${datasetId}/months/${month}.json`,
  staging: (datasetId: string, key: string, generation: string): string => `${datasetId}/staging/${hashKey(key)}.${generation}`,
  runsPrefix: (datasetId: string): string => `${datasetId}/runs/`,
  openAlert: (datasetId: string): string => `${datasetId}/alerts/open.json`,
  /** A run's move of one aggregate object, written before the object is replaced (see aggregates.ts). */
  aggregateMove: (datasetId: string, runId: string, table: string, key: string): string => `${datasetId}/aggregate-moves/${runId}/${hashKey(`${table}\n${key}`)}.json`,
  run: (datasetId: string, asOf: string, finishedAt: string, runId: string): string => `${datasetId}/runs/${asOf}_${finishedAt.replace(/[:.]/g, '')}_${runId}.json`,
};

const policyDigests = new WeakMap<DatasetConfig, string>();

/** What shapes an anonymized row: any change to these means every object is read again. */
export function policyDigest(config: DatasetConfig): string {
  let digest = policyDigests.get(config);
  if (digest === undefined) policyDigests.set(config, (digest = policyDigestOf(config)));
  return digest;
}

function policyDigestOf(config: DatasetConfig): string {
  const r = config.records;
  const windows = config.tiktokNetworks.map((n) => [n, config.windowMonthsByNetwork[n] ?? config.windowMonths]);
  return createHash('sha256')
    .update(JSON.stringify({ format: r.format, delimiter: r.delimiter, network: r.networkColumn, time: r.attributionTimeColumn, timeFormat: r.timeFormat, cleared: clearedColumns(config), windows, organic: config.organicNetwork }))
    .digest('hex')
    .slice(0, 32);
}

function corrupt(err: unknown): never {
  if (err instanceof StoredJsonError) throw new RetentionError(RetentionFailureType.AuditCorrupt, err.message);
  throw err;
}

async function readObjectRecord(audit: BlobStore, datasetId: string, key: string): Promise<ObjectState | null> {
  try {
    return await readJsonObject(audit, AuditKeys.object(datasetId, key), ObjectStateSchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return null;
    return corrupt(err);
  }
}

/** The month whose record holds `key`'s progress: its partition's (keys outside partitions share one). */
export function monthOf(key: string): string {
  return partitionDateOf(key)?.slice(0, 7) ?? 'undated';
}

const later = (a: ObjectState | null, b: ObjectState | null): ObjectState | null => (!a ? b : !b ? a : Date.parse(b.updatedAt) > Date.parse(a.updatedAt) ? b : a);

/**
 * The progress records of one dataset, read once per month and kept with the generation
 * they were read at (the next compare-and-swap of the month goes against it). One instance
 * serves a plan or a batch: another writer of the same month makes our write lose, and it
 * reads the month again.
 */
export class ObjectStates {
  private readonly months = new Map<string, { record: MonthRecord | null; generation: string }>();
  /** Hashes of the per-object records that exist, when listed up front (a plan): others are not read. */
  private objectRecords: Set<string> | null = null;

  constructor(
    private readonly audit: BlobStore,
    private readonly datasetId: string,
  ) {}

  /** Lists the per-object records once, so objects without one cost no failed read. */
  async listObjectRecords(): Promise<void> {
    const found = new Set<string>();
    for await (const info of this.audit.list(AuditKeys.objectsPrefix(this.datasetId))) found.add(info.key);
    this.objectRecords = found;
  }

  /**
   * Whether any per-object record exists (the first listed entry suffices): a dataset that
   * has none, as every dataset since batches, then costs no failed read per object.
   */
  async noteObjectRecords(): Promise<void> {
    for await (const _ of this.audit.list(AuditKeys.objectsPrefix(this.datasetId))) return;
    this.objectRecords = new Set();
  }

  private async month(month: string, fresh = false): Promise<{ record: MonthRecord | null; generation: string }> {
    let m = fresh ? undefined : this.months.get(month);
    if (!m) {
      const r = await readJsonForUpdate(this.audit, AuditKeys.month(this.datasetId, month), MonthRecordSchema).catch(corrupt);
      m = { record: r.value, generation: r.generation };
      this.months.set(month, m);
    }
    return m;
  }

  /** `fresh`: the month record read again (another writer may have put its entry since). */
  async get(key: string, fresh = false): Promise<ObjectState | null> {
    const inMonth = (await this.month(monthOf(key), fresh)).record?.objects[key] ?? null;
    const recordKey = AuditKeys.object(this.datasetId, key);
    const own = this.objectRecords && !this.objectRecords.has(recordKey) ? null : await readObjectRecord(this.audit, this.datasetId, key);
    return later(inMonth, own);
  }

  /** Durably records `states` (each replacing its object's entry), one write per month they fall in. */
  async put(states: ObjectState[]): Promise<void> {
    const byMonth = new Map<string, ObjectState[]>();
    for (const s of states) {
      const m = monthOf(s.key);
      byMonth.set(m, [...(byMonth.get(m) ?? []), s]);
    }
    for (const [month, entries] of byMonth) {
      for (let attempt = 1; ; attempt++) {
        const m = await this.month(month, attempt > 1);
        const record: MonthRecord = m.record ?? { version: MONTH_RECORD_VERSION, datasetId: this.datasetId, month, objects: {} };
        const objects = { ...record.objects };
        for (const e of entries) objects[e.key] = e;
        const next: MonthRecord = { ...record, objects };
        try {
          const w = await this.audit.writeIfGeneration(AuditKeys.month(this.datasetId, month), JSON.stringify(next) + '\n', m.generation, { contentType: 'application/json', md5: false });
          this.months.set(month, { record: next, generation: w.generation });
          break;
        } catch (err) {
          // Another batch of the month wrote in between: read it again and put ours over it.
          if (!isStorageError(err, 'precondition_failed') || attempt >= 8) throw err;
        }
      }
    }
  }
}

/** An object's progress: its month entry or its per-object record, the later of the two. */
export async function readObjectState(audit: BlobStore, datasetId: string, key: string): Promise<ObjectState | null> {
  return new ObjectStates(audit, datasetId).get(key);
}

export async function writeObjectState(audit: BlobStore, datasetId: string, state: ObjectState): Promise<void> {
  await audit.write(AuditKeys.object(datasetId, state.key), JSON.stringify(state, null, 1) + '\n', { contentType: 'application/json' });
}

/** Whether an object needs no scan on `asOfMs`: same bytes, same policy, and no kept TikTok row due by then. */
export function isDone(state: ObjectState | null, generation: string, policy: string, asOfMs: number): boolean {
  if (!state || state.phase === 'staged') return false;
  if (state.generation !== generation || state.policy !== policy) return false;
  return state.nextDueAt === null || Date.parse(state.nextDueAt) > asOfMs;
}

export async function* listRunRecords(audit: BlobStore, datasetId: string): AsyncGenerator<RunRecord> {
  for await (const info of audit.list(AuditKeys.runsPrefix(datasetId))) {
    if (!info.key.endsWith('.json')) continue;
    yield await readJsonObject(audit, info.key, RunRecordSchema).catch(corrupt);
  }
}

/** The caveat every run record carries: where the replaced bytes may live on. */
export function oldBytesNote(recordsUri: string): string {
  if (recordsUri.startsWith('gs://'))
    return (
      'replaced in place by a conditional write; GCS keeps the replaced generation as a soft-deleted object (7 days by default, ' +
      "the bucket's soft delete policy) and, if Object Versioning is on, as a noncurrent version until a lifecycle rule deletes it: " +
      'the data is gone only when those expire'
    );
  return 'replaced in place by a rename: the old file is unlinked (snapshots or backups of the filesystem keep their own copies)';
}

/**
 * A failure announced and not yet cleared: the first failed run since the last success. The
 * next successful run announces once that it cleared (its notice key comes from this run id)
 * and then deletes the record; runs are days apart, so the state lives here, not in a workflow.
 */
export const OpenAlertSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  workflowId: z.string(),
  asOf: z.string(),
  /** The failure type (e.g. RetentionDatasetUnreadable): no message, which may name rows' values. */
  failure: z.string(),
});
export type OpenAlert = z.output<typeof OpenAlertSchema>;

export async function readOpenAlert(audit: BlobStore, datasetId: string): Promise<OpenAlert | null> {
  try {
    return await readJsonObject(audit, AuditKeys.openAlert(datasetId), OpenAlertSchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return null;
    return corrupt(err);
  }
}

/** Records `alert` unless one is open already (the first failure stays the one to clear); returns the open one. */
export async function openAlert(audit: BlobStore, datasetId: string, alert: OpenAlert): Promise<OpenAlert> {
  try {
    await audit.writeIfGeneration(AuditKeys.openAlert(datasetId), JSON.stringify(alert, null, 1) + '\n', ABSENT_GENERATION, { contentType: 'application/json' });
    return alert;
  } catch (err) {
    if (!isStorageError(err, 'precondition_failed')) throw err;
    return (await readOpenAlert(audit, datasetId)) ?? alert;
  }
}

/** Deletes the open alert if it is still the one of `runId` (a newer failure stays open). */
export async function closeAlert(audit: BlobStore, datasetId: string, runId: string): Promise<void> {
  const open = await readOpenAlert(audit, datasetId);
  if (open?.runId === runId) await audit.delete(AuditKeys.openAlert(datasetId), { ignoreNotFound: true });
}
