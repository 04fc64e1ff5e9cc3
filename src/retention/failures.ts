/*
 * Every failure type the retention lifecycle raises, by name: the one list its workflow
 * (retry policies), activities and CLI share. Pure and import-free (workflow-safe).
 */

export const RetentionFailureType = {
  /** The workflow input is not a valid dataset config. */
  InvalidConfig: 'InvalidConfig',
  /** The workflow runs under another id than `retention:<datasetId>` (or the dry run's). */
  WrongWorkflowId: 'WrongWorkflowId',
  /** A partition or aggregate object is not the configured format (no header, missing column, not UTF-8 JSON). */
  DatasetUnreadable: 'RetentionDatasetUnreadable',
  /** A written version did not pass its count check: nothing was replaced. */
  CountMismatch: 'RetentionCountMismatch',
  /** An object changed while it was anonymized (its generation moved): retried from a fresh read. */
  ObjectChanged: 'RetentionObjectChanged',
  /** An audit or progress record is not the JSON it should be. */
  AuditCorrupt: 'RetentionAuditCorrupt',
  /** Storage refused the credentials, or the bucket does not exist. */
  StorageAccessDenied: 'StorageAccessDenied',
  /** Storage unreachable or overloaded: retried. */
  StorageUnavailable: 'StorageUnavailable',
} as const;

export type RetentionFailureTypeName = (typeof RetentionFailureType)[keyof typeof RetentionFailureType];

/** What the activities' retry policies must not retry: the same call cannot fix these. */
export const RETENTION_NON_RETRYABLE: readonly string[] = [
  RetentionFailureType.InvalidConfig,
  RetentionFailureType.DatasetUnreadable,
  RetentionFailureType.CountMismatch,
  RetentionFailureType.AuditCorrupt,
  RetentionFailureType.StorageAccessDenied,
];

/** An error of the retention data plane that already knows its failure type. */
export class RetentionError extends Error {
  override name = 'RetentionError';
  constructor(
    readonly type: RetentionFailureTypeName,
    message: string,
  ) {
    super(message);
  }
}
