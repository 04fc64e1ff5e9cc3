import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalSettings } from '../src/temporal/connection';
import { startEmulator } from '../src/emulator';
import { announceCutover, applyProgram, importAccounts, readStatus, recordDecision } from '../src/san-migration/client';
import { AccountSchema, ProgramSchema } from '../src/san-migration/model';
import type { SanMigrationStatus } from '../src/san-migration/messages';
import { openSanStores } from '../src/san-migration/stores';
import { WorkflowIds } from '../src/temporal/workflowIds';
import { createWorkers } from '../src/worker';

/*
 * One account through an opt-out program compressed to seconds: a reminder, an opt-in that
 * changes nothing (opt-out mode), a program revision mid-way (signal, store re-read),
 * provisioning with a paused campaign found, TikTok's cutover of one app with short notice,
 * the target date flagging the other, its cutover, and the end (completed). Activities run
 * on a queue of their own, against an in-process emulator and a temp store.
 */
export async function sanMigrationScenario(client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle> {
  const advertiserId = '7000000000000000301';
  const emu = await startEmulator({ rateLimits: { default: { qps: 10_000, qpm: 1_000_000 } } });
  const token = emu.control.issueToken([advertiserId]);
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-san-'));
  const stores = openSanStores(join(dir, 'san'));
  const activityQueue = `${taskQueue}-san`;
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['tiktok'],
    taskQueues: { tiktok: activityQueue },
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: {
      sanMigration: {
        sanStores: stores,
        // Notices are the outbox's business (its own tests deliver them); here each is taken as written.
        notices: async (n) => ({ uri: `memory:${n.key}`, created: true }),
        resolveSecret: async () => token,
        tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000 },
      },
    },
  });
  const q = { taskQueue, activityQueue };
  const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();
  const until = async (pred: (s: SanMigrationStatus) => boolean): Promise<void> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await readStatus(client, 'history-account').catch(() => null);
      if (s && pred(s.status)) return;
      if (Date.now() > deadline) throw new Error(`san scenario stuck: ${JSON.stringify(s?.status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    const legacy = (networkName: string) => ({ trackerLinks: { clickUrl: 'https://track.mmp.example/c?cid=__CAMPAIGN_ID__' }, eventMapping: [{ partnerEvent: 'purchase', tiktokEvent: 'Purchase' }], fraudPostbacks: true, networkName });
    await importAccounts(stores.config, [
      AccountSchema.parse({
        accountId: 'history-account',
        advertiserId,
        contacts: [{ email: 'ua@history.example' }],
        accessToken: 'env:TTSYNC_HISTORY_SCENARIO_TOKEN',
        apps: [
          { appId: 'hist-android', platform: 'android', storeAppId: 'com.example.hist', tiktokAppId: '7200000000000000301', legacy: legacy('TikTok for Business – Android') },
          { appId: 'hist-ios', platform: 'ios', storeAppId: 'id100000001', tiktokAppId: '7200000000000000302', legacy: legacy('TikTok for Business – iOS') },
        ],
      }),
    ]);
    const campaigns = (await fetch(`${emu.apiBaseUrl}/campaign/get/?advertiser_id=${advertiserId}`, { headers: { 'Access-Token': token } }).then((r) => r.json())) as { data: { list: { campaign_id: string }[] } };
    await fetch(`${emu.url}/_emulator/campaigns`, { method: 'POST', body: JSON.stringify({ advertiser_id: advertiserId, campaign_id: campaigns.data.list[0]!.campaign_id, operation_status: 'DISABLE' }) });
    const program = (revision: string) =>
      ProgramSchema.parse({
        programId: 'history-program',
        revision,
        mode: 'opt_out',
        decisionDeadline: at(4),
        provisioningDate: at(5),
        targetCompletionDate: at(8),
        noticeDays: 7 / 86_400,
        reminderOffsets: ['3s'],
        sentences: { optIn: 'Please include our account in the automatic SAN migration.', optOut: 'Please leave our account out of the automatic SAN migration.' },
      });
    await applyProgram(client, stores.config, program('r1'), q);
    await recordDecision(client, 'history-account', 'opt_in', { by: 'ops@history.example' }, q);
    await applyProgram(client, stores.config, program('r2'), q);
    await until((s) => s.phase === 'awaiting_cutover');
    await announceCutover(client, 'history-account', { appId: 'hist-android', at: at(1) }, q);
    await until((s) => s.targetCheckedFor !== null && s.apps[0]!.state === 'cut_over');
    await announceCutover(client, 'history-account', { appId: 'hist-ios', at: at(1) }, q);
    const h = client.workflow.getHandle(WorkflowIds.sanMigration('history-account'));
    await h.result();
    return h;
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
