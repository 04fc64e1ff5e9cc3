import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noticeMessageId } from '../../../src/notices';
import { announceCutover, importAccounts } from '../../../src/san-migration/client';
import type { SanMigrationWorkflow } from '../../../src/san-migration/messages';
import { markSelfConfigured } from '../../../src/san-migration/provision';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { testEnv, uniqueId } from '../../helpers/temporal';
import { OPERATORS, account, app, program, startSanWorld, waitForStatus, type SanWorld } from './harness';

/*
 * A worker SIGKILLed between writing a notice to the outbox and handing it to SMTP: the
 * workflow's retried activity (on another worker, after the short activity timeout) delivers
 * it, once, and nothing is lost. The workflow runs here; its activities run in a child
 * process (test/fixtures/san-worker.ts) that holds the notice and is killed when it says so.
 */

const ADV = '7000000000000000601';
let w: SanWorld;
let script: string;
const children = new Set<ChildProcessLines>();

beforeAll(async () => {
  script = compileFixture('san-worker');
  w = await startSanWorld('crash', [ADV]);
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await w?.close();
});

async function child(queue: string, hold?: string): Promise<ChildProcessLines> {
  const c = await spawnFixture(script, {
    ...testEnv(),
    TTSYNC_FIXTURE_QUEUE: queue,
    ...(hold ? { TTSYNC_FIXTURE_HOLD: hold } : {}),
    TTSYNC_SAN_STORE: join(w.dir, 'san'),
    TTSYNC_NOTICES: join(w.dir, 'notices'),
    TTSYNC_SMTP_URL: w.mailpit.smtpUrl,
    TTSYNC_NOTICE_EMAIL: OPERATORS,
    TIKTOK_API_BASE_URL: w.emu.apiBaseUrl,
    SAN_TEST_TOKEN: w.token,
  });
  children.add(c);
  return c;
}

describe('a worker killed mid-notice', () => {
  it('between writing and delivering: the notice arrives once, under its key’s Message-ID', async () => {
    await importAccounts(w.stores.config, [account('acct-x', ADV, [app('x-android', 'android', '7200000000000000601')])]);
    await markSelfConfigured(w.stores.config, 'acct-x', 'x-android', new Date());
    const activityQueue = uniqueId('test-san-crash-act');
    const first = await child(activityQueue, '/cutover_notice/');
    const p = program({ programId: 'tiktok-san', revision: 'x-1', mode: 'opt_in', deadlineIn: 600, provisioningIn: 700, targetIn: 900 });
    await w.client.workflow.start<SanMigrationWorkflow>('sanMigration', {
      taskQueue: w.queues.taskQueue,
      workflowId: WorkflowIds.sanMigration('acct-x'),
      args: [{ accountId: 'acct-x', program: p, activityQueue, activityTimeout: '3s' }],
    });
    await waitForStatus(w, 'acct-x', (s) => s.next !== null, 'planned');
    const at = new Date(Date.now() + 3_600_000).toISOString();
    // The update completes once its notice is out: it waits across the crash.
    const announced = announceCutover(w.client, 'acct-x', { appId: 'x-android', at }, { taskQueue: w.queues.taskQueue, activityQueue });
    const [, key] = (await first.waitForLine(/^holding (\S+)$/, 60_000)) as RegExpMatchArray & [string, string];
    expect((await w.outbox.get(key!))?.route).toEqual({ email: ['ua@acct-x.example'] });
    expect((await w.mailpit.list()).filter((m) => `<${m.MessageID}>` === noticeMessageId(key!))).toEqual([]);
    await first.stop('SIGKILL');
    children.delete(first);
    await child(activityQueue);
    expect(await announced).toMatchObject({ appId: 'x-android', at });
    const s = await waitForStatus(w, 'acct-x', (x) => x.notices.some((n) => n.kind === 'cutover_notice'), 'notice recorded');
    expect(s.alerts.filter((a) => a.kind === 'notice_failed')).toEqual([]);
    const copies = (await w.mailpit.list()).filter((m) => `<${m.MessageID}>` === noticeMessageId(key!));
    expect(copies).toHaveLength(1);
    expect(copies[0]!.To.map((t) => t.Address)).toEqual(['ua@acct-x.example']);
    await w.client.workflow.getHandle(WorkflowIds.sanMigration('acct-x')).terminate('test over');
  }, 180_000);
});
