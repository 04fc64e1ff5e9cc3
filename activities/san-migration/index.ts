import { ApplicationFailure } from '@temporalio/common';
import { resolveSecret as defaultResolveSecret } from '../../src/config/secrets';
import { StorageError } from '../../src/storage';
import { TikTokClient, type TikTokEnv } from '../../src/tiktok';
import { mapTikTokFailures } from '../../src/tiktok/activityFailure';
import { writeBiMapping } from '../../src/san-migration/biMapping';
import { SanMigrationError, SanMigrationFailureType } from '../../src/san-migration/failures';
import type { AccountSummary, DecisionRecord, NoticeKind } from '../../src/san-migration/messages';
import { SAN_NETWORK_NAME, type Account, type Program } from '../../src/san-migration/model';
import { SanNoticeError, composeNotice, kernelNoticeWriter, type NoticeFacts, type SanNoticeWriter } from '../../src/san-migration/notices';
import { createNoticeService } from '../../src/notices';
import { NoticeFailureType } from '../../src/notices/failures';
import { cutOverInStore, provisionAccount, recordDecision, summaryOf, type ProvisionOutcome } from '../../src/san-migration/provision';
import { openSanStores, type SanStores } from '../../src/san-migration/stores';

export interface SanMigrationActivityDeps {
  /** The partner-config store and the mapping files' folder; default TTSYNC_SAN_STORE. */
  sanStores?: SanStores;
  /** Where notices go; default the kernel's notices outbox from the worker's env (TTSYNC_NOTICES, TTSYNC_SMTP_URL, …). */
  notices?: SanNoticeWriter;
  resolveSecret?: (ref: string) => Promise<string>;
  tiktokEnv?: Partial<TikTokEnv>;
  now?: () => Date;
}

/** Storage and store errors as failure types the workflow's retry policy knows. */
async function mapStoreFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SanMigrationError) throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: !['PartnerConfigContention', 'PartnerConfigUnavailable'].includes(err.type) });
    if (err instanceof StorageError) {
      if (['permission', 'bad_uri', 'bucket_not_found'].includes(err.code))
        throw ApplicationFailure.create({ type: SanMigrationFailureType.PartnerConfigAccess, message: err.message, nonRetryable: true });
      throw ApplicationFailure.create({ type: SanMigrationFailureType.PartnerConfigUnavailable, message: err.message });
    }
    throw err;
  }
}

export interface NoticeRequest {
  accountId: string;
  kind: NoticeKind;
  key: string;
  /** The workflow it is about: the notice links to its Temporal UI page. */
  workflowId?: string;
  appId?: string;
  route: 'contacts' | 'operators';
  facts: NoticeFacts;
}

export function createSanMigrationActivities(deps: SanMigrationActivityDeps = {}) {
  let opened: SanStores | undefined = deps.sanStores;
  const stores = (): SanStores => (opened ??= openSanStores());
  // Built at the first notice: a worker whose notice settings are wrong still runs the rest.
  const notices: SanNoticeWriter = deps.notices ?? kernelNoticeWriter(() => createNoticeService());
  const now = deps.now ?? (() => new Date());
  const resolve = deps.resolveSecret ?? ((ref: string) => defaultResolveSecret(ref));

  async function account(accountId: string): Promise<Account> {
    const got = await stores().config.getAccount(accountId);
    if (!got) throw new SanMigrationError(SanMigrationFailureType.AccountNotFound, `account ${accountId} is not in the partner-config store ${stores().config.location}: import it with ttsync san import --accounts <file>`);
    return got.value;
  }

  return {
    /** The account as the workflow sees it: apps and decision, no contacts, no token. */
    async loadSanAccount(input: { accountId: string }): Promise<AccountSummary> {
      return mapStoreFailures(async () => summaryOf(await account(input.accountId)));
    },

    async loadSanProgram(): Promise<Program> {
      return mapStoreFailures(async () => {
        const got = await stores().config.getProgram();
        if (!got) throw new SanMigrationError(SanMigrationFailureType.ProgramNotFound, `no program in ${stores().config.location}: apply one with ttsync san program apply --program <file>`);
        return got.value;
      });
    },

    async recordSanDecision(input: { accountId: string; decision: DecisionRecord }): Promise<void> {
      return mapStoreFailures(() => recordDecision(stores().config, input.accountId, input.decision));
    },

    /** Idempotent: apps that have a SAN integration (ours or anyone's) are left as they are. */
    async provisionSanApps(input: { accountId: string }): Promise<{ appId: string; outcome: ProvisionOutcome }[]> {
      return mapStoreFailures(() => provisionAccount(stores().config, input.accountId, now()));
    },

    /** The store's switch to SAN and the BI mapping file; run again, it writes the same. */
    async cutOverSanApp(input: { accountId: string; appId: string; at: string; announcedAt: string }): Promise<{ mappingUri: string; oldNetworkName: string }> {
      return mapStoreFailures(async () => {
        const { app } = await cutOverInStore(stores().config, input.accountId, input.appId, input.at, input.announcedAt);
        const oldNetworkName = app.legacy.networkName;
        const mappingUri = await writeBiMapping(stores().files, {
          accountId: input.accountId,
          appId: app.appId,
          platform: app.platform,
          oldNetworkName,
          newNetworkName: SAN_NETWORK_NAME,
          effectiveAt: input.at,
        });
        return { mappingUri, oldNetworkName };
      });
    },

    /**
     * Reads every campaign's status (never changes one): the migration needs campaigns
     * running, so paused ones are reported. Campaign ids only, no names.
     */
    async checkSanCampaigns(input: { accountId: string }): Promise<{ campaigns: number; pausedCampaignIds: string[] }> {
      const acct = await mapStoreFailures(() => account(input.accountId));
      return mapTikTokFailures(async () => {
        const client = new TikTokClient({ accessToken: await resolve(acct.accessToken), env: deps.tiktokEnv });
        const campaigns = await client.listAllCampaigns(acct.advertiserId);
        return { campaigns: campaigns.length, pausedCampaignIds: campaigns.filter((c) => c.operation_status === 'DISABLE').map((c) => c.campaign_id) };
      });
    },

    /** Writes the notice once under its key; the addresses come from the store, never from history. */
    async sendSanNotice(input: NoticeRequest): Promise<{ uri: string; created: boolean }> {
      return mapStoreFailures(async () => {
        const acct = await account(input.accountId);
        const { subject, text } = composeNotice(input.kind, input.facts, acct);
        try {
          return await notices({
            key: input.key,
            route: input.route === 'contacts' ? { email: acct.contacts.map((c) => c.email) } : 'operators',
            subject,
            text,
            metadata: { accountId: input.accountId, kind: input.kind, ...(input.appId ? { appId: input.appId } : {}), ...(input.workflowId ? { workflowId: input.workflowId } : {}) },
          });
        } catch (err) {
          if (!(err instanceof SanNoticeError)) throw err;
          // The notice is in the outbox unless it was invalid; an undeliverable one waits there for the sweeper.
          if (err.kind === 'invalid') throw ApplicationFailure.create({ type: NoticeFailureType.InvalidNotice, message: err.message, nonRetryable: true });
          if (err.kind === 'permanent') throw ApplicationFailure.create({ type: NoticeFailureType.NoticeUndeliverable, message: err.message, nonRetryable: true });
          throw ApplicationFailure.create({ type: NoticeFailureType.NoticeDeliveryUnavailable, message: err.message });
        }
      });
    },
  };
}

export type SanMigrationActivities = ReturnType<typeof createSanMigrationActivities>;
