import { ApiError, field, optInt, paramError, reqString, requireAdvertiser, type Ctx } from './context';
import { campaignIds, syntheticAdgroupIds } from './report';
import { tiktokTime, type OperationStatus, type SeededAdgroupRec } from './state';

/*
 * Campaigns and ad groups (digest §11): read-only, with their statuses, so a migration can
 * check that nothing is paused; and the status-changing endpoints, which a migration must
 * never call: they change nothing, answer 40001, and record the call with its body in
 * `statusChanges` (GET /_emulator/status-changes) on top of the call log, so a test can
 * prove none was ever made.
 *
 * Each advertiser has the same synthetic campaigns as its reports (report.ts), two ad
 * groups per campaign, all ENABLE until a test sets a status (POST /_emulator/campaigns).
 * A test may also seed campaigns of its own with ad groups that target and exclude
 * audiences (POST /_emulator/adgroups; the same call again changes their targeting):
 * a seeded campaign lists only its seeded ad groups.
 * UNCONFIRMED beyond the digest: the exact secondary_status TikTok shows for a campaign
 * paused by its advertiser (the emulator says CAMPAIGN_STATUS_DISABLE / ADGROUP_STATUS_CAMPAIGN_DISABLE).
 */

export const adgroupIdsOf = syntheticAdgroupIds;

function campaignStatus(ctx: Ctx, advertiserId: string, campaignId: string): OperationStatus {
  return ctx.state.campaignStatus.get(`${advertiserId}/${campaignId}`) ?? 'ENABLE';
}

const CAMPAIGN_SECONDARY: Record<OperationStatus, string> = {
  ENABLE: 'CAMPAIGN_STATUS_ENABLE',
  DISABLE: 'CAMPAIGN_STATUS_DISABLE',
  DELETE: 'CAMPAIGN_STATUS_DELETE',
};
const ADGROUP_SECONDARY: Record<OperationStatus, string> = {
  ENABLE: 'ADGROUP_STATUS_DELIVERY_OK',
  DISABLE: 'ADGROUP_STATUS_CAMPAIGN_DISABLE',
  DELETE: 'ADGROUP_STATUS_CAMPAIGN_DELETE',
};

/** The ad groups a test seeded for the advertiser, in seeding order. */
export function seededAdgroupsOf(ctx: Pick<Ctx, 'state'>, advertiserId: string): SeededAdgroupRec[] {
  return [...ctx.state.seededAdgroups.values()].filter((a) => a.advertiserId === advertiserId);
}

function campaignsOf(ctx: Ctx, advertiserId: string) {
  const created = tiktokTime(Date.UTC(2024, 0, 2));
  const seeded = new Map(seededAdgroupsOf(ctx, advertiserId).map((a) => [a.campaignId, a.campaignName]));
  const synthetic = campaignIds(advertiserId, ctx.opts.campaignsPerAdvertiser).map((id) => [id, `Emulated campaign ${id.slice(-4)}`] as const);
  return [...synthetic, ...[...seeded].filter(([id]) => !synthetic.some(([s]) => s === id))].map(([id, name]) => {
    const status = campaignStatus(ctx, advertiserId, id);
    return {
      advertiser_id: advertiserId,
      campaign_id: id,
      campaign_name: name,
      campaign_type: 'REGULAR_CAMPAIGN',
      objective_type: 'APP_PROMOTION',
      budget: 0,
      budget_mode: 'BUDGET_MODE_INFINITE',
      operation_status: status === 'DELETE' ? 'DISABLE' : status,
      secondary_status: CAMPAIGN_SECONDARY[status],
      create_time: created,
      modify_time: created,
      is_new_structure: true,
      campaign_system_origin: 'TT_ADS_PLATFORM',
      deleted: status === 'DELETE',
    };
  });
}

/** The `filtering` object (JSON-encoded in the query); TikTok's form for these GETs is an object, not the report's array. */
function filtering(ctx: Ctx): Record<string, unknown> {
  const f = field(ctx, 'filtering');
  if (f === undefined || f === null) return {};
  if (typeof f !== 'object' || Array.isArray(f)) throw paramError('filtering: Not a valid mapping type.');
  return f as Record<string, unknown>;
}

