import { currencyDigits, formatMicros, percentOf } from '../tiktok/money';
import type { AdgroupDayStats, AdgroupTargeting } from '../tiktok/client';
import type { UsageAdvertiser, UsageReportTotals, UsageSegment, UsageTotalsLine } from './messages';

/*
 * The month's usage, computed from what was read: pure, so a test can hold it against
 * numbers of its own. The rules (README "Usage report"):
 * - Usage is targeting: an ad group uses a 3PD segment on a day when the segment's audience
 *   is in its audience_ids that day. An excluded audience (excluded_audience_ids) is not usage.
 * - A day's targeting is that day's stored record; a day without one takes the targeting read
 *   at report time (said in the notes).
 * - A line is segment × campaign × ad group: the ad group's impressions and amount spent over
 *   the days it used the segment, and the days in use (days it used the segment and delivered).
 * - An ad group using several 3PD segments puts its full impressions and spend on each
 *   segment's line, priced at that segment's rate (each provider charges on the spend its
 *   data touched); those lines are flagged shared, and the spend column then counts that
 *   spend once per segment.
 * - Money is exact: spend summed in micro-units; a line's data cost = its spend × price % /
 *   100, computed exactly and rounded once, half away from zero, to the currency's minor
 *   unit; totals are sums of the lines' rounded columns, so the columns add up to them.
 */

export const USAGE_CSV_COLUMNS = [
  'report_month',
  'advertiser_id',
  'provider_id',
  'segment_id',
  'destination_id',
  'audience_id',
  'campaign_id',
  'campaign_name',
  'adgroup_id',
  'adgroup_name',
  'impressions',
  'amount_spent',
  'currency',
  'price_percent',
  'data_cost',
  'days_in_use',
  'first_day',
  'last_day',
  'shared_adgroup',
  'targeting_source',
] as const;
export type UsageCsvColumn = (typeof USAGE_CSV_COLUMNS)[number];
export type UsageLine = Record<UsageCsvColumn, string>;

export interface UsageComputeInput {
  advertiser: UsageAdvertiser;
  month: string;
  days: readonly string[];
  /** Daily targeting records by day (only the days that have one). */
  records: ReadonlyMap<string, readonly AdgroupTargeting[]>;
  /** The targeting read at report time (for the days without a record). */
  current: readonly AdgroupTargeting[];
  stats: readonly AdgroupDayStats[];
}

export interface UsageComputed {
  lines: UsageLine[];
  totals: UsageReportTotals;
  notes: string[];
  recordedDays: number;
}

interface Acc {
  segment: UsageSegment;
  adgroupId: string;
  campaignId: string;
  campaignName: string;
  adgroupName: string;
  impressions: bigint;
  spend: bigint;
  currency: string | null;
  daysInUse: string[];
  shared: boolean;
  sources: Set<'daily_record' | 'report_time'>;
}

function ranges(days: readonly string[]): string {
  if (days.length === 0) return '';
  const out: string[] = [];
  let start = days[0]!;
  let prev = days[0]!;
  const next = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  for (const d of [...days.slice(1), '']) {
    if (d && d === next(prev)) {
      prev = d;
      continue;
    }
    out.push(start === prev ? start : `${start}..${prev}`);
    start = d;
    prev = d;
  }
  return out.join(', ');
}

