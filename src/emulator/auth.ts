import { createHash, randomBytes } from 'node:crypto';
import { ApiError, reqString, requireAdvertiser, stringArray, type Ctx } from './context';
import type { EmulatorState, TokenRec } from './state';

/** Scope ids as strings: 7224195155857866754 does not fit a double. */
export const ALL_SCOPES = ['4', '30', '31', '32', '50', '51', '7224195155857866754'];
const scopeJson = (s: string[]) => s.map((x) => (Number.isSafeInteger(Number(x)) ? Number(x) : x));

export function issueAuthCode(
  state: EmulatorState,
  appId: string,
  advertiserIds: string[],
  ttlMs: number,
  scope: string[] = [],
): string {
  const code = randomBytes(20).toString('hex');
  for (const id of advertiserIds) state.ensureAdvertiser(id);
  state.authCodes.set(code, { code, appId, advertiserIds, scope, expiresAt: Date.now() + ttlMs, used: false });
  return code;
}

export function issueToken(
  state: EmulatorState,
  appId: string,
  advertiserIds: string[],
  scope: string[] = [],
  token = randomBytes(20).toString('hex'),
): TokenRec {
  for (const id of advertiserIds) state.ensureAdvertiser(id);
  const rec: TokenRec = { token, appId, advertiserIds: [...advertiserIds], scope, revoked: false, createdAt: Date.now() };
  state.tokens.set(token, rec);
  return rec;
}

function checkApp(ctx: Ctx, appId: string, secret: string): void {
  if (ctx.opts.apps[appId] !== secret) throw new ApiError(40101, 'Invalid app_id or secret.');
}

export function accessToken(ctx: Ctx): unknown {
  const appId = reqString(ctx, 'app_id');
  const secret = reqString(ctx, 'secret');
  const code = reqString(ctx, 'auth_code');
  checkApp(ctx, appId, secret);
  const rec = ctx.state.authCodes.get(code);
  if (!rec || rec.used || rec.appId !== appId || ctx.now >= rec.expiresAt) {
    throw new ApiError(40110, 'Auth code is invalid: it has expired, been used or been cancelled.');
  }
  rec.used = true;
  const t = issueToken(ctx.state, appId, rec.advertiserIds, rec.scope);
  ctx.markDirty();
  const advertiser = ctx.body.return_advertiser_ids === false ? {} : { advertiser_ids: t.advertiserIds };
  return { access_token: t.token, scope: scopeJson(t.scope.length ? t.scope : ALL_SCOPES), ...advertiser };
}

export function revokeToken(ctx: Ctx): unknown {
  const appId = reqString(ctx, 'app_id');
  checkApp(ctx, appId, reqString(ctx, 'secret'));
  const t = ctx.state.tokens.get(reqString(ctx, 'access_token'));
  if (!t || t.appId !== appId || t.revoked) throw new ApiError(40105, 'Access token is incorrect or has been revoked.');
  t.revoked = true;
  ctx.markDirty();
  return { app_id: appId, advertiser_ids: t.advertiserIds };
}

export function authorizedAdvertisers(ctx: Ctx): unknown {
  const appId = reqString(ctx, 'app_id');
  checkApp(ctx, appId, reqString(ctx, 'secret'));
  if (ctx.token!.appId !== appId) throw new ApiError(40113, 'The app_id is inconsistent with the access token.');
  return {
    list: ctx.token!.advertiserIds.map((id) => ({
      advertiser_id: id,
      advertiser_name: ctx.state.ensureAdvertiser(id).name,
    })),
  };
}

export function advertiserInfo(ctx: Ctx): unknown {
  const ids = stringArray(ctx, 'advertiser_ids', 1, 100)!;
  for (const id of ids) requireAdvertiser(ctx, id);
  return {
    list: ids.map((id) => {
      const a = ctx.state.ensureAdvertiser(id);
      return {
        advertiser_id: a.id,
        name: a.name,
        currency: a.currency,
        timezone: a.timezone,
        status: 'STATUS_ENABLE',
        create_time: Math.floor(a.createdAt / 1000),
      };
    }),
  };
}

export function userInfo(ctx: Ctx): unknown {
  const t = ctx.token!;
  return {
    core_user_id: BigInt(`0x${createHash('sha256').update(t.token).digest('hex').slice(0, 15)}`).toString(),
    display_name: 'Emulated TikTok user',
    email: 'emulated-user@example.invalid',
    create_time: Math.floor(t.createdAt / 1000),
  };
}

/** Scope ids required per path (digest §2.2); a token with an explicit scope list must have them. */
export const SCOPE_OF_PATH: Record<string, string> = {
  'dmp/custom_audience/list/': '30',
  'dmp/custom_audience/get/': '30',
  'dmp/custom_audience/file/upload/': '31',
  'dmp/custom_audience/create/': '31',
  'dmp/custom_audience/update/': '31',
  'dmp/custom_audience/delete/': '31',
  'segment/audience/': '31',
  'segment/mapping/': '31',
  'event/track/': '7224195155857866754',
};

export function checkScope(ctx: Ctx, path: string): void {
  const need = SCOPE_OF_PATH[path];
  const t = ctx.token;
  if (need === undefined || !t || t.scope.length === 0 || t.scope.includes(need)) return;
  throw new ApiError(40001, `No permission: the access token is not authorized for scope ${need}.`);
}

