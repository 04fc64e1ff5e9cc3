import type { NoticeChannelName, StoredNotice } from './schema';

/*
 * The port every delivery adapter implements (SMTP, webhook). One contract test suite runs
 * against each (test/integration/notices/channelContract.ts): a delivered notice arrives once
 * with its subject, text, attachments and idempotency ids; a second delivery of the same
 * notice carries the same ids; an unreachable receiver is transient, a refusal permanent.
 */

/** An attachment's bytes, read from storage at delivery. */
export interface LoadedAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface DeliveryReceipt {
  /** The id receivers dedupe on: the SMTP Message-ID, or the webhook's Idempotency-Key. */
  messageId: string;
  recipients: number;
}

export interface NoticeChannel {
  readonly name: NoticeChannelName;
  /** Sends the notice to the channel's part of its route; throws NoticeDeliveryError. */
  deliver(notice: StoredNotice, attachments: readonly LoadedAttachment[]): Promise<DeliveryReceipt>;
}

/**
 * A delivery that did not happen. `transient`: the receiver could not be reached or asked to
 * come back later (retry). `permanent`: it refused (bad address, bad token, 4xx/5xx SMTP
 * refusal) or the deployment cannot deliver (no SMTP server configured): a person must act,
 * after which the sweeper delivers it.
 */
export class NoticeDeliveryError extends Error {
  override name = 'NoticeDeliveryError';
  constructor(
    readonly kind: 'transient' | 'permanent',
    readonly channel: NoticeChannelName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
