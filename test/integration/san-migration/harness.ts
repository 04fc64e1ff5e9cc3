import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { expect } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { AccountSchema, ProgramSchema, type Account, type AccountInput, type Program, type ProgramInput } from '../../../src/san-migration/model';
import type { SanMigrationStatus } from '../../../src/san-migration/messages';
import { readStatus, type SanQueues } from '../../../src/san-migration/client';
import { openSanStores, type SanStores } from '../../../src/san-migration/stores';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { emulatorFor } from '../tiktok/helpers';
import { createNoticeService, type NoticeChannel, type NoticeOutbox } from '../../../src/notices';
import { openBlobStore } from '../../../src/storage';
import { kernelNoticeWriter } from '../../../src/san-migration/notices';
import { startMailpit, type Mailpit } from '../../helpers/mailpit';
import { temporalClient, testTemporal, uniqueId } from '../../helpers/temporal';
import type { TemporalSettings } from '../../../src/temporal/connection';

/*
 * One SAN migration test world: its own emulator, partner-config store (a temp folder),
 * client and real workers on a unique queue (activities on the same queue). Timelines are
 * compressed by the program's dates alone: a test writes dates seconds apart.
 */

export interface SanWorld {
  emu: RunningEmulator;
  token: string;
  stores: SanStores;
  client: Client;
  queues: Required<SanQueues>;
  workers: RunningWorkers;
  dir: string;
  /** Where the notices were delivered (SMTP), and the kernel outbox that holds them. */
  mailpit: Mailpit;
  outbox: NoticeOutbox;
  close(): Promise<void>;
}

export interface SanWorldOptions {
  /** Wraps the SMTP adapter (a test makes it fail at a chosen moment). */
  wrapEmail?: (real: NoticeChannel) => NoticeChannel;
  /** The server the client and workers use; the run's shared one unless a test brings its own (the Web UI test does). */
  temporal?: () => TemporalSettings;
}

export async function startSanWorld(name: string, advertisers: string[], opts: SanWorldOptions = {}): Promise<SanWorld> {
  const dir = mkdtempSync(join(tmpdir(), `ttsync-san-${name}-`));
  const emu = await emulatorFor({ campaignsPerAdvertiser: 3 });
  const token = emu.control.issueToken(advertisers);
  const stores = openSanStores(join(dir, 'san'));
  const mailpit = await startMailpit();
  const noticeStore = openBlobStore(join(dir, 'notices'));
  const noticeService = createNoticeService(
    { storeUri: noticeStore.uri, defaultRoute: { email: [OPERATORS] }, smtp: { url: mailpit.smtpUrl, from: 'ttsync <ttsync@mmp.example>' }, uiBaseUrl: 'http://127.0.0.1:8233', namespace: 'default' },
    { openStore: () => noticeStore, ...(opts.wrapEmail ? { channels: (built) => ({ ...built, email: opts.wrapEmail!(built.email!) }) } : {}) },
  );
  const temporal = opts.temporal?.() ?? testTemporal();
  const client = await temporalClient(temporal);
  const queue = uniqueId(`test-san-${name}`);
  const connection = await NativeConnection.connect({ address: temporal.address });
  const workers = await createWorkers({
    temporal,
    connection,
    roles: ['control'],
    taskQueues: { control: queue },
    shutdownGraceTime: '1s',
    activityDeps: {
      sanMigration: {
        sanStores: stores,
        notices: kernelNoticeWriter(noticeService),
        // The account's reference names a secret; the test's resolver hands the emulator's token.
        resolveSecret: async (ref) => {
          if (ref !== 'env:SAN_TEST_TOKEN') throw new Error(`unexpected secret ${ref}`);
          return token;
        },
        tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_TIMEOUT_MS: 5000 },
      },
    },
  });
  return {
    emu,
    token,
    stores,
    client,
    queues: { taskQueue: queue, activityQueue: queue },
    workers,
    dir,
    mailpit,
    outbox: noticeService.outbox,
    async close() {
      workers.shutdown();
      await workers.done;
      await connection.close();
      await client.connection.close();
      await emu.close();
      await mailpit.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The deployment's default notice route: the MMP's operators. */
export const OPERATORS = 'ops@mmp.example';

export const LEGACY = {
  android: { trackerLinks: { clickUrl: 'https://track.mmp.example/click?c=__CAMPAIGN_ID__' }, eventMapping: [{ partnerEvent: 'purchase', tiktokEvent: 'Purchase' }, { partnerEvent: 'signup', tiktokEvent: 'Registration' }], fraudPostbacks: true, networkName: 'TikTok for Business – Android' },
  ios: { trackerLinks: { clickUrl: 'https://track.mmp.example/click?c=__CAMPAIGN_ID__' }, eventMapping: [{ partnerEvent: 'purchase', tiktokEvent: 'Purchase' }], fraudPostbacks: false, networkName: 'TikTok for Business – iOS' },
};

export function account(accountId: string, advertiserId: string, apps: AccountInput['apps']): Account {
  return AccountSchema.parse({ accountId, advertiserId, contacts: [{ email: `ua@${accountId}.example` }], accessToken: 'env:SAN_TEST_TOKEN', apps });
}

export const app = (appId: string, platform: 'android' | 'ios', tiktokAppId: string) => ({ appId, platform, storeAppId: platform === 'ios' ? 'id1234567890' : `com.example.${appId.replace(/-/g, '')}`, tiktokAppId, legacy: LEGACY[platform] });

/** A program whose dates are seconds from now: `at(s)` is now + s seconds. */
export function program(p: Omit<ProgramInput, 'decisionDeadline' | 'provisioningDate' | 'targetCompletionDate' | 'sentences'> & { deadlineIn: number; provisioningIn: number; targetIn: number }): Program {
  const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();
  const { deadlineIn, provisioningIn, targetIn, ...rest } = p;
  return ProgramSchema.parse({
    ...rest,
    decisionDeadline: at(deadlineIn),
    provisioningDate: at(provisioningIn),
    targetCompletionDate: at(targetIn),
    sentences: { optIn: 'Please include our account in the automatic SAN migration.', optOut: 'Please leave our account out of the automatic SAN migration.' },
  });
}

/** Polls the account's status until `pred` holds (generous timeout for a loaded machine). */
export async function waitForStatus(w: SanWorld, accountId: string, pred: (s: SanMigrationStatus) => boolean, what: string, timeoutMs = 90_000): Promise<SanMigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: SanMigrationStatus | undefined;
  for (;;) {
    try {
      last = (await readStatus(w.client, accountId))?.status ?? last;
    } catch {
      // Not started or still loading.
    }
    if (last && pred(last)) return last;
    if (Date.now() > deadline) expect.unreachable(`account ${accountId}: ${what} did not happen; last status ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
