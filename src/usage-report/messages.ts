import { defineQuery } from '@temporalio/workflow';
import type { WebhookRoute } from '../notices/schema';

/*
 * What the usage report's workflows take, answer and return. Pure (types and a query
 * definition): the workflow bundle and clients both import it. Only ids, settings, counts,
 * totals and URIs: no ad data beyond the month's sums passes through history.
 */

export const UsageReportWorkflowType = {
  report: 'usageReport',
  monthlyTick: 'usageReportTick',
  targetingTick: 'usageTargetingTick',
} as const;

/** One 3PD destination of the advertiser, as the report prices it. */
export interface UsageSegment {
  destinationId: string;
  sourceSegmentId: string;
  /** The TikTok audience the destination feeds; without it nothing can be matched (said in the notes). */
  audienceId?: string;
  providerId: string;
  segmentId: string;
  /** Decimal text, e.g. "12.5". */
  pricePercent: string;
  currency: string;
  reportingContacts: string[];
}

/** Everything the report of one advertiser needs: built from its 3PD destination configs (advertisers.ts). */
export interface UsageAdvertiser {
  advertiserId: string;
  /** Secret reference (env:…, file:…), resolved in activities. */
  accessToken: string;
  appId?: string;
  timeZone: string;
  dayOfMonth: number;
  hour: number;
  /** Duration text ("3d"): how long after the month's end the numbers are taken as final. */
  settle: string;
  /** Folder URI of reports and targeting records; absent: the worker's data folder. */
  storage?: string;
  webhook?: WebhookRoute;
  segments: UsageSegment[];
}

export interface UsageQueues {
  /** TikTok reads and report writing (default ttsync-tiktok). */
  tiktok?: string;
  /** Where the report's notice is posted and delivered (default the workflow's own queue). */
  notices?: string;
}

export interface UsageTiming {
  /** How long one delivery attempt may take before Temporal retries it (default 2m). */
  noticeTimeout?: string;
  /** Heartbeat timeout of the reads and the report's writing (default 2m): how soon a step whose worker died is retried. */
  heartbeatTimeout?: string;
}

export interface UsageReportInput {
  advertiser: UsageAdvertiser;
  /** YYYY-MM. */
  month: string;
  /** Email (and webhook) again even when this month's report was delivered before. */
  force?: boolean;
  queues?: UsageQueues;
  /** Overrides the advertiser's settle duration (tests, or an operator who knows the month is final). */
  settle?: string;
  timing?: UsageTiming;
}

export interface UsageTotalsLine {
  impressions: string;
  amountSpent: string;
  dataCost: string;
  currency: string;
  lines: number;
}

export interface UsageReportTotals extends UsageTotalsLine {
  bySegment: Array<UsageTotalsLine & { providerId: string; segmentId: string; destinationId: string }>;
  byProvider: Array<UsageTotalsLine & { providerId: string }>;
}

/** What writing the report produced (the activity's result; the sidecar holds the same and more). */
export interface WrittenUsageReport {
  csvUri: string;
  jsonUri: string;
  csvSha256: string;
  lines: number;
  totals: UsageReportTotals;
  /** Days of the month read from daily targeting records; the others used the targeting at report time. */
  recordedDays: number;
  notes: string[];
}

export type UsageDelivery = 'sent' | 'already_sent' | 'resent' | 'kept_unrouted';

export interface UsageReportResult extends WrittenUsageReport {
  advertiserId: string;
  month: string;
  delivery: UsageDelivery;
  noticeKey: string;
}

export type UsageReportPhase = 'settling' | 'reading' | 'delivering' | 'done';

export interface UsageReportStatus {
  advertiserId: string;
  month: string;
  phase: UsageReportPhase;
  /** When the month's numbers are taken as final (ISO). */
  settleUntil: string | null;
  result: UsageReportResult | null;
}

export const usageReportStatusQuery = defineQuery<UsageReportStatus>('usageReportStatus');

export interface UsageTickInput {
  advertiser: UsageAdvertiser;
  /** Control queue of the report a monthly tick starts (default the tick's own). */
  taskQueue?: string;
  queues?: UsageQueues;
}

export interface TargetingRecordResult {
  day: string;
  uri: string;
  adgroups: number;
  /** Ad groups targeting at least one of the advertiser's 3PD audiences that day. */
  usingSegments: number;
}

export type UsageReportWorkflow = (input: UsageReportInput) => Promise<UsageReportResult>;

/** The notice's key: the month's, or the run's when forced (a forced resend is a notice of its own). */
export function usageNoticeKey(advertiserId: string, month: string, forcedRunId?: string): string {
  return `usage-report:${advertiserId}:${month}${forcedRunId ? `:resend:${forcedRunId}` : ''}`;
}
