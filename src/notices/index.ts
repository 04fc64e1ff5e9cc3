/*
 * The notices outbox: the one path by which every lifecycle tells a person something
 * (alerts, SAN migration notices, usage reports). Kernel: it imports no lifecycle.
 *
 * Public API
 *   From a workflow (pure, workflow-safe):
 *     import type { NoticeRequest, NoticeRoute } from '../../src/notices/schema';
 *     import { NOTICE_NON_RETRYABLE } from '../../src/notices/failures';
 *     import type { NoticeActivities } from '../../activities/notices';
 *     const { postNotice } = proxyActivities<NoticeActivities>({ taskQueue, startToCloseTimeout: '2m',
 *       retry: { nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] } });
 *     await postNotice({ key, route?, subject, text, attachments?: [{ uri, filename?, contentType? }],
 *                        metadata: { lifecycle, subjectId, state?, event?, workflowId? } });
 *   - `key` is the idempotency key: derive it from what the notice is about (ids, a sequence
 *     number kept in workflow state), never from the clock. Same key = same notice: a retry
 *     or a replay never sends a second one. A key reused with other content is InvalidNotice.
 *   - `route` absent: the deployment default (TTSYNC_NOTICE_EMAIL / TTSYNC_NOTICE_WEBHOOK).
 *     Lifecycle configs embed NoticeRouteSchema for their own contacts.
 *   - attachments are storage URIs, read at delivery: never bytes in history.
 *   - metadata.workflowId becomes the Temporal UI link (TTSYNC_UI_URL) in the text and metadata.uiUrl.
 *   - Failure types: NoticeFailureType (failures.ts). NoticeUndeliverable = a receiver refused
 *     or the deployment lacks the channel; the notice stays in the outbox for the sweeper
 *     (activity `deliverPendingNotices`).
 *   - A notice whose activity finally failed is still in the outbox; a long-running workflow
 *     keeps its request and posts it again later (same key: only missing channels are sent),
 *     as audience sync does (src/audience-sync/alerts.ts AlertBook.failed/takeUnsent).
 *   From the app or a CLI: createNoticeService(settings?) → deps for postNotice(deps, request)
 *     and sweepNotices(deps); noticeSettingsFromEnv() reads the worker env (settings.ts lists it).
 *   ttsync doctor: noticesCheck() (deployment) and alertRouteCheck(route) (per config) in doctor.ts.
 *   CLI: ttsync notices list [--pending] | deliver.
 *   Receivers: SMTP Message-ID = noticeMessageId(key) (`<40 hex of sha256(key)@notices.ttsync>`),
 *     header X-Ttsync-Idempotency-Key = key; webhooks get `Idempotency-Key: key` and WebhookBody JSON.
 */
export * from './schema';
export * from './failures';
export { IDEMPOTENCY_HEADER, MESSAGE_ID_DOMAIN, noticeDigest, noticeMessageId } from './ids';
export { NoticeOutbox, NoticeKeyConflictError, NOTICES_PREFIX, DELIVERIES_PREFIX } from './outbox';
export { NoticeDeliveryError, type DeliveryReceipt, type LoadedAttachment, type NoticeChannel } from './channel';
export { SmtpChannel, type SmtpSettings } from './smtp';
export { WebhookChannel, type WebhookBody } from './webhook';
export { noticeSettingsFromEnv, type NoticeSettings } from './settings';
export { InvalidNoticeError, MAX_ATTACHMENT_BYTES, deliverStoredNotice, postNotice, storedNoticeOf, sweepNotices, type NoticeServiceDeps, type PostedNotice, type SweepResult } from './post';
export { createNoticeService, type NoticeServiceOptions } from './service';
export { alertRouteCheck, noticesCheck } from './doctor';
