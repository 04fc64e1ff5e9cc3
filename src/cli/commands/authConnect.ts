import { UsageError } from '../../config/errors';
import { SecretRefSchema } from '../../config/secretRef';
import { resolveSecret } from '../../config/secrets';
import { storeSecret } from '../../config/secretStore';
import {
  ROLE_ADVICE,
  ROLE_REQUIREMENT,
  TikTokClient,
  TikTokError,
  UNVERIFIED_ADVICE,
  parseTikTokEnv,
  readAdvertiserRoles,
  type AdvertiserRole,
} from '../../tiktok';
import { authorizeUrl, defaultAuthorizeBase, listenForRedirect, newOAuthState, parseRedirectUri, type PendingRedirect } from '../../tiktok/oauth';

/*
 * `ttsync auth connect`: TikTok's browser OAuth end to end. The redirect's code is exchanged
 * for the token, the authorized ad accounts are listed, and the user's role on each is read
 * where TikTok shows it (Business Center). A role read and too weak refuses the whole
 * connection (nothing stored): ttsync could not write audiences there. An unreadable role is
 * reported as unverified, with the requirement, and the token is stored.
 */

export interface ConnectOpts {
  appId: string;
  appSecretRef: string;
  redirectUri: string;
  tokenRef: string;
  advertiser: string[];
  authUrl?: string;
  timeout: number;
  json?: boolean;
}

type Verdict = AdvertiserRole['verdict'] | 'not_authorized';

interface AdvertiserResult {
  advertiserId: string;
  name: string | null;
  role: string | null;
  businessCenterId: string | null;
  verdict: Verdict;
  message: string;
}

export interface ConnectResult {
  ok: boolean;
  appId: string;
  tokenRef: string;
  tokenStored: boolean;
  scope: string[];
  advertisers: AdvertiserResult[];
  refused?: string;
  advice?: string;
}

const err = (line: string) => process.stderr.write(`${line}\n`);

function checkRefs(opts: ConnectOpts): void {
  if (!SecretRefSchema.safeParse(opts.appSecretRef).success)
    throw new UsageError('--app-secret-ref must be a reference such as env:TIKTOK_APP_SECRET or file:/run/secrets/tiktok_app_secret, never the secret itself (the value is not shown)');
  if (!opts.tokenRef.startsWith('file:') || !SecretRefSchema.safeParse(opts.tokenRef).success)
    throw new UsageError('--token-ref must be file:/absolute/path: ttsync writes the token there (mode 0600), and configs point their accessToken at the same reference');
}

export async function connect(opts: ConnectOpts): Promise<void> {
  checkRefs(opts);
  const target = parseRedirectUri(opts.redirectUri);
  if (typeof target === 'string') throw new UsageError(target);
  const secret = await resolveSecret(opts.appSecretRef);
  const env = parseTikTokEnv();
  const base = opts.authUrl ?? process.env.TIKTOK_AUTH_URL?.trim() ?? defaultAuthorizeBase(env.TIKTOK_API_BASE_URL);
  try {
    new URL(base);
  } catch {
    throw new UsageError(`--auth-url "${base}" is not a URL`);
  }
  if (!target.loopback)
    err(
      `warning: ${target.uri.hostname} is not a loopback address: the callback server listens on the network there, and the auth code travels over plain HTTP; prefer a redirect URI on 127.0.0.1 or localhost`,
    );

  const state = newOAuthState();
  const pending = await listenForRedirect(target, state, opts.timeout);
  const onSignal = () => void pending.close();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    err('Open this URL in a browser signed in to TikTok for Business, check the ad accounts and confirm:');
    err(`  ${authorizeUrl(base, { appId: opts.appId, state, redirectUri: opts.redirectUri })}`);
    err(`Waiting up to ${Math.round(opts.timeout / 1000)} s for TikTok's redirect to ${opts.redirectUri} …`);
    const { authCode } = await pending.code;
    err('Redirect received: exchanging the code and checking the ad accounts …');
    const result = await finishConnect(opts, secret, authCode, pending);
    print(result, opts.json === true);
    if (!result.ok) throw new Error(`${result.refused}; the token was not stored`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pending.close();
  }
}

