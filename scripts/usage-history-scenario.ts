import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startEmulator } from '../src/emulator';
import { createNoticeService, noticeMessageId, type NoticeChannel } from '../src/notices';
import type { TemporalSettings } from '../src/temporal/connection';
import { WorkflowIds } from '../src/temporal/workflowIds';
import type { UsageAdvertiser, UsageReportResult } from '../src/usage-report/messages';
import { createWorkers } from '../src/worker';
import { usageReport, usageReportTick, usageTargetingTick } from '../workflows/index';

/*
 * The usage report's workflows against an in-process emulator, a temp report folder and an
 * email channel that takes each notice as sent (the outbox and SMTP have tests of their own):
 * a month's report (settle, build, deliver), the monthly tick (it starts the report of the
 * month before, which is then terminated while it waits to settle), and the daily targeting
 * tick. Workflows and activities run on queues of their own, on workers started here.
 */
type Which = 'report' | 'monthlyTick' | 'targetingTick';

export async function usageScenario(which: Which, client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle> {
  const advertiserId = '7000000000000000401';
  const emu = await startEmulator({ rateLimits: { default: { qps: 10_000, qpm: 1_000_000 } } });
  const token = emu.control.issueToken([advertiserId]);
  await fetch(`${emu.url}/_emulator/adgroups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advertiser_id: advertiserId, adgroups: [{ campaign_id: '9400', campaign_name: 'History', adgroup_id: '9401', audience_ids: ['7100000000000000401'] }] }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-usage-'));
  const queues = { control: `${taskQueue}-usage`, tiktok: `${taskQueue}-usage-tiktok` };
  const email: NoticeChannel = { name: 'email', deliver: async (notice) => ({ messageId: noticeMessageId(notice.key), recipients: notice.route?.email?.length ?? 0 }) };
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['control', 'tiktok'],
    taskQueues: queues,
    events: { taskQueue: `${taskQueue}-usage-events` },
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: {
      usageReport: { defaultStorage: dir, tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000 }, resolveSecret: async () => token },
      notices: {
        service: () =>
          createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: 'http://localhost:8233', namespace: ctx.temporal.namespace }, { channels: () => ({ email }) }),
      },
    },
  });
  const advertiser: UsageAdvertiser = {
    advertiserId,
    accessToken: 'env:TTSYNC_HISTORY_USAGE_TOKEN',
    timeZone: 'UTC',
    dayOfMonth: 2,
    hour: 6,
    settle: '3d',
    segments: [
      { destinationId: 'history-3pd', sourceSegmentId: 'history-3pd-segment', audienceId: '7100000000000000401', providerId: 'acme-data', segmentId: 'history', pricePercent: '12.5', currency: 'USD', reportingContacts: ['usage@buyer.example'] },
    ],
  };
  try {
    if (which === 'report') {
      const h = await client.workflow.start(usageReport, { taskQueue: queues.control, workflowId: WorkflowIds.usageReport(advertiserId, '2026-10'), args: [{ advertiser, month: '2026-10', queues: { tiktok: queues.tiktok } }] });
      const r: UsageReportResult = await h.result();
      if (r.lines !== 1 || r.delivery !== 'sent') throw new Error(`usage report scenario returned ${JSON.stringify(r)}`);
      return h;
    }
    if (which === 'monthlyTick') {
      const h = await client.workflow.start(usageReportTick, { taskQueue: queues.control, workflowId: 'usageReportTick-start', args: [{ advertiser, queues: { tiktok: queues.tiktok } }] });
      const r = await h.result();
      if (!r.started) throw new Error(`monthly tick scenario did not start a report: ${JSON.stringify(r)}`);
      // The month before today has not settled yet: the report waits; it is not what is recorded.
      await client.workflow.getHandle(r.workflowId).terminate('history recorded');
      return h;
    }
    const h = await client.workflow.start(usageTargetingTick, { taskQueue: queues.control, workflowId: 'usageTargetingTick-record', args: [{ advertiser, queues: { tiktok: queues.tiktok } }] });
    const r = await h.result();
    if (r.usingSegments !== 1) throw new Error(`targeting tick scenario returned ${JSON.stringify(r)}`);
    return h;
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
