/**
 * The one error class every failed TikTok call maps to, by name. Pure constants (no imports)
 * so workflows can name them in retry policies: activities convert a TikTokError into an
 * ApplicationFailure whose `type` is exactly one of these names.
 */
export const TikTokErrorType = {
  /** 40100, 40133, 40016, 40132, 61000: back off, then retry. */
  Throttled: 'Throttled',
  /** 50000, 50002, 51xxx, 52xxx, 60001, HTTP 5xx, timeouts, connection resets: retry. */
  Transient: 'Transient',
  /** 40002 "not editable" while the audience processes: wait (durable timer), then retry. */
  AudienceBusy: 'AudienceBusy',
  /** 40102, 40104, 40105, 40106, 40110, 40113: the advertiser must authorize again. */
  ReauthorizationRequired: 'ReauthorizationRequired',
  /** 40001: the token lacks the advertiser or the role. */
  PermissionDenied: 'PermissionDenied',
  /** Everything else: the request itself is wrong; retrying cannot help. */
  InvalidRequest: 'InvalidRequest',
  /**
   * A 200 whose body is not JSON, not an envelope, or lacks a field ttsync reads: TikTok's
   * side (or something in between), not the caller's. The client retries it a few times
   * (idempotent calls only); after that the activity fails non-retryably and the cycle
   * ends in error, to be tried again at the next cycle.
   */
  UnexpectedResponse: 'UnexpectedResponse',
} as const;

export type TikTokErrorTypeName = (typeof TikTokErrorType)[keyof typeof TikTokErrorType];

export const ALL_TIKTOK_ERROR_TYPES: readonly TikTokErrorTypeName[] = Object.values(TikTokErrorType);

/** For `retry: { nonRetryableErrorTypes }`: retrying these only burns quota. */
export const TIKTOK_NON_RETRYABLE_ERROR_TYPES: readonly TikTokErrorTypeName[] = [
  TikTokErrorType.ReauthorizationRequired,
  TikTokErrorType.PermissionDenied,
  TikTokErrorType.InvalidRequest,
];

/**
 * Failure types of the kernel's TikTok activities beside TikTok's own classes, named by
 * workflows' retry policies (src/tiktok/activityFailure.ts raises them).
 */
export const TikTokActivityFailureType = {
  /** The token reference cannot be resolved (unset variable, missing file): an operator must fix it. */
  SecretUnavailable: 'SecretUnavailable',
  /** A file path is past TikTok's 24 h (40910): the caller uploads the file again, no rebuild. */
  FilePathExpired: 'FilePathExpired',
} as const;

/** Failures an operator fixes by giving ttsync a working token: workflows park on them. */
export const REAUTHORIZATION_FAILURES: readonly string[] = [TikTokErrorType.ReauthorizationRequired, TikTokActivityFailureType.SecretUnavailable];
