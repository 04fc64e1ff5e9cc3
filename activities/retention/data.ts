import { ApplicationFailure, CancelledFailure, heartbeat } from '@temporalio/activity';
import { ConfigError } from '../../src/config/errors';
import { moveAggregateTable } from '../../src/retention/aggregates';
import { AuditKeys, ObjectStates, oldBytesNote, RUN_RECORD_VERSION, RunRecordSchema, type RunRecord } from '../../src/retention/audit';
import { parseDatasetConfig, type DatasetConfig, type DatasetConfigInput } from '../../src/retention/config';
import { RETENTION_NON_RETRYABLE, RetentionError, RetentionFailureType } from '../../src/retention/failures';
import type { AggregateResult, ObjectResult, RetentionPlan, RetentionRunSummary } from '../../src/retention/messages';
import { planRetention, processBatch, processObject, type RetentionStores } from '../../src/retention/objects';
import { StorageError, StoredJsonError, openBlobStore, readJsonObject, type BlobStore } from '../../src/storage';

/*
 * The retention data plane on the data task queue. Inputs and results carry object keys,
 * counts and digests only; rows stay in storage.
 */

export interface RetentionDataDeps {
  /** Opens a folder URI as a store (tests wrap it to watch or stall reads). */
  openStore?: (uri: string) => BlobStore;
  now?: () => Date;
}

export function toRetentionFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const fail = (type: string, message: string, cause: unknown): ApplicationFailure =>
    ApplicationFailure.create({ type, message, nonRetryable: RETENTION_NON_RETRYABLE.includes(type), cause: cause instanceof Error ? cause : undefined });
  // A RetentionError raised while a store pulled the anonymized stream reaches us wrapped in
  // the store's StorageError ("cannot write …"): its own type decides, not the write's.
  const own = retentionErrorIn(err);
  if (own) return fail(own.type, own.message, own);
  if (err instanceof StoredJsonError) return fail(RetentionFailureType.AuditCorrupt, err.message, err);
  if (err instanceof ConfigError) return fail(RetentionFailureType.InvalidConfig, err.message, err);
  if (err instanceof StorageError) {
    switch (err.code) {
      case 'bucket_not_found':
      case 'permission':
      case 'bad_uri':
      case 'invalid_key':
        return fail(RetentionFailureType.StorageAccessDenied, err.message, err);
      case 'precondition_failed':
      case 'not_found':
        return fail(RetentionFailureType.ObjectChanged, err.message, err);
      default:
        return fail(RetentionFailureType.StorageUnavailable, err.message, err);
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

function retentionErrorIn(err: unknown): RetentionError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof RetentionError) return e;
  return undefined;
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toRetentionFailure(err);
  }
}

export interface AnonymizeObjectInput {
  config: DatasetConfigInput;
  key: string;
  asOf: string;
  dryRun: boolean;
  /** The workflow run, recorded in the object's progress record (the audit collects them by it). */
  runId: string;
}

export interface AnonymizeBatchInput {
  config: DatasetConfigInput;
  /** The batch's object keys (src/retention/messages.ts objectBatches). */
  keys: string[];
  asOf: string;
  dryRun: boolean;
  runId: string;
}

export interface WriteAuditInput {
  config: DatasetConfigInput;
  plan: RetentionPlan;
  summary: Omit<RetentionRunSummary, 'auditUri' | 'finishedAt' | 'nextDue'>;
  aggregates: AggregateResult[];
  workflowId: string;
  runId: string;
  startedAt: string;
}

/** The record a run wrote already, if any (its key ends with the run id). */
async function runRecordOf(audit: BlobStore, datasetId: string, runId: string): Promise<{ auditUri: string; finishedAt: string } | undefined> {
  for await (const info of audit.list(AuditKeys.runsPrefix(datasetId))) {
    if (!info.key.endsWith(`_${runId}.json`)) continue;
    const record = await readJsonObject(audit, info.key, RunRecordSchema);
    if (record.runId === runId) return { auditUri: audit.uriOf(info.key), finishedAt: record.finishedAt };
  }
  return undefined;
}

