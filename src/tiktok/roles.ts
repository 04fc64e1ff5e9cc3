import type { TikTokClient } from './client';
import { InvalidRequest, PermissionDenied, UnexpectedResponse } from './errors';

/*
 * The user's permission on each ad account, as far as TikTok shows it. TikTok exposes it only
 * through Business Center endpoints (digest §13.7): `bc/asset/get/` lists a BC's ad accounts
 * with `advertiser_role`, the token user's role on each. An ad account outside every Business
 * Center the user sees has no readable role: it is "unverified", never assumed. A read of the
 * advertiser's audiences proves nothing, since weaker roles may read too.
 *
 * Writing audiences and sending events needs Ad Account Operator or Ad Account Admin (the
 * requirement every vendor's TikTok guide states); Analyst is weaker.
 */

export const SUFFICIENT_ROLES = ['ADMIN', 'OPERATOR'] as const;
const KNOWN_WEAKER_ROLES = ['ANALYST'] as const;

/** TikTok's role value as people see it in Business Center. */
export function roleLabel(role: string): string {
  switch (role) {
    case 'ADMIN':
      return 'Ad Account Admin';
    case 'OPERATOR':
      return 'Ad Account Operator';
    case 'ANALYST':
      return 'Ad Account Analyst';
    default:
      return role;
  }
}

export const ROLE_REQUIREMENT = 'ttsync needs the Ad Account Operator or Ad Account Admin permission level on the ad account';

/** What to do about a weaker role; said in ttsync's words, after the vendors' troubleshooting lists. */
export const ROLE_ADVICE =
  'authorize the app again while signed in as a TikTok user who holds Ad Account Operator or Ad Account Admin on this ad account (a Business Center admin grants it in the ad account\'s member permissions), and keep every permission the consent page asks for selected';

export const UNVERIFIED_ADVICE =
  'make sure the user who authorized holds one of them on this ad account: an analyst can read it but not write audiences, and no read tells them apart';

export type RoleVerdict = 'ok' | 'insufficient' | 'unverified';

export interface AdvertiserRole {
  advertiserId: string;
  /** TikTok's value (ADMIN, OPERATOR, ANALYST, or another it may add); null when not readable. */
  role: string | null;
  /** The Business Center the role was read through. */
  businessCenterId: string | null;
  verdict: RoleVerdict;
  /** One sentence: the role and where it came from, or why it could not be read. */
  message: string;
}

const MAX_PAGE_SIZE = 50;
/** Guards the paging loops against an answer whose total_page never ends. */
const MAX_PAGES = 200;

/** The verdict for a role TikTok returned. */
export function verdictOf(role: string | null): RoleVerdict {
  if (role === null) return 'unverified';
  if ((SUFFICIENT_ROLES as readonly string[]).includes(role)) return 'ok';
  if ((KNOWN_WEAKER_ROLES as readonly string[]).includes(role)) return 'insufficient';
  return 'unverified';
}

/** Of two roles read for one ad account (it may sit in several BCs), the one that grants more. */
function stronger(a: string | null, b: string | null): string | null {
  const rank = (r: string | null) => (r === 'ADMIN' ? 3 : r === 'OPERATOR' ? 2 : r === 'ANALYST' ? 1 : 0);
  return rank(b) > rank(a) ? b : a;
}

/**
 * The token user's role on each advertiser, read through every Business Center the user
 * belongs to. A refusal of the Business Center endpoints (no permission, or an answer that
 * cannot be read) leaves every role unverified with the reason; token and network failures
 * propagate, as for any other call.
 */
export async function readAdvertiserRoles(client: TikTokClient, advertiserIds: readonly string[]): Promise<AdvertiserRole[]> {
  const found = new Map<string, { role: string | null; bcId: string }>();
  let refusal: string | undefined;
  try {
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { centers, pageInfo } = await client.getBusinessCenters({ page, pageSize: MAX_PAGE_SIZE });
      for (const bc of centers) await readCenter(client, bc.bcId, advertiserIds, found);
      if (page >= pageInfo.total_page) break;
    }
  } catch (err) {
    if (!(err instanceof PermissionDenied || err instanceof InvalidRequest || err instanceof UnexpectedResponse)) throw err;
    refusal = `TikTok's Business Center endpoints did not answer (${err.message})`;
  }
  return advertiserIds.map((advertiserId) => {
    const hit = found.get(advertiserId);
    const role = hit?.role ?? null;
    const verdict = verdictOf(role);
    const via = hit ? ` (read through Business Center ${hit.bcId})` : '';
    const message =
      verdict === 'ok' || verdict === 'insufficient'
        ? `role ${roleLabel(role!)}${via}`
        : hit && role !== null
          ? `role unverified: TikTok reports "${role}"${via}, which ttsync does not know`
          : hit
            ? `role unverified: Business Center ${hit.bcId} lists the ad account without the user's role`
            : refusal
              ? `role unverified: ${refusal}`
              : 'role unverified: the ad account is in no Business Center the user belongs to';
    return { advertiserId, role, businessCenterId: hit?.bcId ?? null, verdict, message };
  });
}

async function readCenter(
  client: TikTokClient,
  bcId: string,
  wanted: readonly string[],
  found: Map<string, { role: string | null; bcId: string }>,
): Promise<void> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    const { assets, pageInfo } = await client.getBcAssets({ bcId, assetType: 'ADVERTISER', page, pageSize: MAX_PAGE_SIZE });
    for (const a of assets) {
      if (!wanted.includes(a.asset_id)) continue;
      // An ad account whose link to the BC is pending, rejected or gone grants nothing through it.
      if (a.relation_status && a.relation_status !== 'BOUND') continue;
      const role = a.advertiser_role ?? null;
      const prev = found.get(a.asset_id);
      if (!prev) found.set(a.asset_id, { role, bcId });
      else if (stronger(prev.role, role) !== prev.role) found.set(a.asset_id, { role, bcId });
    }
    if (page >= pageInfo.total_page) return;
  }
}
