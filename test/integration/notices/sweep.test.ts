import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoticeActivities } from '../../../activities/notices';
import { NoticeFailureType, createNoticeService, type NoticeRequest, type NoticeSettings } from '../../../src/notices';
import { cliAgainstTestServer } from '../../helpers/cli';
import { rejectionOf } from '../../helpers/rejection';
import { testClient, withWorkers } from '../../helpers/temporal';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhookReceiver';

/*
 * The scheduled sweeper: a notice whose webhook was down when it was posted is delivered by
 * the noticesSweep workflow that `ttsync notices schedule` sets going, on the real dev server,
 * to a loopback receiver; a second sweep sends nothing more.
 */

const SCHEDULE_ID = 'notices-sweep-schedule';
let receiver: WebhookReceiver;
let client: Client;
let dir: string;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  client = await testClient();
  dir = mkdtempSync(join(tmpdir(), 'ttsync-sweep-'));
}, 60_000);
afterAll(async () => {
  await client?.schedule.getHandle(SCHEDULE_ID).delete().catch(() => undefined);
  await client?.connection.close();
  await receiver?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Triggers the schedule and waits for the sweep it starts (the n-th action of the schedule) to finish. */
async function triggerAndWait(n: number): Promise<unknown> {
  const handle = client.schedule.getHandle(SCHEDULE_ID);
  await handle.trigger();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const desc = await handle.describe();
    const action = desc.info.recentActions[n - 1];
    if (action) return client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId).result();
    if (Date.now() > deadline) throw new Error(`the schedule took no action ${n}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the notices sweeper on its Schedule', { timeout: 180_000 }, () => {
  it('notices schedule creates one Schedule (idempotent); its sweep delivers the notice the webhook missed, once; --delete removes it', async () => {
    const settings: NoticeSettings = { storeUri: join(dir, 'outbox'), defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: 'default' };
    const key = `retention/sweep-test/${Date.now()}/failed/entered`;
    const request: NoticeRequest = {
      key,
      route: { webhook: { url: receiver.url } },
      subject: 'ttsync retention: a run failed',
      text: 'The run failed.\n',
      metadata: { lifecycle: 'retention', subjectId: 'sweep-test', state: 'failed', event: 'entered', workflowId: 'retention:sweep-test' },
    };
    // The receiver is down (503) when the lifecycle posts: the notice stays in the outbox.
    receiver.answerNext(503);
    const posting = createNoticeActivities({ service: createNoticeService(settings) });
    const err = await rejectionOf(new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(posting.postNotice, request), ApplicationFailure);
    expect(err.type).toBe(NoticeFailureType.NoticeDeliveryUnavailable);
    const delivered = () => receiver.received.filter((r) => r.status < 300 && (r.body as { key?: string }).key === key);
    expect(delivered()).toHaveLength(0);

    await withWorkers(
      async ({ taskQueue }) => {
        const first = await cliAgainstTestServer(['notices', 'schedule', '--every', '1h', '--task-queue', taskQueue, '--json']);
        expect(first.code, first.stderr).toBe(0);
        expect(JSON.parse(first.stdout)).toEqual({ scheduleId: SCHEDULE_ID, outcome: 'created', every: '1h' });
        const again = await cliAgainstTestServer(['notices', 'schedule', '--every', '1h', '--task-queue', taskQueue, '--json']);
        expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });

        const desc = await client.schedule.getHandle(SCHEDULE_ID).describe();
        expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'noticesSweep', taskQueue });
        expect(desc.spec.intervals?.[0]?.every).toBe(3_600_000);
        expect(desc.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);

        expect(await triggerAndWait(1)).toEqual({ notices: 1, delivered: 1, failed: 0, failedKeys: [] });
        expect(delivered()).toHaveLength(1);
        expect(delivered()[0]!.headers['idempotency-key']).toBe(key);
        // Nothing is left to send: a second sweep delivers nothing more.
        expect(await triggerAndWait(2)).toEqual({ notices: 1, delivered: 0, failed: 0, failedKeys: [] });
        expect(delivered()).toHaveLength(1);
      },
      { activityDeps: { notices: { service: () => createNoticeService(settings) } } },
    );

    const removed = await cliAgainstTestServer(['notices', 'schedule', '--delete', '--json']);
    expect(JSON.parse(removed.stdout)).toMatchObject({ scheduleId: SCHEDULE_ID, outcome: 'deleted' });
    await expect(client.schedule.getHandle(SCHEDULE_ID).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    const bad = await cliAgainstTestServer(['notices', 'schedule', '--every', '10s']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--every');
  });
});
