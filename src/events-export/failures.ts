import { TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokActivityFailureType, TikTokErrorType } from '../tiktok/errorTypes';

/*
 * Every failure type events export raises or names: the one list its workflow (retry
 * policies, parks), activities and CLI share. Pure and import-free but for the kernel's
 * TikTok names, so the workflow bundle can take it.
 */

export const EventsExportFailureType = {
  ...TikTokErrorType,
  ...TikTokActivityFailureType,
  /** The workflow input, a config update or a scheduled config is not a valid events destination. */
  InvalidConfig: 'InvalidConfig',
  /** The workflow runs under an id that is not the one derived from its destination. */
  WrongWorkflowId: 'WrongWorkflowId',
  /** The event file or snapshot is not text, not its format, or lacks the key column. */
  InputUnreadable: 'EventsInputUnreadable',
  /** An input, manifest or batch object (or its bucket) does not exist. */
  MissingObject: 'StorageObjectMissing',
  /** Storage refused the credentials or the URI cannot be used. */
  StorageAccess: 'StorageAccessDenied',
  /** A stored manifest, batch or ledger entry is not what it should be. */
  CorruptData: 'EventsDataCorrupt',
  /** Storage unreachable or overloaded: retried. */
  StorageUnavailable: 'StorageUnavailable',
  /**
   * TikTok refused every event it was sent one by one, with no event accepted in the run:
   * the request itself is wrong (event source, token scope, test code), not one row.
   */
  RequestRejected: 'EventsRequestRejected',
  /** Nothing to export: no file named and the config has no default input. */
  NothingToExport: 'NothingToExport',
} as const;

export type EventsExportFailureTypeName = (typeof EventsExportFailureType)[keyof typeof EventsExportFailureType];

/** What the data and sending activities' retry policies must not retry: repeating cannot fix these. */
export const EVENTS_EXPORT_NON_RETRYABLE: readonly string[] = [
  ...TIKTOK_NON_RETRYABLE_ERROR_TYPES,
  EventsExportFailureType.SecretUnavailable,
  EventsExportFailureType.InvalidConfig,
  EventsExportFailureType.InputUnreadable,
  EventsExportFailureType.MissingObject,
  EventsExportFailureType.StorageAccess,
  EventsExportFailureType.CorruptData,
  EventsExportFailureType.RequestRejected,
  EventsExportFailureType.UnexpectedResponse,
];

/** An error of the events data plane that already knows its failure type. */
export class EventsDataError extends Error {
  override name = 'EventsDataError';
  constructor(
    readonly type: EventsExportFailureTypeName,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why a row (or an event TikTok refused) went to the rejects file. Identifier reasons are
 * identifiers.md's codes; the rest are the events checks of tiktok-api.md §5.
 */
export const EVENT_REJECT_REASONS = [
  'invalid_email',
  'invalid_phone',
  'invalid_maid',
  'zeroed_maid',
  'wrong_hash_kind',
  'too_long',
  'malformed_row',
  'missing_event_time',
  'invalid_event_time',
  'event_too_old',
  'event_in_future',
  'missing_event_name',
  'invalid_event_name',
  'invalid_currency',
  'invalid_value',
  'invalid_number',
  'invalid_contents',
  'invalid_event_id',
  'missing_lead_id',
  'missing_key',
  'duplicate_key',
  'no_match_key',
  'rejected_by_tiktok',
] as const;
export type EventRejectReason = (typeof EVENT_REJECT_REASONS)[number];