export function computeUsage(input: UsageComputeInput, readAt: string): UsageComputed {
  const { advertiser, month, days } = input;
  const notes: string[] = [
    'Usage is targeting: an ad group uses a Data Marketplace segment on a day when the segment\'s TikTok audience is among its targeted audiences (audience_ids) that day; an audience it only excludes (excluded_audience_ids) is not usage.',
    'An ad group that targets several of these segments is reported on each segment\'s line with its full impressions and amount spent (each provider charges on the spend its data touched); such lines have shared_adgroup = yes, and the amount_spent column then counts that spend once per segment.',
    'Money is exact: amounts are summed as TikTok reports them; data_cost = amount_spent × price_percent / 100, rounded once, half away from zero, to the currency\'s minor unit; totals are sums of the lines.',
    'days_in_use counts the days the ad group targeted the segment and delivered (impressions or spend above zero).',
  ];
  const segments = advertiser.segments.filter((s) => {
    if (s.audienceId) return true;
    notes.push(`Destination "${s.destinationId}" (segment ${s.providerId}/${s.segmentId}) names no audienceId, so its TikTok audience cannot be matched to ad groups: it is not in this report. Give the destination its audienceId.`);
    return false;
  });
  const byAudience = new Map<string, UsageSegment[]>();
  for (const s of segments) byAudience.set(s.audienceId!, [...(byAudience.get(s.audienceId!) ?? []), s]);

  const stat = new Map<string, AdgroupDayStats>();
  for (const r of input.stats) stat.set(`${r.adgroupId}|${r.day}`, r);

  const unrecorded = days.filter((d) => !input.records.has(d));
  if (unrecorded.length)
    notes.push(
      unrecorded.length === days.length
        ? `No daily targeting record exists for ${month}: every day uses the ad groups' targeting read at report time (${readAt}), which may differ from what ran during the month.`
        : `No daily targeting record for ${ranges(unrecorded)}: those days use the ad groups' targeting read at report time (${readAt}).`,
    );

  const acc = new Map<string, Acc>();
  const excluded = new Map<string, Set<string>>();
  for (const day of days) {
    const recorded = input.records.get(day);
    const targeting = recorded ?? input.current;
    for (const g of targeting) {
      for (const a of g.excludedAudienceIds) for (const s of byAudience.get(a) ?? []) excluded.set(`${g.adgroupId}|${s.destinationId}`, new Set([...(excluded.get(`${g.adgroupId}|${s.destinationId}`) ?? []), day]));
      const used = g.audienceIds.flatMap((a) => byAudience.get(a) ?? []);
      if (used.length === 0) continue;
      const st = stat.get(`${g.adgroupId}|${day}`);
      const impressions = BigInt(st?.impressions ?? '0');
      const spend = st?.spendMicros ?? 0n;
      const delivered = impressions > 0n || spend > 0n;
      for (const s of used) {
        const key = `${s.destinationId}|${g.adgroupId}`;
        let a = acc.get(key);
        if (!a) {
          a = { segment: s, adgroupId: g.adgroupId, campaignId: g.campaignId, campaignName: g.campaignName, adgroupName: g.adgroupName, impressions: 0n, spend: 0n, currency: null, daysInUse: [], shared: false, sources: new Set() };
          acc.set(key, a);
        }
        // The latest names win: a campaign renamed mid-month shows its current name.
        a.campaignId = g.campaignId;
        a.campaignName = g.campaignName;
        a.adgroupName = g.adgroupName;
        a.sources.add(recorded ? 'daily_record' : 'report_time');
        if (!delivered) continue;
        a.impressions += impressions;
        a.spend += spend;
        a.currency = st?.currency ?? a.currency;
        a.daysInUse.push(day);
        if (new Set(used.map((u) => u.destinationId)).size > 1) a.shared = true;
      }
    }
  }

  for (const [key, ds] of excluded) {
    const [adgroupId, destinationId] = key.split('|') as [string, string];
    if (acc.has(`${destinationId}|${adgroupId}`)) continue;
    const s = segments.find((x) => x.destinationId === destinationId)!;
    notes.push(`Ad group ${adgroupId} excluded the audience of segment ${s.providerId}/${s.segmentId} (${ranges([...ds].sort())}) without targeting it: exclusion is not usage, so it has no line.`);
  }

  const sorted = [...acc.values()]
    .filter((a) => a.daysInUse.length > 0)
    .sort((x, y) => x.segment.providerId.localeCompare(y.segment.providerId) || x.segment.segmentId.localeCompare(y.segment.segmentId) || x.segment.destinationId.localeCompare(y.segment.destinationId) || x.campaignId.localeCompare(y.campaignId) || x.adgroupId.localeCompare(y.adgroupId));
  const idle = [...acc.values()].filter((a) => a.daysInUse.length === 0).length;
  if (idle) notes.push(`${idle} ad group × segment pair(s) targeted a segment but delivered nothing this month: no line.`);

  const mismatched = new Set<string>();
  const lines: UsageLine[] = [];
  const money: Array<{ segment: UsageSegment; impressions: bigint; spend: bigint; cost: bigint; currency: string }> = [];
  for (const a of sorted) {
    const currency = a.currency ?? a.segment.currency;
    if (currency !== a.segment.currency && !mismatched.has(a.segment.destinationId)) {
      mismatched.add(a.segment.destinationId);
      notes.push(`Segment ${a.segment.providerId}/${a.segment.segmentId} is priced in ${a.segment.currency}, but TikTok reports this ad account's spend in ${currency}: its data cost is in ${currency}.`);
    }
    const digits = currencyDigits(currency);
    const cost = percentOf(a.spend, a.segment.pricePercent, digits);
    money.push({ segment: a.segment, impressions: a.impressions, spend: a.spend, cost, currency });
    lines.push({
      report_month: month,
      advertiser_id: advertiser.advertiserId,
      provider_id: a.segment.providerId,
      segment_id: a.segment.segmentId,
      destination_id: a.segment.destinationId,
      audience_id: a.segment.audienceId!,
      campaign_id: a.campaignId,
      campaign_name: a.campaignName,
      adgroup_id: a.adgroupId,
      adgroup_name: a.adgroupName,
      impressions: a.impressions.toString(),
      amount_spent: formatMicros(a.spend, digits),
      currency,
      price_percent: a.segment.pricePercent,
      data_cost: formatMicros(cost, digits),
      days_in_use: String(a.daysInUse.length),
      first_day: a.daysInUse[0]!,
      last_day: a.daysInUse[a.daysInUse.length - 1]!,
      shared_adgroup: a.shared ? 'yes' : 'no',
      targeting_source: a.sources.size === 2 ? 'mixed' : [...a.sources][0]!,
    });
  }
  const currencies = new Set(money.map((m) => m.currency));
  const currency = currencies.size === 1 ? [...currencies][0]! : currencies.size === 0 ? (segments[0]?.currency ?? advertiser.segments[0]?.currency ?? '') : 'MIXED';
  const sum = (ms: typeof money, cur = currency): UsageTotalsLine => ({
    impressions: ms.reduce((t, m) => t + m.impressions, 0n).toString(),
    amountSpent: formatMicros(
      ms.reduce((t, m) => t + m.spend, 0n),
      cur === 'MIXED' ? 2 : currencyDigits(cur),
    ),
    dataCost: formatMicros(
      ms.reduce((t, m) => t + m.cost, 0n),
      cur === 'MIXED' ? 2 : currencyDigits(cur),
    ),
    currency: cur,
    lines: ms.length,
  });
  const totals: UsageReportTotals = {
    ...sum(money),
    bySegment: segments.map((s) => {
      const ms = money.filter((m) => m.segment.destinationId === s.destinationId);
      return { providerId: s.providerId, segmentId: s.segmentId, destinationId: s.destinationId, ...sum(ms, ms[0]?.currency ?? s.currency) };
    }),
    byProvider: [...new Set(segments.map((s) => s.providerId))].sort().map((providerId) => {
      const ms = money.filter((m) => m.segment.providerId === providerId);
      return { providerId, ...sum(ms, ms[0]?.currency ?? currency) };
    }),
  };
  if (currency === 'MIXED') notes.push('The lines are in more than one currency: the totals add amounts of different currencies and are for checking only.');
  return { lines, totals, notes, recordedDays: days.length - unrecorded.length };
}
