import { randomBytes } from 'node:crypto';
import { createGcsClient, openBlobStore, parseStorageUri, type BlobStore } from '../storage';
import { fail, info, ok, scheduleCheck, warn, type CheckOutcome, type DoctorCheck, type DoctorContext, type DoctorSource } from '../temporal/doctor';
import { csvFields, csvRecords } from './aggregates';
import type { DatasetConfig } from './config';
import { loadDatasetConfigs } from './configFile';
import type { RetentionTickInput } from './messages';
import { retentionSchedules } from './schedules';
import { partitionDateOf } from './window';

/*
 * `ttsync doctor --lifecycle retention`: per dataset, the records folder (partitions found,
 * the newest one's header has the network and attribution time columns), the audit folder
 * (a probe written, read, listed, deleted under `<datasetId>/doctor/`), what the bucket keeps
 * of replaced bytes (soft delete, versioning), and the daily Schedule. Nothing a run reads is
 * written. Run it where the workers run: the storage credentials are this process's.
 */

function recordsCheck(c: DatasetConfig): DoctorCheck {
  return {
    name: 'records',
    async run(): Promise<CheckOutcome> {
      const store = openBlobStore(c.records.uri);
      let partitions = 0;
      let newest: { key: string; date: string } | undefined;
      const dates = new Set<string>();
      for await (const infoOf of store.list('')) {
        const date = partitionDateOf(infoOf.key);
        if (!date) continue;
        partitions++;
        dates.add(date);
        if (!newest || date > newest.date) newest = { key: infoOf.key, date };
      }
      if (!newest) return warn(`no date=YYYY-MM-DD/ partition under ${c.records.uri}`, 'check records.uri: the policy scans objects under date=YYYY-MM-DD/ folders only');
      const head = (await store.readBuffer(newest.key).catch(() => undefined))?.subarray(0, 64 * 1024).toString('utf8') ?? '';
      const need = [c.records.networkColumn, c.records.attributionTimeColumn];
      let columns: string[];
      if (c.records.format === 'csv') columns = csvFields((csvRecords(head)[0]?.text ?? '').replace(/^\ufeff/, ''), c.records.delimiter).map((f) => f.value.trim());
      else {
        try {
          columns = Object.keys(JSON.parse(head.split('\n')[0] ?? '') as object);
        } catch {
          return fail(`${store.uriOf(newest.key)} does not start with a JSON line`, 'records.format says ndjson: fix the format or the export');
        }
      }
      const missing = need.filter((n) => !columns.includes(n));
      if (missing.length) return fail(`${store.uriOf(newest.key)} lacks ${missing.map((m) => `"${m}"`).join(', ')} (it has ${columns.slice(0, 20).join(', ')})`, 'set records.networkColumn / records.attributionTimeColumn to the names the export uses');
      return ok(`${partitions} objects in ${dates.size} partitions, newest ${newest.date}; its header has ${need.join(' and ')}`);
    },
  };
}

function auditCheck(c: DatasetConfig): DoctorCheck {
  return {
    name: 'audit',
    async run() {
      const store: BlobStore = openBlobStore(c.audit);
      const key = `${c.datasetId}/doctor/probe-${Date.now()}-${randomBytes(4).toString('hex')}.txt`;
      try {
        await store.write(key, 'ttsync doctor probe\n');
        await store.readBuffer(key);
        for await (const e of store.list(`${c.datasetId}/doctor/`)) void e;
        await store.delete(key);
      } catch (err) {
        return fail(`the audit folder ${c.audit} cannot be written, read and listed: ${(err as Error).message}`, 'the runs keep progress records, staged versions and audit records there: fix its permissions or credentials');
      }
      return ok(`the audit folder ${c.audit} can be written, read and listed`);
    },
  };
}

function oldBytesCheck(c: DatasetConfig): DoctorCheck {
  return {
    name: 'old-bytes',
    async run() {
      const loc = parseStorageUri(c.records.uri);
      if (loc.kind !== 'gs') return info(`${c.records.uri} is a local folder: a replaced file is unlinked (filesystem snapshots and backups keep their own copies)`);
      const [meta] = await createGcsClient().bucket(loc.bucket).getMetadata();
      const seconds = Number((meta as { softDeletePolicy?: { retentionDurationSeconds?: string | number } }).softDeletePolicy?.retentionDurationSeconds ?? 0);
      const versioning = Boolean((meta as { versioning?: { enabled?: boolean } }).versioning?.enabled);
      const keeps = [seconds > 0 ? `soft delete keeps replaced objects ${Math.round(seconds / 86400)} day(s)` : '', versioning ? 'Object Versioning keeps noncurrent versions' : ''].filter(Boolean);
      if (!keeps.length) return ok(`gs://${loc.bucket} keeps no soft-deleted or noncurrent copies: replaced bytes are gone at once`);
      return warn(`gs://${loc.bucket}: ${keeps.join('; ')}: anonymized data stays recoverable until then`, 'shorten the bucket\'s soft delete retention and add a lifecycle rule deleting noncurrent versions, or accept the delay (every audit record states it)');
    },
  };
}

function scheduleOf(c: DatasetConfig, ctx: DoctorContext): DoctorCheck {
  const planned = retentionSchedules.plan(c, { cadence: '1d', taskQueue: ctx.queues.control });
  return scheduleCheck(ctx, {
    scheduleId: planned.scheduleId,
    workflowType: planned.workflowType,
    taskQueue: ctx.queues.control,
    applyCommand: `ttsync schedules apply --lifecycle retention --config <this config> --task-queue ${ctx.queues.control} --data-queue ${ctx.queues.data}`,
    argProblems: (arg) => {
      const input = arg as Partial<RetentionTickInput> | undefined;
      const problems: string[] = [];
      if (input?.config?.datasetId !== c.datasetId) problems.push(`its tick is for dataset "${String(input?.config?.datasetId)}"`);
      const data = input?.queues?.data ?? 'ttsync-data';
      if (data !== ctx.queues.data) problems.push(`its run's data queue is "${data}", not "${ctx.queues.data}"`);
      return problems;
    },
  });
}

export const retentionDoctor: DoctorSource<DatasetConfig> = {
  lifecycle: 'retention',
  load: (path) => loadDatasetConfigs(path),
  subjectOf: (c) => c.datasetId,
  checks: (c, ctx) => [recordsCheck(c), auditCheck(c), oldBytesCheck(c), scheduleOf(c, ctx)],
};
