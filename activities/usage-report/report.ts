import { ApplicationFailure, CancelledFailure, heartbeat } from '@temporalio/activity';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { resolveSecret as defaultResolveSecret } from '../../src/config/secrets';
import { DATA_DIR } from '../../src/paths';
import { StorageError, StoredJsonError, openBlobStore, type BlobStore } from '../../src/storage';
import { TikTokClient, type TikTokEnv } from '../../src/tiktok';
import { toActivityFailure } from '../../src/tiktok/activityFailure';
import { computeUsage } from '../../src/usage-report/compute';
import { UsageReportFailureType } from '../../src/usage-report/failures';
import type { TargetingRecordResult, UsageAdvertiser, WrittenUsageReport } from '../../src/usage-report/messages';
import { daysOfMonth, monthProblem } from '../../src/usage-report/month';
import { audiencesFromRegistry, readTargetingRecords, writeTargetingRecord, writeUsageReport } from '../../src/usage-report/store';
import { defaultRegistryUri } from '../../src/storage/registry';
import { checkTimeZone, dayIn, settleUntil } from '../../src/usage-report/zone';

/*
 * The usage report's reads and writes (TikTok queue): the day's targeting recorded, the
 * month's report built and written. Idempotent: a retry rewrites the same objects. Only ids,
 * counts, totals and URIs leave them.
 */

export interface UsageReportDeps {
  /** Report folder of advertisers without dataMarketplace.report.storage (default <data dir>). */
  defaultStorage?: string;
  /** The deployment registry where audience sync leases audiences (default TTSYNC_SEGMENT_REGISTRY, else the default workdir). */
  registry?: string;
  openStore?: (uri: string) => BlobStore;
  tiktokEnv?: Partial<TikTokEnv>;
  resolveSecret?: (ref: string) => Promise<string>;
  now?: () => Date;
}

function toUsageFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const fail = (type: string, message: string, nonRetryable: boolean) => ApplicationFailure.create({ type, message, nonRetryable, cause: err instanceof Error ? err : undefined });
  if (err instanceof StoredJsonError) return fail(UsageReportFailureType.StoredRecordCorrupt, err.message, true);
  if (err instanceof ConfigError || err instanceof RangeError) return fail(UsageReportFailureType.InvalidConfig, err.message, true);
  if (err instanceof StorageError) {
    const denied = ['bucket_not_found', 'permission', 'bad_uri', 'invalid_key'].includes(err.code);
    return fail(denied ? UsageReportFailureType.StorageAccessDenied : UsageReportFailureType.StorageUnavailable, err.message, denied);
  }
  return toActivityFailure(err);
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toUsageFailure(err);
  }
}

