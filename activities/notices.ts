import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, log } from '@temporalio/activity';
import { isStorageError } from '../src/storage';
import {
  InvalidNoticeError,
  NoticeDeliveryError,
  NoticeFailureType,
  NoticeKeyConflictError,
  createNoticeService,
  postNotice,
  sweepNotices,
  type NoticeServiceDeps,
  type NoticeRequest,
  type PostedNotice,
  type SweepResult,
} from '../src/notices';

/*
 * The notices outbox as activities, for every lifecycle (kernel: no lifecycle imports here).
 * postNotice is idempotent by the notice's key: Temporal may run it again after a worker
 * died at any point, and it then delivers only what the outbox has not recorded.
 */

export interface NoticeActivityDeps {
  /** The outbox and adapters; default from the worker's env (src/notices/settings.ts), built at the first notice. */
  service?: NoticeServiceDeps | (() => NoticeServiceDeps);
}

export function createNoticeActivities(deps: NoticeActivityDeps = {}) {
  let service: NoticeServiceDeps | undefined;
  // Built lazily: a worker whose notice settings are wrong still runs everything else, and
  // the first notice fails with the setting named.
  const svc = (): NoticeServiceDeps => {
    if (service) return service;
    try {
      service = typeof deps.service === 'function' ? deps.service() : (deps.service ?? createNoticeService());
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`the worker's notice settings are invalid: ${(err as Error).message}`, NoticeFailureType.NoticeUndeliverable);
    }
    return service;
  };
  return {
    /** Writes the notice once under its key, delivers it on each channel not yet recorded, records each delivery. */
    async postNotice(request: NoticeRequest): Promise<PostedNotice> {
      try {
        const posted = await postNotice(svc(), request);
        if (posted.unrouted) log.warn('notice has no route: kept in the outbox, sent nowhere (set TTSYNC_NOTICE_EMAIL or TTSYNC_NOTICE_WEBHOOK)', { key: posted.key, uri: posted.uri });
        return posted;
      } catch (err) {
        throw toFailure(err);
      }
    },
    /** The sweeper: delivers every notice in the outbox that a channel of its route has not delivered. */
    async deliverPendingNotices(): Promise<SweepResult> {
      try {
        return await sweepNotices(svc(), (seen) => heartbeat({ seen }));
      } catch (err) {
        throw toFailure(err);
      }
    },
  };
}

function toFailure(err: unknown): unknown {
  if (err instanceof InvalidNoticeError || err instanceof NoticeKeyConflictError) return ApplicationFailure.nonRetryable(err.message, NoticeFailureType.InvalidNotice);
  if (err instanceof NoticeDeliveryError)
    return err.kind === 'permanent'
      ? ApplicationFailure.nonRetryable(err.message, NoticeFailureType.NoticeUndeliverable)
      : ApplicationFailure.retryable(err.message, NoticeFailureType.NoticeDeliveryUnavailable);
  if (isStorageError(err))
    return err.retryable
      ? ApplicationFailure.retryable(`notice outbox: ${err.message}`, NoticeFailureType.NoticeDeliveryUnavailable)
      : ApplicationFailure.nonRetryable(`notice outbox: ${err.message}`, NoticeFailureType.NoticeUndeliverable);
  return err;
}

export type NoticeActivities = ReturnType<typeof createNoticeActivities>;
