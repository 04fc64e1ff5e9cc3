import { ApplicationFailure } from '@temporalio/common';
import { SecretError } from '../config/secrets';
import { TikTokError, TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokErrorType } from './index';
import { TikTokActivityFailureType as ActivityFailureType } from './errorTypes';

/** TikTok's code for a file path past its lifetime. */
const FILE_EXPIRED_CODE = 40910;

// Throttling is TikTok asking us to slow down: a floor under Temporal's own backoff.
const THROTTLE_RETRY_DELAY_MS = 5_000;

/**
 * Turns whatever a TikTok call threw into an ApplicationFailure whose `type` names one error
 * class, so retry policies and workflows can act on it. The message and details carry code,
 * message and request_id only: TikTokError never holds the token or request bodies.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof TikTokError && err.code === FILE_EXPIRED_CODE) {
    return ApplicationFailure.create({ type: ActivityFailureType.FilePathExpired, message: err.message, nonRetryable: true, details: [err.toJSON()] });
  }
  if (err instanceof TikTokError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      // UnexpectedResponse was already retried in the client (TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS):
      // more attempts now would only repeat the same answer, so the cycle fails and the
      // next cycle tries again.
      nonRetryable: (TIKTOK_NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(err.type) || err.type === TikTokErrorType.UnexpectedResponse,
      nextRetryDelay: err.type === TikTokErrorType.Throttled ? THROTTLE_RETRY_DELAY_MS : undefined,
      details: [err.toJSON()],
    });
  }
  if (err instanceof SecretError) {
    // A missing token is the operator's to fix; the workflow parks as reauthorization_required.
    return ApplicationFailure.create({ type: ActivityFailureType.SecretUnavailable, message: err.message, nonRetryable: true });
  }
  return err;
}

export async function mapTikTokFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
