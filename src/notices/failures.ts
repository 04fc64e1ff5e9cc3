/*
 * The failure types of the notice activities, by name: workflows that post notices name the
 * non-retryable ones in their retry policy. Pure and import-free (the workflow bundle takes it).
 */
export const NoticeFailureType = {
  /** The request is not a notice (schema), or its key names a stored notice with other content. */
  InvalidNotice: 'InvalidNotice',
  /**
   * A receiver refused the notice for good (SMTP 5xx, webhook 4xx, unresolvable secret, no
   * SMTP server configured): the notice stays in the outbox, undelivered, for the sweeper
   * once the cause is fixed.
   */
  NoticeUndeliverable: 'NoticeUndeliverable',
  /** The receiver or the outbox's storage could not be reached, or answered 5xx/429: retried. */
  NoticeDeliveryUnavailable: 'NoticeDeliveryUnavailable',
} as const;

export type NoticeFailureTypeName = (typeof NoticeFailureType)[keyof typeof NoticeFailureType];

export const NOTICE_NON_RETRYABLE: readonly NoticeFailureTypeName[] = [NoticeFailureType.InvalidNotice, NoticeFailureType.NoticeUndeliverable];
