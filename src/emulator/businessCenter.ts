import { ApiError, optInt, reqString, type Ctx } from './context';

/*
 * One emulated Business Center holding every ad account given a role in `advertiserRoles`,
 * with the signed-in user's role on each (digest §13.7: the only place TikTok shows it).
 * Ad accounts without a role are in no Business Center.
 */

export const EMULATED_BC_ID = '7300000000000000001';

function page(ctx: Ctx): { page: number; pageSize: number } {
  return { page: optInt(ctx, 'page', 1, 100_000) ?? 1, pageSize: optInt(ctx, 'page_size', 1, 50) ?? 10 };
}

function paged<T>(all: T[], p: { page: number; pageSize: number }) {
  return {
    list: all.slice((p.page - 1) * p.pageSize, p.page * p.pageSize),
    page_info: { page: p.page, page_size: p.pageSize, total_number: all.length, total_page: Math.max(1, Math.ceil(all.length / p.pageSize)) },
  };
}

const rolesOf = (ctx: Ctx) => Object.entries(ctx.opts.advertiserRoles);

export function businessCenters(ctx: Ctx): unknown {
  const centers = rolesOf(ctx).length
    ? [{ bc_info: { bc_id: EMULATED_BC_ID, name: 'Emulated Business Center', status: 'ENABLE' }, user_role: 'STANDARD', ext_user_role: { finance_role: null } }]
    : [];
  return paged(centers, page(ctx));
}

export function bcAssets(ctx: Ctx): unknown {
  const bcId = reqString(ctx, 'bc_id');
  const assetType = reqString(ctx, 'asset_type');
  if (!['ADVERTISER', 'CATALOG', 'PIXEL', 'TIKTOK_ACCOUNT'].includes(assetType)) throw new ApiError(40002, 'asset_type: Must be one of ADVERTISER, CATALOG, PIXEL, TIKTOK_ACCOUNT.');
  if (bcId !== EMULATED_BC_ID || !rolesOf(ctx).length) throw new ApiError(40001, `No permission to operate Business Center ${bcId}.`);
  const assets =
    assetType !== 'ADVERTISER'
      ? []
      : rolesOf(ctx).map(([advertiserId, role]) => ({
          asset_id: advertiserId,
          asset_name: ctx.state.ensureAdvertiser(advertiserId).name,
          asset_type: 'ADVERTISER',
          relation_type: 'OWNER_BC',
          relation_status: 'BOUND',
          advertiser_status: 'STATUS_ENABLE',
          advertiser_account_type: 'AUCTION',
          advertiser_role: role,
        }));
  return paged(assets, page(ctx));
}
