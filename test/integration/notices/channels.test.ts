import { afterAll, beforeAll } from 'vitest';
import { SmtpChannel, WebhookChannel, type NoticeRoute } from '../../../src/notices';
import { freePort } from '../../../src/temporal/devServer';
import { headerOf, startMailpit, type Mailpit } from '../../helpers/mailpit';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhookReceiver';
import { documentedMessageId, noticeChannelContract, type ReceivedCopy } from './channelContract';

/*
 * Both notice adapters against real receivers: SMTP (nodemailer) into Mailpit, read back
 * through Mailpit's HTTP API; webhooks into a loopback HTTP server.
 */

let mailpit: Mailpit;
let receiver: WebhookReceiver;
beforeAll(async () => {
  // Recipients outside these domains are refused by Mailpit's SMTP server (a 5xx refusal).
  mailpit = await startMailpit({ allowedRecipients: '@(ops|oncall)\\.example$' });
  receiver = await startWebhookReceiver();
}, 60_000);
afterAll(async () => {
  await mailpit?.stop();
  await receiver?.stop();
});

const FROM = 'ttsync alerts <alerts@ttsync.example>';

noticeChannelContract('SMTP (nodemailer → Mailpit)', () => ({
  channel: new SmtpChannel({ url: mailpit.smtpUrl, from: FROM, user: 'ttsync', passwordRef: 'env:TTSYNC_TEST_SMTP_PASSWORD' }, { env: { TTSYNC_TEST_SMTP_PASSWORD: 'not-checked-by-mailpit' } }),
  route: (): NoticeRoute => ({ email: ['team@ops.example', 'lead@oncall.example'] }),
  received: async (key: string): Promise<ReceivedCopy[]> => {
    const out: ReceivedCopy[] = [];
    for (const m of await mailpit.list()) {
      const headers = await mailpit.headers(m.ID);
      if (headerOf(headers, 'X-Ttsync-Idempotency-Key') !== key) continue;
      const full = await mailpit.message(m.ID);
      out.push({
        dedupeId: headerOf(headers, 'Message-ID') ?? '',
        idempotencyKey: key,
        subject: full.Subject,
        text: full.Text,
        attachments: await Promise.all(full.Attachments.map(async (a) => ({ filename: a.FileName, content: await mailpit.attachment(m.ID, a.PartID) }))),
      });
    }
    return out;
  },
  unreachable: async () => ({ channel: new SmtpChannel({ url: `smtp://127.0.0.1:${await freePort()}`, from: FROM, timeoutMs: 5000 }), route: { email: ['team@ops.example'] } }),
  refusingRoute: (): NoticeRoute => ({ email: ['someone@refused.example'] }),
  expectedDedupeId: documentedMessageId,
}));

noticeChannelContract('webhook (HTTP POST JSON)', () => ({
  channel: new WebhookChannel({ secrets: { env: { TTSYNC_TEST_WEBHOOK_TOKEN: 'hook-token-1' } } }),
  route: (): NoticeRoute => ({ webhook: { url: receiver.url, tokenRef: 'env:TTSYNC_TEST_WEBHOOK_TOKEN' } }),
  received: async (key: string): Promise<ReceivedCopy[]> =>
    receiver.received
      .filter((r) => (r.body as { key?: string }).key === key && r.status < 300)
      .map((r) => {
        const body = r.body as { key: string; subject: string; text: string; attachments: { filename: string; contentBase64: string }[] };
        if (r.headers.authorization !== 'Bearer hook-token-1') throw new Error(`webhook got authorization ${String(r.headers.authorization)}`);
        return {
          dedupeId: String(r.headers['idempotency-key']),
          idempotencyKey: String(r.headers['x-ttsync-idempotency-key']),
          subject: body.subject,
          text: body.text,
          attachments: body.attachments.map((a) => ({ filename: a.filename, content: Buffer.from(a.contentBase64, 'base64') })),
        };
      }),
  unreachable: async () => ({ channel: new WebhookChannel({ timeoutMs: 5000 }), route: { webhook: { url: `http://127.0.0.1:${await freePort()}/hook` } } }),
  refusingRoute: (): NoticeRoute => {
    // The receiver answers the next request 400; its body is recorded but is no delivery.
    receiver.answerNext(400);
    return { webhook: { url: `${receiver.url}?refuse=1` } };
  },
  expectedDedupeId: (key: string) => key,
}));
