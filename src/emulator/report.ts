import { createHash } from 'node:crypto';
import { field, optInt, optString, paramError, reqString, requireAdvertiser, stringArray, type Ctx } from './context';

const DAY = 86_400_000;
const LEVELS: Record<string, string> = { AUCTION_ADVERTISER: 'advertiser_id', AUCTION_CAMPAIGN: 'campaign_id', AUCTION_ADGROUP: 'adgroup_id' };
const METRICS = ['impressions', 'spend', 'clicks', 'cpm', 'currency', 'campaign_name', 'advertiser_name'];
/** TikTok caps a stat_time_day query at 30 days. */
const MAX_DAYS_WITH_DAY_DIMENSION = 30;

function uint(...parts: string[]): number {
  return createHash('sha256').update(parts.join('|')).digest().readUInt32BE(0);
}

export function campaignIds(advertiserId: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => (1_700_000_000_000_000_000n + BigInt(uint(advertiserId, 'campaign', String(i)))).toString());
}

/** The two ad groups of a synthetic campaign (adStructure.ts lists them). */
export function syntheticAdgroupIds(campaignId: string): string[] {
  return [1, 2].map((i) => (BigInt(campaignId) + 1_000_000_000n * BigInt(i)).toString());
}

/** Whole cents as TikTok's decimal text, without a float in between: 123456 → "1234.56". */
export function centsText(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/**
 * The report's `filtering` (TikTok's array form, digest §10.1): ids by IN, and the status
 * filters (STATUS_ALL and STATUS_NOT_DELETE both show everything here: nothing is deleted
 * in the report's synthetic figures). Anything else is refused so a client bug shows.
 */
function reportFilter(ctx: Ctx): { ids: Map<string, Set<string>> } {
  const f = field(ctx, 'filtering');
  const ids = new Map<string, Set<string>>();
  if (f === undefined || f === null) return { ids };
  if (!Array.isArray(f)) throw paramError('filtering: Not a valid list.');
  for (const [i, rule] of f.entries()) {
    const r = rule as { field_name?: unknown; filter_type?: unknown; filter_value?: unknown };
    if (typeof r !== 'object' || r === null || typeof r.field_name !== 'string' || typeof r.filter_value !== 'string') throw paramError(`filtering[${i}]: field_name and filter_value (a string) are required.`);
    if (/_status$/.test(r.field_name)) continue;
    if (!['adgroup_ids', 'campaign_ids'].includes(r.field_name) || r.filter_type !== 'IN') throw paramError(`filtering[${i}]: the emulator filters adgroup_ids and campaign_ids with IN only.`);
    let list: unknown;
    try {
      list = JSON.parse(r.filter_value);
    } catch {
      throw paramError(`filtering[${i}].filter_value: not a JSON array string.`);
    }
    if (!Array.isArray(list) || list.length < 1 || list.length > 100) throw paramError(`filtering[${i}].filter_value: Length must be between 1 and 100.`);
    ids.set(r.field_name.replace(/s$/, ''), new Set(list.map(String)));
  }
  return { ids };
}

/** Deterministic synthetic figures for one campaign and day: same inputs, same numbers, always. */
export function syntheticDay(advertiserId: string, campaignId: string, day: string): { impressions: number; spendCents: number } {
  const h = uint(advertiserId, campaignId, day);
  const impressions = h % 50_000;
  const cpmCents = 200 + (Math.floor(h / 50_000) % 1000); // $2.00–$11.99 per 1,000 impressions
  return { impressions, spendCents: Math.round((impressions * cpmCents) / 1000) };
}

function parseDay(s: string, name: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(Date.parse(`${s}T00:00:00Z`))) {
    throw paramError(`${name}: must be a date in YYYY-MM-DD format.`);
  }
  return Date.parse(`${s}T00:00:00Z`);
}

