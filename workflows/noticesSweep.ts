import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { NoticeActivities } from '../activities/notices';
import { NOTICE_NON_RETRYABLE } from '../src/notices/failures';
import { SearchAttributeKeys } from '../src/temporal/searchAttributes';

/*
 * The deployment's notices sweeper, started by its Schedule (`ttsync notices schedule`): a
 * notice whose mail server or webhook was down when its lifecycle posted it is delivered
 * here, without waiting for that lifecycle's next cycle (a SAN deadline notice has none).
 * Undeliverable notices are reported, not retried for ever: they stay in the outbox, and the
 * next sweep tries them again.
 */

export interface NoticesSweepResult {
  /** Notices in the outbox. */
  notices: number;
  /** Notices delivered on every channel left by this sweep. */
  delivered: number;
  /** Notices still undelivered after it. */
  failed: number;
  /** The first undelivered keys (ids only: a key names a lifecycle, a subject and a state), for the UI. */
  failedKeys: string[];
}

const SHOWN_KEYS = 20;

const { deliverPendingNotices } = proxyActivities<NoticeActivities>({
  // Each notice is one SMTP or HTTP exchange; a long outbox heartbeats. Inside the 10m a
  // scheduled run is given: the next sweep picks up whatever this one did not reach.
  startToCloseTimeout: '8m',
  heartbeatTimeout: '1m',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] },
});

export async function noticesSweep(): Promise<NoticesSweepResult> {
  upsertSearchAttributes([{ key: SearchAttributeKeys.Lifecycle, value: 'notices' }]);
  const r = await deliverPendingNotices();
  return { notices: r.notices, delivered: r.delivered.length, failed: r.failed.length, failedKeys: r.failed.slice(0, SHOWN_KEYS).map((f) => f.key) };
}