export function createUsageReportActivities(deps: UsageReportDeps = {}) {
  const open = deps.openStore ?? ((uri: string) => openBlobStore(uri));
  const resolve = deps.resolveSecret ?? ((ref: string) => defaultResolveSecret(ref));
  const now = deps.now ?? (() => new Date());
  const storeOf = (a: UsageAdvertiser) => open(a.storage ?? deps.defaultStorage ?? join(DATA_DIR));
  const clientOf = async (a: UsageAdvertiser, onCall?: () => void) =>
    new TikTokClient({
      accessToken: await resolve(a.accessToken),
      ...(a.appId ? { appId: a.appId } : {}),
      ...(deps.tiktokEnv ? { env: deps.tiktokEnv } : {}),
      ...(onCall ? { onRetry: onCall } : {}),
    });

  /** Segments whose config names no audienceId get the one their audience sync leased in the registry. */
  const resolveAudiences = async (a: UsageAdvertiser): Promise<{ advertiser: UsageAdvertiser; notes: string[] }> => {
    const missing = a.segments.filter((s) => !s.audienceId).map((s) => s.destinationId);
    if (!missing.length) return { advertiser: a, notes: [] };
    const leased = await audiencesFromRegistry(open(deps.registry ?? defaultRegistryUri()), a.advertiserId, missing);
    const notes = [...leased].map(
      ([d, l]) => `Destination "${d}" names no audienceId in its config: its audience ${l.audienceId} was taken from the registry lease ${l.uri}${l.others ? ` (the latest of ${l.others + 1} it held)` : ''}.`,
    );
    return { advertiser: { ...a, segments: a.segments.map((s) => (s.audienceId || !leased.has(s.destinationId) ? s : { ...s, audienceId: leased.get(s.destinationId)!.audienceId })) }, notes };
  };

  return {
    /** When the month's numbers are taken as final, in the advertiser's time zone (ISO). */
    async usageSettleUntil(input: { advertiser: UsageAdvertiser; month: string; settle?: string }): Promise<{ settleUntil: string }> {
      return mapped(async () => {
        const problem = monthProblem(input.month);
        if (problem) throw new RangeError(problem);
        checkTimeZone(input.advertiser.timeZone);
        return { settleUntil: settleUntil(input.month, input.advertiser.timeZone, input.settle ?? input.advertiser.settle).toISOString() };
      });
    },

    /**
     * Records which audiences each ad group targets and excludes now, as the targeting of the
     * advertiser's day at `at` (the Schedule's time; default now), or of `day` when given (a
     * test, or an operator filling a day from records of their own).
     */
    async usageRecordTargeting(input: { advertiser: UsageAdvertiser; day?: string; at?: string }): Promise<TargetingRecordResult> {
      return mapped(async () => {
        checkTimeZone(input.advertiser.timeZone);
        const day = input.day ?? dayIn(input.advertiser.timeZone, input.at ? new Date(input.at) : now());
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`day ${JSON.stringify(day)} is not YYYY-MM-DD`);
        const client = await clientOf(input.advertiser);
        const adgroups = await client.adgroupTargeting(input.advertiser.advertiserId);
        const written = await writeTargetingRecord(storeOf(input.advertiser), input.advertiser.advertiserId, day, adgroups, now());
        const { advertiser } = await resolveAudiences(input.advertiser);
        const audiences = new Set(advertiser.segments.flatMap((s) => (s.audienceId ? [s.audienceId] : [])));
        return { day, uri: written.uri, adgroups: written.kept, usingSegments: adgroups.filter((a) => a.audienceIds.some((id) => audiences.has(id))).length };
      });
    },

    /**
     * The month's report: targeting (daily records, else read now), the ad groups' daily
     * impressions and spend (30-day windows, paged, retried), the lines computed exactly,
     * the CSV and its sidecar written over any earlier ones. Heartbeats per page.
     */
    async usageBuildReport(input: { advertiser: UsageAdvertiser; month: string; workflowId: string; runId: string }): Promise<WrittenUsageReport> {
      return mapped(async () => {
        const problem = monthProblem(input.month);
        if (problem) throw new RangeError(problem);
        const found = await resolveAudiences(input.advertiser);
        const a = found.advertiser;
        const days = daysOfMonth(input.month);
        const store = storeOf(a);
        const client = await clientOf(a, () => heartbeat({ phase: 'retrying' }));
        heartbeat({ phase: 'targeting' });
        const readAt = now();
        const current = await client.adgroupTargeting(a.advertiserId);
        const records = await readTargetingRecords(store, a.advertiserId, days);
        const audiences = new Set(a.segments.flatMap((s) => (s.audienceId ? [s.audienceId] : [])));
        const using = new Set<string>();
        for (const list of [current, ...records.values()]) for (const g of list) if (g.audienceIds.some((id) => audiences.has(id))) using.add(g.adgroupId);
        let pages = 0;
        const stats = using.size
          ? await client.adgroupDailyStats({
              advertiserId: a.advertiserId,
              startDate: days[0]!,
              endDate: days[days.length - 1]!,
              adgroupIds: [...using].sort(),
              onPage: () => heartbeat({ phase: 'stats', pages: ++pages }),
            })
          : [];
        const computed = computeUsage({ advertiser: a, month: input.month, days, records, current, stats }, readAt.toISOString());
        computed.notes.push(...found.notes);
        return writeUsageReport(store, { advertiserId: a.advertiserId, month: input.month, days: days.length, workflowId: input.workflowId, runId: input.runId, now: now() }, computed);
      });
    },
  };
}

export type UsageReportActivities = ReturnType<typeof createUsageReportActivities>;