async function finishConnect(opts: ConnectOpts, secret: string, authCode: string, pending: PendingRedirect): Promise<ConnectResult> {
  let result: ConnectResult;
  try {
    const exchange = await new TikTokClient({ appId: opts.appId }).exchangeAuthCode({ appId: opts.appId, secret, authCode });
    // The token lives in this client's private field only, and in the file written below.
    const client = new TikTokClient({ accessToken: exchange.accessToken, appId: opts.appId });
    const authorized = await client.getAuthorizedAdvertisers({ appId: opts.appId, secret });
    const names = new Map(authorized.map((a) => [a.advertiserId, a.name]));
    const wanted = opts.advertiser.length ? [...new Set(opts.advertiser)] : authorized.map((a) => a.advertiserId);
    const roles = new Map((await readAdvertiserRoles(client, wanted.filter((id) => names.has(id)))).map((r) => [r.advertiserId, r]));
    const advertisers: AdvertiserResult[] = wanted.map((id) => {
      const r = roles.get(id);
      if (!r) return { advertiserId: id, name: null, role: null, businessCenterId: null, verdict: 'not_authorized', message: 'not among the ad accounts this authorization covers' };
      return { advertiserId: id, name: names.get(id) ?? null, role: r.role, businessCenterId: r.businessCenterId, verdict: r.verdict, message: r.message };
    });
    const weak = advertisers.filter((a) => a.verdict === 'insufficient');
    const missing = advertisers.filter((a) => a.verdict === 'not_authorized');
    const base = { appId: opts.appId, tokenRef: opts.tokenRef, scope: exchange.scope.map(String), advertisers };
    if (advertisers.length === 0) {
      result = {
        ...base,
        ok: false,
        tokenStored: false,
        refused: 'authorization refused: it covers no ad account',
        advice: 'authorize again and select the ad accounts ttsync should manage on the consent page',
      };
    } else if (weak.length || missing.length) {
      const parts = [
        ...weak.map((a) => `advertiser ${a.advertiserId} has ${a.message}`),
        ...missing.map((a) => `advertiser ${a.advertiserId} is not authorized`),
      ];
      result = {
        ...base,
        ok: false,
        tokenStored: false,
        refused: `authorization refused: ${parts.join('; ')}; ${ROLE_REQUIREMENT}`,
        advice: weak.length
          ? `${ROLE_ADVICE}${opts.advertiser.length ? '' : '; or name only the ad accounts ttsync will use with --advertiser'}`
          : 'authorize again and select those ad accounts on the consent page, or fix --advertiser',
      };
    } else {
      await storeSecret(opts.tokenRef, exchange.accessToken);
      result = { ...base, ok: true, tokenStored: true };
    }
  } catch (e) {
    await pending.finish({ ok: false, title: 'ttsync could not connect', text: `${(e as Error).message}. Nothing was stored; see the terminal.` });
    if (e instanceof TikTokError) throw new Error(`the authorization could not be completed: ${e.message}`);
    throw e;
  }
  await pending.finish(
    result.ok
      ? { ok: true, title: 'ttsync is connected to TikTok', text: `The token is stored for ${result.advertisers.length} ad account(s). You can close this tab.` }
      : { ok: false, title: 'ttsync refused the authorization', text: `${result.refused}. Nothing was stored; see the terminal for what to do.` },
  );
  return result;
}

function print(r: ConnectResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const lines = [`app ${r.appId}: ${r.advertisers.length} ad account(s)${r.scope.length ? `, scope ${r.scope.join(', ')}` : ''}`];
  for (const a of r.advertisers) {
    const label = `  ${a.advertiserId}${a.name ? ` "${a.name}"` : ''}`;
    switch (a.verdict) {
      case 'ok':
        lines.push(`${label}: ${a.message}: ok`);
        break;
      case 'unverified':
        lines.push(`${label}: ${a.message}. ${ROLE_REQUIREMENT}: ${UNVERIFIED_ADVICE}`);
        break;
      case 'insufficient':
        lines.push(`${label}: ${a.message}: REFUSED (${ROLE_REQUIREMENT})`);
        break;
      case 'not_authorized':
        lines.push(`${label}: ${a.message}: REFUSED`);
        break;
    }
  }
  if (r.ok) lines.push(`token stored in ${r.tokenRef.replace(/^file:(\/\/)?/, '')} (mode 0600); point destination configs' accessToken at "${r.tokenRef}"`);
  else lines.push(`${r.refused}; the token was not stored`, `advice: ${r.advice}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
