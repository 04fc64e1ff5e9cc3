import { NO_TIKTOK_APP_ID, SAN_NETWORK_NAME, type Account, type App } from './model';
import { updateAccount, type PartnerConfigStore } from './partnerConfig';
import type { AccountSummary, DecisionRecord } from './messages';

/*
 * What provisioning, cutover and decisions write to the partner-config store, each one
 * compare-and-swap update that is idempotent: run twice, it writes once.
 */

export type ProvisionOutcome = 'provisioned' | 'already_provisioned' | 'self_configured' | 'needs_app_id' | 'cut_over';

export function summaryOf(a: Account): AccountSummary {
  return {
    accountId: a.accountId,
    advertiserId: a.advertiserId,
    apps: a.apps.map((app) => ({
      appId: app.appId,
      platform: app.platform,
      tiktokAppId: app.tiktokAppId,
      sanSource: app.san?.source ?? null,
      active: app.active,
      networkName: app.reportingNetworkName ?? (app.active === 'san' ? SAN_NETWORK_NAME : app.legacy.networkName),
    })),
    decision: a.decision ?? null,
  };
}

function outcomeOf(app: App): ProvisionOutcome | null {
  if (app.active === 'san') return 'cut_over';
  if (app.san?.source === 'self_configured') return 'self_configured';
  if (app.san?.source === 'provisioned') return 'already_provisioned';
  if (app.tiktokAppId === NO_TIKTOK_APP_ID) return 'needs_app_id';
  return null;
}

/** Gives every app without one a SAN integration mirroring its legacy setup; leaves the others alone. */
export async function provisionAccount(store: PartnerConfigStore, accountId: string, now: Date): Promise<{ appId: string; outcome: ProvisionOutcome }[]> {
  let outcomes: { appId: string; outcome: ProvisionOutcome }[] = [];
  await updateAccount(store, accountId, (account) => {
    let changed = false;
    outcomes = [];
    const apps = account.apps.map((app) => {
      const known = outcomeOf(app);
      if (known) {
        outcomes.push({ appId: app.appId, outcome: known });
        return app;
      }
      changed = true;
      outcomes.push({ appId: app.appId, outcome: 'provisioned' });
      return {
        ...app,
        san: { tiktokAppId: app.tiktokAppId, eventMapping: app.legacy.eventMapping, fraudPostbacks: app.legacy.fraudPostbacks, source: 'provisioned' as const, configuredAt: now.toISOString() },
      };
    });
    return changed ? { ...account, apps } : null;
  });
  return outcomes;
}

/** The app attributes through SAN from `at` on, under the SAN network name. */
export async function cutOverInStore(store: PartnerConfigStore, accountId: string, appId: string, at: string, announcedAt: string): Promise<{ app: App }> {
  let found: App | undefined;
  await updateAccount(store, accountId, (account) => {
    const app = account.apps.find((a) => a.appId === appId);
    if (!app) throw new Error(`account ${accountId} has no app ${appId} in the partner-config store`);
    if (app.active === 'san' && app.reportingNetworkName === SAN_NETWORK_NAME) {
      found = app;
      return null;
    }
    const next: App = { ...app, active: 'san', reportingNetworkName: SAN_NETWORK_NAME, cutover: { at, announcedAt } };
    found = app;
    return { ...account, apps: account.apps.map((a) => (a.appId === appId ? next : a)) };
  });
  return { app: found! };
}

export async function recordDecision(store: PartnerConfigStore, accountId: string, decision: DecisionRecord): Promise<void> {
  await updateAccount(store, accountId, (account) => (JSON.stringify(account.decision) === JSON.stringify(decision) ? null : { ...account, decision }));
}

/** Marks apps as configured for SAN by someone other than ttsync (`ttsync san mark-self-configured`). */
export async function markSelfConfigured(store: PartnerConfigStore, accountId: string, appId: string, now: Date): Promise<'marked' | 'already'> {
  let result: 'marked' | 'already' = 'already';
  await updateAccount(store, accountId, (account) => {
    const app = account.apps.find((a) => a.appId === appId);
    if (!app) throw new Error(`account ${accountId} has no app ${appId}`);
    if (app.san) return null;
    if (app.tiktokAppId === NO_TIKTOK_APP_ID) throw new Error(`app ${appId} has no TikTok App ID ("N/A"): record it before marking the app self-configured`);
    result = 'marked';
    const san = { tiktokAppId: app.tiktokAppId, eventMapping: app.legacy.eventMapping, fraudPostbacks: app.legacy.fraudPostbacks, source: 'self_configured' as const, configuredAt: now.toISOString() };
    return { ...account, apps: account.apps.map((a) => (a.appId === appId ? { ...a, san } : a)) };
  });
  return result;
}
