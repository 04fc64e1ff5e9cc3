import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { SecretError, resolveSecret } from '../config/secrets';
import { fail, info, ok, warn, type CheckOutcome, type DoctorCheck, type DoctorContext, type DoctorSource } from '../temporal/doctor';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { WorkflowIds } from '../temporal/workflowIds';
import { PermissionDenied, ReauthorizationRequired, TikTokClient, TikTokError, parseTikTokEnv } from '../tiktok';
import { loadAccountsFile } from './files';
import { NO_TIKTOK_APP_ID, type Account } from './model';
import { defaultSanStoreUri, openSanStores } from './stores';

/*
 * SAN migration's part of `ttsync doctor --lifecycle san-migration --config accounts.json`:
 * once, the SAN store every worker shares (a probe object written, read, deleted) and the
 * program in it; per account, whether it is imported and the same as the file, its TikTok
 * App IDs, the token (as the activities resolve it), its campaigns (read-only; paused ones
 * are what the migration must not meet) and its workflow. Nothing a workflow reads is written.
 */

const PROBE_KEY = () => `doctor/probe-${randomBytes(6).toString('hex')}.txt`;

function storeCheck(): DoctorCheck {
  return {
    name: 'san-store',
    async run() {
      const uri = defaultSanStoreUri();
      const { files } = openSanStores(uri);
      const key = PROBE_KEY();
      try {
        await files.write(key, 'ttsync doctor probe\n');
        await files.readBuffer(key);
        await files.delete(key, { ignoreNotFound: true });
      } catch (err) {
        return fail(`the SAN store ${uri} cannot be written and read: ${(err as Error).message}`, 'point TTSYNC_SAN_STORE at a folder (local path or gs://) every worker and the CLI can write, with credentials that allow it');
      }
      return process.env.TTSYNC_SAN_STORE?.trim()
        ? ok(`the SAN store ${uri} (TTSYNC_SAN_STORE) can be written and read`)
        : info(`the SAN store ${uri} (the default, TTSYNC_SAN_STORE unset) can be written and read; only workers on this machine share it`, 'several worker machines need TTSYNC_SAN_STORE=gs://… shared by all');
    },
  };
}

function programCheck(): DoctorCheck {
  return {
    name: 'san-program',
    needs: ['san-store'],
    async run() {
      const { config } = openSanStores(defaultSanStoreUri());
      const p = await config.getProgram();
      if (!p) return info(`no program in ${config.location} yet`, 'apply TikTok\'s program: ttsync san program apply --program <file>');
      const v = p.value;
      return ok(`program ${v.programId} revision ${v.revision}: ${v.mode}, deadline ${v.decisionDeadline}, provisioning ${v.provisioningDate}, target ${v.targetCompletionDate}`);
    },
  };
}

function tiktokAdvice(err: TikTokError, a: Account): string {
  if (err instanceof ReauthorizationRequired) return `authorize the app again for advertiser ${a.advertiserId} and put the new token where ${a.accessToken} points (for the workers too)`;
  if (err instanceof PermissionDenied) return `the token lacks advertiser ${a.advertiserId}: authorize the app for it (read access to campaigns is enough), or fix advertiserId`;
  return `TikTok (${err.endpoint}) refused or failed: check TIKTOK_API_BASE_URL and TikTok's status, then run the doctor again`;
}

export const sanMigrationDoctor: DoctorSource<Account> = {
  lifecycle: 'san-migration',
  load: (path) => loadAccountsFile(path),
  subjectOf: (a) => a.accountId,
  deploymentChecks: () => [storeCheck(), programCheck()],
  checks(a: Account, ctx: DoctorContext): DoctorCheck[] {
    let client: Promise<TikTokClient> | undefined;
    const tiktok = () => (client ??= resolveSecret(a.accessToken).then((accessToken) => new TikTokClient({ accessToken, retry: { maxAttempts: 2, maxDelayMs: 2000 } })));
    const tiktokCall = async (fn: (c: TikTokClient) => Promise<CheckOutcome>, what: string): Promise<CheckOutcome> => {
      try {
        return await fn(await tiktok());
      } catch (err) {
        if (err instanceof TikTokError) return fail(`${what}: ${err.message}`, tiktokAdvice(err, a));
        throw err;
      }
    };
    return [
      {
        name: 'imported',
        needs: ['san-store'],
        async run() {
          const { config } = openSanStores(defaultSanStoreUri());
          const stored = await config.getAccount(a.accountId);
          if (!stored) return fail(`account ${a.accountId} is not in ${config.location}`, 'import it: ttsync san import --accounts <file>');
          const missing = a.apps.filter((app) => !stored.value.apps.some((s) => s.appId === app.appId)).map((app) => app.appId);
          if (missing.length) return warn(`apps ${missing.join(', ')} of the file are not in the store`, 'import the file again, then ttsync san program apply so the workflow reads them');
          return ok(`imported, ${stored.value.apps.length} app(s)${stored.value.decision ? `, decision ${stored.value.decision.kind} by ${stored.value.decision.by}` : ''}`);
        },
      },
      {
        name: 'app-ids',
        async run() {
          const none = a.apps.filter((app) => app.tiktokAppId === NO_TIKTOK_APP_ID).map((app) => app.appId);
          return none.length
            ? warn(`apps without a TikTok App ID ("N/A"): ${none.join(', ')}: provisioning skips them (needs_app_id)`, 'record each app\'s TikTok App ID (TikTok Ads Manager › Assets › Apps), import again')
            : ok(`every app has a TikTok App ID (${a.apps.length})`);
        },
      },
      {
        name: 'token',
        async run() {
          try {
            parseTikTokEnv();
            await tiktok();
          } catch (err) {
            if (err instanceof SecretError) return fail(err.message, `provide the token where ${a.accessToken} points, in this environment and the workers'`);
            throw err;
          }
          return tiktokCall(async (c) => {
            await c.getUserInfo();
            return ok(`${a.accessToken} resolves and TikTok accepts the token (${c.baseUrl})`);
          }, 'the token is refused');
        },
      },
      {
        name: 'campaigns',
        needs: ['token'],
        async run() {
          return tiktokCall(async (c) => {
            const campaigns = await c.listAllCampaigns(a.advertiserId);
            const paused = campaigns.filter((x) => x.operation_status === 'DISABLE').map((x) => x.campaign_id);
            return paused.length
              ? warn(`${paused.length} of ${campaigns.length} campaigns are paused: ${paused.slice(0, 10).join(', ')}${paused.length > 10 ? ', …' : ''}`, 'TikTok moves campaigns over running; ask the advertiser whether they paused them for the migration (they should not)')
              : ok(`${campaigns.length} campaigns, none paused`);
          }, `campaign/get for advertiser ${a.advertiserId}`);
        },
      },
      {
        name: 'workflow',
        needs: ['temporal'],
        async run() {
          const { client } = ctx.temporal();
          const id = WorkflowIds.sanMigration(a.accountId);
          try {
            const d = await client.workflow.getHandle(id).describe();
            const state = d.typedSearchAttributes.get(SearchAttributeKeys.MigrationState) ?? 'starting';
            return d.status.name === 'RUNNING' || d.status.name === 'COMPLETED' ? ok(`${id}: ${d.status.name.toLowerCase()}, ${state}`) : fail(`${id} ${d.status.name.toLowerCase()}`, `see why: ttsync san status ${a.accountId}; once fixed: ttsync rerun ${id}`);
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return info(`${id} not started`, 'ttsync san program apply --program <file> starts every imported account');
            throw err;
          }
        },
      },
    ];
  },
};
