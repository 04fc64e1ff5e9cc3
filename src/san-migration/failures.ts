import { TIKTOK_NON_RETRYABLE_ERROR_TYPES, TikTokActivityFailureType, TikTokErrorType } from '../tiktok/errorTypes';

/*
 * Every failure type SAN migration raises or names: the one list its workflow (retry
 * policies), activities and CLI share. Pure, so the workflow bundle can take it.
 */
export const SanMigrationFailureType = {
  ...TikTokErrorType,
  ...TikTokActivityFailureType,
  /** The workflow input or a program update is not a valid program. */
  InvalidProgram: 'InvalidProgram',
  /** The account is not in the partner-config store (import it with `ttsync san import`). */
  AccountNotFound: 'AccountNotFound',
  /** No program was applied yet (`ttsync san program apply`). */
  ProgramNotFound: 'ProgramNotFound',
  /** A stored account or program document is not what its schema says. */
  PartnerConfigCorrupt: 'PartnerConfigCorrupt',
  /** Storage refused the credentials, or the store URI cannot be used. */
  PartnerConfigAccess: 'PartnerConfigAccess',
  /** Another writer kept winning the compare-and-swap of one document. */
  PartnerConfigContention: 'PartnerConfigContention',
  /** Storage unreachable or overloaded: retried. */
  PartnerConfigUnavailable: 'PartnerConfigUnavailable',
  /** The notice could not be handed to the outbox. */
  NoticeFailed: 'NoticeFailed',
  /** The workflow runs under an id that is not `san-migration:<accountId>`. */
  WrongWorkflowId: 'WrongWorkflowId',
  /** This worker lacks a dependency (a Temporal client for control activities). */
  WorkerMisconfigured: 'WorkerMisconfigured',
} as const;

export type SanMigrationFailureTypeName = (typeof SanMigrationFailureType)[keyof typeof SanMigrationFailureType];

/** What the lifecycle's activities must not retry: repeating the call cannot fix these. */
export const SAN_MIGRATION_NON_RETRYABLE: readonly string[] = [
  ...TIKTOK_NON_RETRYABLE_ERROR_TYPES,
  SanMigrationFailureType.SecretUnavailable,
  SanMigrationFailureType.InvalidProgram,
  SanMigrationFailureType.AccountNotFound,
  SanMigrationFailureType.ProgramNotFound,
  SanMigrationFailureType.PartnerConfigCorrupt,
  SanMigrationFailureType.PartnerConfigAccess,
  SanMigrationFailureType.WorkerMisconfigured,
];

/** A failure of the lifecycle's own that already knows its type. */
export class SanMigrationError extends Error {
  override name = 'SanMigrationError';
  constructor(
    readonly type: SanMigrationFailureTypeName,
    message: string,
  ) {
    super(message);
  }
}
