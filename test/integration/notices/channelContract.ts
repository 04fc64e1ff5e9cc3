import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NoticeDeliveryError, type LoadedAttachment, type NoticeChannel, type NoticeRoute, type StoredNotice } from '../../../src/notices';
import { rejectionOf } from '../../helpers/rejection';

/** One notice as a receiver got it, in channel-neutral terms. */
export interface ReceivedCopy {
  /** The id the receiver dedupes on: Message-ID (with brackets) for email, Idempotency-Key for webhooks. */
  dedupeId: string;
  /** X-Ttsync-Idempotency-Key (email header) or the body's key (webhook). */
  idempotencyKey: string;
  subject: string;
  text: string;
  attachments: { filename: string; content: Buffer }[];
}

export interface ChannelUnderTest {
  channel: NoticeChannel;
  /** A route this channel delivers to a receiver the test can read. */
  route(): NoticeRoute;
  /** The copies of the notice `key` the receiver holds. */
  received(key: string): Promise<ReceivedCopy[]>;
  /** A channel and route whose receiver is not listening. */
  unreachable(): Promise<{ channel: NoticeChannel; route: NoticeRoute }>;
  /** A route whose receiver refuses the notice for good. */
  refusingRoute(): NoticeRoute;
  /** The dedupe id this channel must give a notice, computed here, independently of src/notices. */
  expectedDedupeId(key: string): string;
}

/** Message-ID as documented: `<first 40 hex of sha256(key)@notices.ttsync>`. */
export const documentedMessageId = (key: string): string => `<${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 40)}@notices.ttsync>`;

function noticeFor(route: NoticeRoute, tag: string): StoredNotice {
  return {
    schema: 1,
    key: `contract/${tag}/${randomBytes(6).toString('hex')}`,
    route,
    subject: `[ttsync] contract ${tag}: stale_snapshot entered`,
    text: `Destination contract-${tag} entered stale_snapshot.\nAdvice: export a fresh snapshot.\n`,
    attachments: [],
    metadata: { lifecycle: 'audience_sync', subjectId: `contract-${tag}`, state: 'stale_snapshot', event: 'entered' },
    createdAt: '2026-12-03T10:00:00.000Z',
  };
}

/**
 * The behaviour every notice adapter shares. `make()` gives a channel with a receiver the
 * test can read (Mailpit for SMTP, a loopback HTTP server for webhooks).
 */
export function noticeChannelContract(name: string, make: () => ChannelUnderTest): void {
  describe(`notice channel contract: ${name}`, () => {
    it('delivers a notice once, with its subject, text, attachment and idempotency ids', async () => {
      const t = make();
      const notice = noticeFor(t.route(), 'once');
      const csv = Buffer.from('row,line,column,reason\n3,4,email,invalid_email\n');
      const binary = randomBytes(3000);
      const attachments: LoadedAttachment[] = [
        { filename: 'rejects.csv', contentType: 'text/csv', content: csv },
        { filename: 'report.bin', contentType: 'application/octet-stream', content: binary },
      ];
      const receipt = await t.channel.deliver(notice, attachments);
      expect(receipt.messageId).toBe(t.expectedDedupeId(notice.key));
      expect(receipt.recipients).toBeGreaterThanOrEqual(1);
      const copies = await t.received(notice.key);
      expect(copies).toHaveLength(1);
      const got = copies[0]!;
      expect(got.dedupeId).toBe(t.expectedDedupeId(notice.key));
      expect(got.idempotencyKey).toBe(notice.key);
      expect(got.subject).toBe(notice.subject);
      expect(got.text.replace(/\r\n/g, '\n').trim()).toBe(notice.text.trim());
      expect(got.attachments.map((a) => a.filename).sort()).toEqual(['rejects.csv', 'report.bin']);
      expect(got.attachments.find((a) => a.filename === 'rejects.csv')?.content.equals(csv)).toBe(true);
      expect(got.attachments.find((a) => a.filename === 'report.bin')?.content.equals(binary)).toBe(true);
    });

    it('a second delivery of the same notice (a retry after a crash) carries the same ids, so the receiver can drop it', async () => {
      const t = make();
      const notice = noticeFor(t.route(), 'twice');
      await t.channel.deliver(notice, []);
      await t.channel.deliver(notice, []);
      const copies = await t.received(notice.key);
      expect(copies).toHaveLength(2);
      expect(new Set(copies.map((c) => c.dedupeId))).toEqual(new Set([t.expectedDedupeId(notice.key)]));
      expect(new Set(copies.map((c) => c.idempotencyKey))).toEqual(new Set([notice.key]));
      // Another notice gets another id.
      const other = noticeFor(t.route(), 'twice');
      expect(t.expectedDedupeId(other.key)).not.toBe(t.expectedDedupeId(notice.key));
    });

    it('an unreachable receiver is a transient failure (worth a retry)', async () => {
      const t = make();
      const down = await t.unreachable();
      const err = await rejectionOf(down.channel.deliver(noticeFor(down.route, 'down'), []), NoticeDeliveryError);
      expect(err.kind).toBe('transient');
      expect(err.channel).toBe(t.channel.name);
    });

    it('a refusal is a permanent failure, and nothing was delivered', async () => {
      const t = make();
      const notice = noticeFor(t.refusingRoute(), 'refused');
      const err = await rejectionOf(t.channel.deliver(notice, []), NoticeDeliveryError);
      expect(err.kind).toBe('permanent');
      expect(await t.received(notice.key)).toHaveLength(0);
    });
  });
}
