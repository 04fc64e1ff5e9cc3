import { createHash } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { isStorageError, readJsonObject, type BlobStore } from '../storage';
import { AUDIENCE_LEASE_PREFIX, AudienceLeaseSchema } from '../storage/registry';
import type { AdgroupTargeting } from '../tiktok/client';
import { USAGE_CSV_COLUMNS, type UsageComputed } from './compute';
import type { UsageReportTotals, WrittenUsageReport } from './messages';

/*
 * The usage report's stored formats, in the advertiser's report folder (dataMarketplace.report.storage,
 * default the worker's data folder):
 *   reports/usage/<advertiserId>/<YYYY-MM>.csv              the report (columns: USAGE_CSV_COLUMNS)
 *   reports/usage/<advertiserId>/<YYYY-MM>.json             its sidecar (UsageSidecarSchema, version 1)
 *   reports/usage/<advertiserId>/targeting/<YYYY-MM-DD>.json  a day's targeting (TargetingRecordSchema, version 1)
 * A re-run rewrites the same two report objects; a day's record is rewritten by a later tick of that day.
 */

export const UsageKeys = {
  csv: (advertiserId: string, month: string) => `reports/usage/${advertiserId}/${month}.csv`,
  sidecar: (advertiserId: string, month: string) => `reports/usage/${advertiserId}/${month}.json`,
  targeting: (advertiserId: string, day: string) => `reports/usage/${advertiserId}/targeting/${day}.json`,
} as const;

const AdgroupTargetingSchema = z.object({
  adgroupId: z.string(),
  adgroupName: z.string(),
  campaignId: z.string(),
  campaignName: z.string(),
  audienceIds: z.array(z.string()),
  excludedAudienceIds: z.array(z.string()),
});

export const TargetingRecordSchema = z.object({
  version: z.literal(1),
  advertiserId: z.string(),
  day: z.string(),
  recordedAt: z.string(),
  /** Ad groups that target or exclude at least one audience (the others cannot use a segment). */
  adgroups: z.array(AdgroupTargetingSchema),
});
export type TargetingRecord = z.infer<typeof TargetingRecordSchema>;

export async function writeTargetingRecord(store: BlobStore, advertiserId: string, day: string, adgroups: readonly AdgroupTargeting[], now: Date): Promise<{ uri: string; kept: number }> {
  const kept = adgroups.filter((a) => a.audienceIds.length > 0 || a.excludedAudienceIds.length > 0).sort((a, b) => a.adgroupId.localeCompare(b.adgroupId));
  const record: TargetingRecord = { version: 1, advertiserId, day, recordedAt: now.toISOString(), adgroups: kept };
  const key = UsageKeys.targeting(advertiserId, day);
  await store.write(key, JSON.stringify(record, null, 1) + '\n', { contentType: 'application/json' });
  return { uri: store.uriOf(key), kept: kept.length };
}

/** The records of the given days that exist. */
export async function readTargetingRecords(store: BlobStore, advertiserId: string, days: readonly string[]): Promise<Map<string, AdgroupTargeting[]>> {
  const out = new Map<string, AdgroupTargeting[]>();
  for (const day of days) {
    try {
      out.set(day, (await readJsonObject(store, UsageKeys.targeting(advertiserId, day), TargetingRecordSchema)).adgroups);
    } catch (err) {
      if (!isStorageError(err, 'not_found')) throw err;
    }
  }
  return out;
}

export const UsageSidecarSchema = z.object({
  version: z.literal(1),
  advertiserId: z.string(),
  month: z.string(),
  generatedAt: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  csv: z.object({ uri: z.string(), sha256: z.string(), bytes: z.number(), lines: z.number(), columns: z.array(z.string()) }),
  totals: z.custom<UsageReportTotals>(),
  recordedDays: z.number(),
  days: z.number(),
  notes: z.array(z.string()),
});
export type UsageSidecar = z.infer<typeof UsageSidecarSchema>;

/** The CSV text: header row, then the lines in the computed order; same lines, same bytes. */
export function usageCsv(computed: Pick<UsageComputed, 'lines'>): string {
  return stringify(
    computed.lines.map((l) => USAGE_CSV_COLUMNS.map((c) => l[c])),
    { header: true, columns: [...USAGE_CSV_COLUMNS], record_delimiter: 'unix' },
  );
}

export async function writeUsageReport(
  store: BlobStore,
  meta: { advertiserId: string; month: string; days: number; workflowId: string; runId: string; now: Date },
  computed: UsageComputed,
): Promise<WrittenUsageReport> {
  const csv = usageCsv(computed);
  const sha256 = createHash('sha256').update(csv, 'utf8').digest('hex');
  const csvKey = UsageKeys.csv(meta.advertiserId, meta.month);
  await store.write(csvKey, csv, { contentType: 'text/csv; charset=utf-8' });
  const sidecar: UsageSidecar = {
    version: 1,
    advertiserId: meta.advertiserId,
    month: meta.month,
    generatedAt: meta.now.toISOString(),
    workflowId: meta.workflowId,
    runId: meta.runId,
    csv: { uri: store.uriOf(csvKey), sha256, bytes: Buffer.byteLength(csv), lines: computed.lines.length, columns: [...USAGE_CSV_COLUMNS] },
    totals: computed.totals,
    recordedDays: computed.recordedDays,
    days: meta.days,
    notes: computed.notes,
  };
  const jsonKey = UsageKeys.sidecar(meta.advertiserId, meta.month);
  await store.write(jsonKey, JSON.stringify(sidecar, null, 1) + '\n', { contentType: 'application/json' });
  return { csvUri: store.uriOf(csvKey), jsonUri: store.uriOf(jsonKey), csvSha256: sha256, lines: computed.lines.length, totals: computed.totals, recordedDays: computed.recordedDays, notes: computed.notes };
}

/**
 * The audience of each 3PD destination whose config names none: the id lease its audience
 * sync took in the deployment registry (src/storage/registry.ts), the latest one when a
 * destination recreated its audience. Destinations without one are left as they are.
 */
export async function audiencesFromRegistry(registry: BlobStore, advertiserId: string, destinationIds: readonly string[]): Promise<Map<string, { audienceId: string; uri: string; others: number }>> {
  const out = new Map<string, { audienceId: string; uri: string; others: number; takenAt: string }>();
  if (destinationIds.length === 0) return out;
  const wanted = new Set(destinationIds);
  for await (const info of registry.list(AUDIENCE_LEASE_PREFIX)) {
    if (!info.key.endsWith('.json')) continue;
    const lease = await readJsonObject(registry, info.key, AudienceLeaseSchema).catch(() => null);
    if (!lease || lease.advertiserId !== advertiserId || lease.audience.kind !== 'id' || !wanted.has(lease.holder.destinationId)) continue;
    const prev = out.get(lease.holder.destinationId);
    if (!prev || lease.takenAt > prev.takenAt) out.set(lease.holder.destinationId, { audienceId: lease.audience.value, uri: registry.uriOf(info.key), others: (prev ? prev.others + 1 : 0), takenAt: lease.takenAt });
    else prev.others += 1;
  }
  return out;
}
