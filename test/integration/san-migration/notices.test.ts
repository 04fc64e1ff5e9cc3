import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoticeDeliveryError, noticeMessageId, type NoticeChannel } from '../../../src/notices';
import { announceCutover, applyProgram, importAccounts } from '../../../src/san-migration/client';
import { markSelfConfigured } from '../../../src/san-migration/provision';
import { account, app, program, startSanWorld, waitForStatus, type SanWorld } from './harness';

/*
 * A notice whose delivery is lost after the SMTP server accepted it (the worker's view: the
 * connection broke, as when a worker dies between sending and recording) is delivered again
 * by the retried activity: written once in the outbox, never lost, and the resend carries
 * the same Message-ID, so mail clients show it once.
 */

const ADV = '7000000000000000501';
let w: SanWorld;
const failedOnce = new Set<string>();

beforeAll(async () => {
  w = await startSanWorld('notices', [ADV], {
    wrapEmail: (real: NoticeChannel): NoticeChannel => ({
      name: real.name,
      async deliver(notice, attachments) {
        const receipt = await real.deliver(notice, attachments);
        if (notice.key.includes('/cutover_notice/') && !failedOnce.has(notice.key)) {
          failedOnce.add(notice.key);
          throw new NoticeDeliveryError('transient', 'email', 'the connection broke after the server accepted the message');
        }
        return receipt;
      },
    }),
  });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('SAN notices through the outbox', () => {
  it('a delivery lost after SMTP accepted it is sent again under the same Message-ID, recorded once', async () => {
    await importAccounts(w.stores.config, [account('acct-n', ADV, [app('n-ios', 'ios', '7200000000000000501')])]);
    await markSelfConfigured(w.stores.config, 'acct-n', 'n-ios', new Date());
    await applyProgram(w.client, w.stores.config, program({ programId: 'tiktok-san', revision: 'n-1', mode: 'opt_in', deadlineIn: 600, provisioningIn: 700, targetIn: 900 }), w.queues);
    await waitForStatus(w, 'acct-n', (s) => s.next !== null, 'planned');
    const at = new Date(Date.now() + 2_000).toISOString();
    await announceCutover(w.client, 'acct-n', { appId: 'n-ios', at }, w.queues);
    const s = await waitForStatus(w, 'acct-n', (x) => x.notices.some((n) => n.kind === 'cut_over'), 'cut over');
    expect(s.alerts.filter((a) => a.kind === 'notice_failed')).toEqual([]);
    const key = s.notices.find((n) => n.kind === 'cutover_notice')!.key;
    expect(s.notices.filter((n) => n.key === key)).toHaveLength(1);
    expect(failedOnce.has(key)).toBe(true);
    expect((await w.outbox.get(key))!.route).toEqual({ email: ['ua@acct-n.example'] });
    const mails = await w.mailpit.list();
    const copies = mails.filter((m) => `<${m.MessageID}>` === noticeMessageId(key));
    expect(copies).toHaveLength(2);
    expect(copies.map((m) => m.To.map((t) => t.Address))).toEqual([['ua@acct-n.example'], ['ua@acct-n.example']]);
    // The other notices went once each.
    const others = s.notices.filter((n) => n.key !== key).map((n) => noticeMessageId(n.key));
    for (const id of others) expect(mails.filter((m) => `<${m.MessageID}>` === id)).toHaveLength(1);
    await w.client.workflow.getHandle('san-migration:acct-n').terminate('test over');
  }, 120_000);
});
