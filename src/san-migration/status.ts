import { NO_TIKTOK_APP_ID, type Program } from './model';
import type { AccountSummary, AppStatus, SanMigrationStatus } from './messages';

/*
 * The workflow's picture of an account, built from the partner-config store and kept in step
 * with it: the store is the truth about integrations (someone may configure SAN, record an
 * App ID or add an app meanwhile), the workflow about what it did (notices, cutovers). Pure.
 */

const NEEDS_APP_ID_ADVICE = (appId: string) =>
  `app ${appId} has no TikTok App ID ("N/A"): record it in the partner-config store (ttsync san import with the app's tiktokAppId), then run ttsync san program apply again to provision it`;

function appFromStore(a: AccountSummary['apps'][number]): AppStatus {
  const base = { appId: a.appId, platform: a.platform, tiktokAppId: a.tiktokAppId, networkName: a.networkName, targetMissed: false };
  if (a.active === 'san') return { ...base, state: 'cut_over', ...(a.sanSource ? { sanSource: a.sanSource } : {}) };
  if (a.sanSource === 'self_configured') return { ...base, state: 'self_configured', sanSource: 'self_configured' };
  if (a.sanSource === 'provisioned') return { ...base, state: 'provisioned', sanSource: 'provisioned' };
  return { ...base, state: 'legacy' };
}

export function initialStatus(account: AccountSummary, program: Program): SanMigrationStatus {
  return {
    accountId: account.accountId,
    advertiserId: account.advertiserId,
    phase: 'awaiting_decision',
    enrolled: false,
    program,
    decision: account.decision,
    apps: account.apps.map(appFromStore),
    next: null,
    remindersHandled: [],
    targetCheckedFor: null,
    notices: [],
    alerts: [],
    lastCampaignCheck: null,
  };
}

/**
 * The status after reading the account again. Apps that left the store leave the status;
 * new ones join; an app keeps what the workflow knows (notice sent, cut over) unless the
 * store shows more (a SAN integration appeared, the app went over to SAN, an App ID arrived).
 */
export function mergeAccount(s: SanMigrationStatus, account: AccountSummary): SanMigrationStatus {
  const known = new Map(s.apps.map((a) => [a.appId, a]));
  const apps = account.apps.map((stored): AppStatus => {
    const fresh = appFromStore(stored);
    const prev = known.get(stored.appId);
    if (!prev) return fresh;
    const kept = { ...prev, platform: stored.platform, tiktokAppId: stored.tiktokAppId };
    if (fresh.state === 'cut_over' && prev.state !== 'cut_over') return { ...kept, state: 'cut_over', networkName: stored.networkName };
    if (prev.state === 'legacy' || prev.state === 'opted_out') return fresh.state === 'legacy' ? kept : { ...kept, ...fresh };
    // An App ID recorded since: provisioning looks at the app again.
    if (prev.state === 'needs_app_id' && stored.tiktokAppId !== NO_TIKTOK_APP_ID) return fresh.state === 'legacy' ? { ...kept, state: 'legacy', advice: undefined } : { ...kept, ...fresh, advice: undefined };
    return kept;
  });
  return { ...s, advertiserId: account.advertiserId, apps, decision: account.decision ?? s.decision };
}

export { NEEDS_APP_ID_ADVICE };