function idFilter(f: Record<string, unknown>, key: string): string[] | undefined {
  const v = f[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length < 1 || v.length > 100) throw paramError(`filtering.${key}: Length must be between 1 and 100.`);
  return v.map(String);
}

function page<T>(ctx: Ctx, all: T[]) {
  const p = optInt(ctx, 'page', 1, 1_000_000) ?? 1;
  const size = optInt(ctx, 'page_size', 1, 1000) ?? 10;
  return {
    list: all.slice((p - 1) * size, p * size),
    page_info: { page: p, page_size: size, total_number: all.length, total_page: Math.ceil(all.length / size) },
  };
}

/** Deleted rows only with primary_status STATUS_ALL (default STATUS_NOT_DELETE). */
const includeDeleted = (f: Record<string, unknown>) => f.primary_status === 'STATUS_ALL' || f.secondary_status === 'CAMPAIGN_STATUS_ALL' || f.secondary_status === 'ADGROUP_STATUS_ALL';

export function getCampaigns(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const f = filtering(ctx);
  const ids = idFilter(f, 'campaign_ids');
  const rows = campaignsOf(ctx, advertiserId)
    .filter((c) => (!ids || ids.includes(c.campaign_id)) && (includeDeleted(f) || !c.deleted))
    .map(({ deleted: _d, ...c }) => c);
  return page(ctx, rows);
}

export function getAdgroups(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const f = filtering(ctx);
  const campaignFilter = idFilter(f, 'campaign_ids');
  const adgroupFilter = idFilter(f, 'adgroup_ids');
  const seeded = seededAdgroupsOf(ctx, advertiserId);
  const rows = campaignsOf(ctx, advertiserId).flatMap((c) => {
    const status = campaignStatus(ctx, advertiserId, c.campaign_id);
    const own = seeded.filter((a) => a.campaignId === c.campaign_id);
    const groups = own.length
      ? own.map((a) => ({ id: a.adgroupId, name: a.adgroupName, audience_ids: [...a.audienceIds], excluded_audience_ids: [...a.excludedAudienceIds] }))
      : adgroupIdsOf(c.campaign_id).map((id) => ({ id, name: `Emulated ad group ${id.slice(-4)}`, audience_ids: [] as string[], excluded_audience_ids: [] as string[] }));
    return groups.map(({ id, name, audience_ids, excluded_audience_ids }) => ({
      advertiser_id: advertiserId,
      campaign_id: c.campaign_id,
      campaign_name: c.campaign_name,
      adgroup_id: id,
      adgroup_name: name,
      // An ad group keeps its own switch; the campaign's pause shows in secondary_status.
      operation_status: 'ENABLE',
      secondary_status: ADGROUP_SECONDARY[status],
      audience_ids,
      excluded_audience_ids,
      budget: 0,
      budget_mode: 'BUDGET_MODE_INFINITE',
      promotion_type: 'APP_ANDROID',
      create_time: c.create_time,
      modify_time: c.modify_time,
      deleted: status === 'DELETE',
    }));
  });
  const list = rows
    .filter((a) => (!campaignFilter || campaignFilter.includes(a.campaign_id)) && (!adgroupFilter || adgroupFilter.includes(a.adgroup_id)) && (includeDeleted(f) || !a.deleted))
    .map(({ deleted: _d, ...a }) => a);
  return page(ctx, list);
}

/** The endpoints that pause, enable or delete (digest §11.3): recorded, refused, nothing changes. */
export const STATUS_CHANGING_PATHS = [
  'campaign/status/update/',
  'adgroup/status/update/',
  'ad/status/update/',
  'campaign/update/',
  'adgroup/update/',
  'adgroup/budget/update/',
  'smart_plus/campaign/status/update/',
  'smart_plus/adgroup/status/update/',
  'smart_plus/ad/status/update/',
] as const;

export function statusChange(path: string) {
  return (ctx: Ctx): never => {
    ctx.state.statusChanges.push({ at: new Date(ctx.now).toISOString(), path, body: ctx.body });
    throw new ApiError(40001, `The emulator records but never performs ${path}: ttsync must not change campaign, ad group or ad status.`);
  };
}
