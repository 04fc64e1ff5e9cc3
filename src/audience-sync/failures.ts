import { TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokActivityFailureType, TikTokErrorType } from '../tiktok/errorTypes';

/*
 * Every failure type audience sync raises or names, by name: the one list that its workflow
 * (retry policies, parks), its activities and its CLI share. Pure and import-free but for
 * the kernel's TikTok names, so the workflow bundle can take it.
 */

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

/** Failure types of the audience sync control plane and its TikTok steps, beside the data plane's. */
export const AudienceSyncFailureType = {
  ...TikTokErrorType,
  ...TikTokActivityFailureType,
  /** The workflow input, a config update or a scheduled config is not a valid destination. */
  InvalidConfig: 'InvalidConfig',
  /** The running workflow refused the config a schedule tick sent (another destination or advertiser). */
  ConfigUpdateRefused: 'ConfigUpdateRefused',
  /** A built file's bytes no longer match the MD5 recorded when it was built. */
  FileIntegrity: 'FileIntegrity',
  /** Several audiences carry the literal name append/replace feeds: ttsync will not guess. */
  AmbiguousAudience: 'AmbiguousAudience',
  /** The audience is gone from TikTok, or append/replace found none of its name. */
  AudienceNotFound: 'AudienceNotFound',
  /** The source segment is claimed by a destination of another advertiser. */
  SegmentConflict: 'SegmentConflict',
  /** An upload answered without the file path of one of its files. */
  UploadIncomplete: 'UploadIncomplete',
  /** Another destination holds the writer lease on the audience (audienceLeases.ts). */
  AudienceConflict: 'AudienceConflict',
  /** The workflow runs under an id that is not the one derived from its destination. */
  WrongWorkflowId: 'WrongWorkflowId',
} as const;

/** What the data activities' and TikTok activities' retry policy must not retry: retrying cannot fix these. */
export const AUDIENCE_SYNC_NON_RETRYABLE: readonly string[] = [
  ...TIKTOK_NON_RETRYABLE_ERROR_TYPES,
  AudienceSyncFailureType.SecretUnavailable,
  AudienceSyncFailureType.FileIntegrity,
  AudienceSyncFailureType.AmbiguousAudience,
  AudienceSyncFailureType.AudienceNotFound,
  AudienceSyncFailureType.SegmentConflict,
  AudienceSyncFailureType.AudienceConflict,
  AudienceSyncFailureType.FilePathExpired,
  ...NON_RETRYABLE_AUDIENCE_DATA_ERRORS,
];
