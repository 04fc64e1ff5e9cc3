import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { ZodError } from 'zod';
import { ConfigError } from '../../src/config/errors';
import { SecretError } from '../../src/config/secrets';
import { EVENTS_EXPORT_NON_RETRYABLE, EventsDataError, EventsExportFailureType } from '../../src/events-export/failures';
import { StorageError, StoredJsonError } from '../../src/storage';
import { toActivityFailure } from '../../src/tiktok/activityFailure';
import { TikTokError } from '../../src/tiktok';

/** Any error of the events activities as the ApplicationFailure type the workflow's retry policies name. */
export function toEventsFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof TikTokError || err instanceof SecretError) return toActivityFailure(err) as Error;
  const fail = (type: string, message: string, cause: unknown): ApplicationFailure =>
    ApplicationFailure.create({ type, message, nonRetryable: EVENTS_EXPORT_NON_RETRYABLE.includes(type), cause: cause instanceof Error ? cause : undefined });
  if (err instanceof EventsDataError) return fail(err.type, err.message, err);
  if (err instanceof StoredJsonError) return fail(EventsExportFailureType.CorruptData, err.message, err);
  if (err instanceof ConfigError) return fail(EventsExportFailureType.InvalidConfig, err.message, err);
  if (err instanceof ZodError) return fail(EventsExportFailureType.InvalidConfig, `invalid input: ${err.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`).join('; ')}`, err);
  if (err instanceof StorageError) {
    switch (err.code) {
      case 'not_found':
      case 'bucket_not_found':
        return fail(EventsExportFailureType.MissingObject, err.message, err);
      case 'permission':
      case 'bad_uri':
      case 'invalid_key':
        return fail(EventsExportFailureType.StorageAccess, err.message, err);
      default:
        return fail(EventsExportFailureType.StorageUnavailable, err.message, err);
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}
