/**
 * ApplicationFailure types of the audience data activities. Workflows name the
 * non-retryable ones in `retry.nonRetryableErrorTypes` (the activities also mark them
 * nonRetryable): repeating the same call cannot fix a bad config, a file that is not a
 * readable snapshot, or an object that is not there.
 */
export const AudienceDataErrorTypes = {
  /** The destination config or the activity input is invalid. */
  badConfig: 'AudienceDataBadConfig',
  /** The snapshot (or change file) is not text, not its format, or lacks the mapped columns. */
  unreadableSnapshot: 'SnapshotUnreadable',
  /** A snapshot, manifest or data-plane object (or its bucket) does not exist. */
  missingObject: 'StorageObjectMissing',
  /** Storage refused the credentials or the URI cannot be used. */
  storageAccess: 'StorageAccessDenied',
  /** A stored data-plane object does not match what its summary recorded. */
  corruptData: 'AudienceDataCorrupt',
  /** Another run committed the applied state first: this run's diff is against an old base. */
  conflict: 'AppliedStateConflict',
  /** Storage unreachable or overloaded: retried. */
  storageUnavailable: 'StorageUnavailable',
} as const;

export type AudienceDataErrorType = (typeof AudienceDataErrorTypes)[keyof typeof AudienceDataErrorTypes];

export const NON_RETRYABLE_AUDIENCE_DATA_ERRORS: readonly AudienceDataErrorType[] = [
  AudienceDataErrorTypes.badConfig,
  AudienceDataErrorTypes.unreadableSnapshot,
  AudienceDataErrorTypes.missingObject,
  AudienceDataErrorTypes.storageAccess,
  AudienceDataErrorTypes.corruptData,
  AudienceDataErrorTypes.conflict,
];

/** An error of the data plane's own that already knows its failure type. */
export class AudienceDataError extends Error {
  override name = 'AudienceDataError';
  constructor(
    readonly type: AudienceDataErrorType,
    message: string,
  ) {
    super(message);
  }
}
