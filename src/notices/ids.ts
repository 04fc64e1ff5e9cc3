import { createHash } from 'node:crypto';

/*
 * What receivers use to drop a second copy of a notice. Delivery is at least once: a worker
 * that dies after the SMTP server (or webhook) accepted a notice, before the outbox recorded
 * it, sends it again on retry. Both copies carry the same ids, derived from the notice's key
 * alone (never from a clock, a host name or a sender address, which may differ between the
 * two attempts).
 */

/** The header every channel sets to the notice's key (webhooks also get `Idempotency-Key`). */
export const IDEMPOTENCY_HEADER = 'X-Ttsync-Idempotency-Key';

/** The right-hand side of every notice's Message-ID: fixed, so a changed From address keeps ids stable. */
export const MESSAGE_ID_DOMAIN = 'notices.ttsync';

/** Hex SHA-256 of the key: the notice's name in storage (keys are free text, object names must not be). */
export function noticeDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The SMTP Message-ID of the notice, with its angle brackets: `<first 40 hex of sha256(key)@notices.ttsync>`. */
export function noticeMessageId(key: string): string {
  return `<${noticeDigest(key).slice(0, 40)}@${MESSAGE_ID_DOMAIN}>`;
}
