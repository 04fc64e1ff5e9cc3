/*
 * The usage report's failure types, by name (workflows name the non-retryable ones in their
 * retry policies). Pure and import-free: the workflow bundle takes it.
 */
export const UsageReportFailureType = {
  /** The advertiser's settings or the month are not valid: fix the destination configs. */
  InvalidConfig: 'InvalidConfig',
  /** A report must run as usage-report:<advertiserId>:<YYYY-MM>. */
  WrongWorkflowId: 'WrongWorkflowId',
  /** A stored targeting record or report cannot be read as ttsync wrote it. */
  StoredRecordCorrupt: 'StoredRecordCorrupt',
  /** The report folder cannot be written or read for good (permission, bad URI). */
  StorageAccessDenied: 'StorageAccessDenied',
  /** Storage is unreachable for now: retried. */
  StorageUnavailable: 'StorageUnavailable',
} as const;

export type UsageReportFailureTypeName = (typeof UsageReportFailureType)[keyof typeof UsageReportFailureType];

/** Also TikTok's non-retryable classes (src/tiktok errorTypes), which the activities pass through. */
export const USAGE_REPORT_NON_RETRYABLE: readonly string[] = [
  UsageReportFailureType.InvalidConfig,
  UsageReportFailureType.WrongWorkflowId,
  UsageReportFailureType.StoredRecordCorrupt,
  UsageReportFailureType.StorageAccessDenied,
];