export function createRetentionDataActivities(deps: RetentionDataDeps = {}) {
  const open = deps.openStore ?? ((uri: string) => openBlobStore(uri));
  const now = deps.now ?? (() => new Date());
  const configOf = (c: DatasetConfigInput): DatasetConfig => parseDatasetConfig(c, 'dataset config');
  const storesOf = (c: DatasetConfig): RetentionStores => ({ records: open(c.records.uri), audit: open(c.audit) });

  return {
    /** Lists the partition objects due on `asOf` (progress records read, nothing written). */
    async retentionPlan(input: { config: DatasetConfigInput; asOf: string }): Promise<RetentionPlan> {
      return mapped(async () => {
        const config = configOf(input.config);
        return planRetention(storesOf(config), config, input.asOf);
      });
    },

    /** One partition object anonymized and put in place (or, dry, only counted); heartbeats while streaming. */
    async retentionAnonymizeObject(input: AnonymizeObjectInput): Promise<ObjectResult> {
      return mapped(async () => {
        const config = configOf(input.config);
        heartbeat({ key: input.key, bytes: 0 });
        return processObject(
          storesOf(config),
          { config, key: input.key, asOf: input.asOf, dryRun: input.dryRun, runId: input.runId },
          { progress: (p) => heartbeat(p), now },
        );
      });
    },

    /**
     * Several partition objects with one `staged` and one `replaced` progress write in all
     * (processBatch); a retry resumes each object from its entry. Heartbeats while streaming.
     */
    async retentionAnonymizeBatch(input: AnonymizeBatchInput): Promise<ObjectResult[]> {
      return mapped(async () => {
        const config = configOf(input.config);
        heartbeat({ key: input.keys[0], bytes: 0 });
        return processBatch(storesOf(config), { config, keys: input.keys, asOf: input.asOf, dryRun: input.dryRun, runId: input.runId }, { progress: (p) => heartbeat(p), now });
      });
    },

    /** Every aggregate table: TikTok rows of days past the window moved to Organic. */
    async retentionMoveAggregates(input: { config: DatasetConfigInput; asOf: string; dryRun: boolean; runId?: string }): Promise<AggregateResult[]> {
      return mapped(async () => {
        const config = configOf(input.config);
        // The run's notes of its moves (histories before runId was passed have none to read).
        const journal = input.runId ? { audit: open(config.audit), datasetId: config.datasetId, runId: input.runId } : undefined;
        const out: AggregateResult[] = [];
        for (const table of config.aggregates) {
          heartbeat({ table: table.name });
          out.push(...(await moveAggregateTable(open(table.uri), table, config, input.asOf, input.dryRun, journal)));
        }
        return out;
      });
    },

    /**
     * The run's audit record: every object this run streamed, from its progress record
     * (digests and generations), and the aggregate objects it rewrote.
     */
    async retentionWriteAudit(input: WriteAuditInput): Promise<{ auditUri: string; finishedAt: string }> {
      return mapped(async () => {
        const config = configOf(input.config);
        const stores = storesOf(config);
        // A retry (its worker died after the write, or the store's answer was lost after the
        // write took effect) finds this run's record and keeps it: one record per run, or the
        // report would count the run and its rows twice.
        const written = await runRecordOf(stores.audit, config.datasetId, input.runId);
        if (written) return written;
        const objects: RunRecord['objects'] = [];
        const states = new ObjectStates(stores.audit, config.datasetId);
        await states.listObjectRecords();
        for (const { key } of input.plan.due) {
          const s = await states.get(key);
          if (!s || s.runId !== input.runId) continue;
          objects.push({
            key,
            outcome: s.phase === 'replaced' ? 'anonymized' : s.phase,
            rowsSeen: s.counts.rowsSeen,
            rowsAnonymized: s.phase === 'replaced' ? s.counts.rowsAnonymized : 0,
            oldSha256: s.oldSha256 ?? s.sha256,
            newSha256: s.sha256,
            oldGeneration: s.oldGeneration ?? s.generation,
            newGeneration: s.generation,
          });
        }
        const finishedAt = now().toISOString();
        const record: RunRecord = {
          version: RUN_RECORD_VERSION,
          datasetId: config.datasetId,
          workflowId: input.workflowId,
          runId: input.runId,
          asOf: input.plan.asOf,
          startedAt: input.startedAt,
          finishedAt,
          cutoffs: input.plan.cutoffs,
          scanUpTo: input.plan.scanUpTo,
          partitions: [...new Set(input.plan.due.map((d) => d.partition))].sort(),
          objectsScanned: input.summary.objectsScanned,
          objectsSkipped: input.summary.objectsSkipped,
          objectsChanged: input.summary.objectsChanged,
          rowsSeen: input.summary.rowsSeen,
          rowsAnonymized: input.summary.rowsAnonymized,
          tiktokWithinWindow: input.summary.tiktokWithinWindow,
          unreadableRows: input.summary.unreadableRows,
          changed: input.summary.changed,
          objects,
          aggregates: input.aggregates.map((a) => ({ table: a.table, key: a.key, outcome: a.outcome, rowsMoved: a.rowsMoved, rowsMerged: a.rowsMerged, days: a.days, oldSha256: a.oldSha256, newSha256: a.newSha256 })),
          oldBytes: oldBytesNote(config.records.uri),
        };
        const key = AuditKeys.run(config.datasetId, input.plan.asOf, finishedAt, input.runId);
        await stores.audit.write(key, JSON.stringify(record, null, 1) + '\n', { contentType: 'application/json' });
        return { auditUri: stores.audit.uriOf(key), finishedAt };
      });
    },
  };
}

export type RetentionDataActivities = ReturnType<typeof createRetentionDataActivities>;