export function integratedReport(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const reportType = reqString(ctx, 'report_type');
  if (reportType !== 'BASIC') throw paramError(`report_type: the emulator serves BASIC reports only.`);
  const serviceType = optString(ctx, 'service_type') ?? 'AUCTION';
  if (serviceType !== 'AUCTION') throw paramError('service_type: the emulator serves AUCTION only.');
  const level = optString(ctx, 'data_level') ?? 'AUCTION_ADVERTISER';
  const idDim = LEVELS[level];
  if (!idDim) throw paramError(`data_level: the emulator serves ${Object.keys(LEVELS).join(', ')}.`);
  const dims = stringArray(ctx, 'dimensions', 1, 4)!;
  for (const d of dims) {
    if (d !== idDim && d !== 'stat_time_day') throw paramError(`dimensions: ${d} is not valid for ${level} (use ${idDim}, stat_time_day).`);
  }
  if (!dims.includes(idDim)) throw paramError(`dimensions: must include ${idDim} for ${level}.`);
  const metrics = stringArray(ctx, 'metrics', 1, 100, false) ?? ['spend', 'impressions'];
  for (const m of metrics) if (!METRICS.includes(m)) throw paramError(`metrics: ${m} is not supported (emulator: ${METRICS.join(', ')}).`);
  if (ctx.query.get('query_lifetime') === 'true') throw paramError('query_lifetime: not supported by the emulator; pass start_date and end_date.');
  const start = parseDay(reqString(ctx, 'start_date'), 'start_date');
  const end = parseDay(reqString(ctx, 'end_date'), 'end_date');
  if (end < start) throw paramError('end_date: must not be before start_date.');
  const days = (end - start) / DAY + 1;
  const byDay = dims.includes('stat_time_day');
  if (byDay && days > MAX_DAYS_WITH_DAY_DIMENSION) {
    throw paramError(`The time span between start_date and end_date cannot exceed ${MAX_DAYS_WITH_DAY_DIMENSION} days when stat_time_day is a dimension.`);
  }
  const page = optInt(ctx, 'page', 1, 1_000_000) ?? 1;
  const pageSize = optInt(ctx, 'page_size', 1, 1000) ?? 10;

  const adv = ctx.state.ensureAdvertiser(advertiserId);
  const campaigns = campaignIds(advertiserId, ctx.opts.campaignsPerAdvertiser);
  const filter = reportFilter(ctx);
  if (level === 'AUCTION_ADGROUP') return adgroupReport(ctx, advertiserId, adv.currency, filter.ids, start, days, byDay, metrics, page, pageSize);
  const ids = level === 'AUCTION_CAMPAIGN' ? campaigns : [advertiserId];
  const rows: Array<{ dimensions: Record<string, string>; metrics: Record<string, string> }> = [];
  for (const id of ids) {
    const dayList = Array.from({ length: days }, (_, i) => new Date(start + i * DAY).toISOString().slice(0, 10));
    const groups = byDay ? dayList.map((d) => [d]) : [dayList];
    for (const g of groups) {
      let impressions = 0;
      let cents = 0;
      for (const d of g) for (const c of level === 'AUCTION_CAMPAIGN' ? [id] : campaigns) {
        const s = syntheticDay(advertiserId, c, d);
        impressions += s.impressions;
        cents += s.spendCents;
      }
      const dimensions: Record<string, string> = { [idDim]: id };
      if (byDay) dimensions.stat_time_day = `${g[0]} 00:00:00`;
      const all: Record<string, string> = {
        impressions: String(impressions),
        spend: (cents / 100).toFixed(2),
        clicks: String(Math.floor(impressions / 97)),
        cpm: impressions ? ((cents / 100 / impressions) * 1000).toFixed(2) : '0.00',
        currency: adv.currency,
        campaign_name: level === 'AUCTION_CAMPAIGN' ? `Emulated campaign ${id.slice(-4)}` : '-',
        advertiser_name: adv.name,
      };
      rows.push({ dimensions, metrics: Object.fromEntries(metrics.map((m) => [m, all[m]!])) });
    }
  }
  return {
    list: rows.slice((page - 1) * pageSize, page * pageSize),
    page_info: { page, page_size: pageSize, total_number: rows.length, total_page: Math.max(1, Math.ceil(rows.length / pageSize)) },
  };
}

/**
 * AUCTION_ADGROUP: every ad group of the advertiser, synthetic and seeded (adStructure.ts),
 * each day's figures from syntheticDay(advertiser, ad group, day), so a test can compute a
 * usage report from the seed alone. Rows ordered by ad group, then day.
 */
function adgroupReport(
  ctx: Ctx,
  advertiserId: string,
  currency: string,
  ids: Map<string, Set<string>>,
  start: number,
  days: number,
  byDay: boolean,
  metrics: string[],
  page: number,
  pageSize: number,
): unknown {
  const groups = [
    ...campaignIds(advertiserId, ctx.opts.campaignsPerAdvertiser).flatMap((c) => syntheticAdgroupIds(c).map((a) => ({ campaignId: c, adgroupId: a, campaignName: `Emulated campaign ${c.slice(-4)}` }))),
    ...[...ctx.state.seededAdgroups.values()].filter((a) => a.advertiserId === advertiserId),
  ].filter((g) => (!ids.get('adgroup_id') || ids.get('adgroup_id')!.has(g.adgroupId)) && (!ids.get('campaign_id') || ids.get('campaign_id')!.has(g.campaignId)));
  const dayList = Array.from({ length: days }, (_, i) => new Date(start + i * DAY).toISOString().slice(0, 10));
  const rows: Array<{ dimensions: Record<string, string>; metrics: Record<string, string> }> = [];
  for (const g of groups) {
    for (const set of byDay ? dayList.map((d) => [d]) : [dayList]) {
      let impressions = 0;
      let cents = 0;
      for (const d of set) {
        const s = syntheticDay(advertiserId, g.adgroupId, d);
        impressions += s.impressions;
        cents += s.spendCents;
      }
      const dimensions: Record<string, string> = { adgroup_id: g.adgroupId };
      if (byDay) dimensions.stat_time_day = `${set[0]} 00:00:00`;
      const all: Record<string, string> = {
        impressions: String(impressions),
        spend: centsText(cents),
        clicks: String(Math.floor(impressions / 97)),
        cpm: impressions ? ((cents / 100 / impressions) * 1000).toFixed(2) : '0.00',
        currency,
        campaign_name: g.campaignName,
        advertiser_name: ctx.state.advertisers.get(advertiserId)?.name ?? '-',
      };
      rows.push({ dimensions, metrics: Object.fromEntries(metrics.map((m) => [m, all[m]!])) });
    }
  }
  return {
    list: rows.slice((page - 1) * pageSize, page * pageSize),
    page_info: { page, page_size: pageSize, total_number: rows.length, total_page: Math.max(1, Math.ceil(rows.length / pageSize)) },
  };
}
