import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes let ops find a destination's workflows in the Temporal UI
 * (e.g. `AdvertiserId = "123" AND SyncState = "reauthorization_required"`).
 * All are Keyword: exact-match filters, no tokenisation.
 */
export const SearchAttributeKeys = {
  DestinationId: defineSearchAttributeKey('DestinationId', SearchAttributeType.KEYWORD),
  AdvertiserId: defineSearchAttributeKey('AdvertiserId', SearchAttributeType.KEYWORD),
  AudienceId: defineSearchAttributeKey('AudienceId', SearchAttributeType.KEYWORD),
  Lifecycle: defineSearchAttributeKey('Lifecycle', SearchAttributeType.KEYWORD),
  SyncState: defineSearchAttributeKey('SyncState', SearchAttributeType.KEYWORD),
  /** A SAN migration account's phase (awaiting_decision … completed, opted_out). */
  MigrationState: defineSearchAttributeKey('MigrationState', SearchAttributeType.KEYWORD),
  /** The month (YYYY-MM) a Data Marketplace usage report covers. */
  ReportMonth: defineSearchAttributeKey('ReportMonth', SearchAttributeType.KEYWORD),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.keys(SearchAttributeKeys) as (keyof typeof SearchAttributeKeys)[];

/** `Name=Keyword` flags for `temporal server start-dev --search-attribute`. */
export function devServerSearchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]);
}

export class MissingSearchAttributesError extends Error {
  override name = 'MissingSearchAttributesError';
}

/** The slice of the operator service this check needs; lets tests and callers pass any connection. */
export interface OperatorLike {
  listSearchAttributes(req: { namespace: string }): Promise<{
    customAttributes?: Record<string, unknown> | null;
    systemAttributes?: Record<string, unknown> | null;
  }>;
}

/**
 * Workflows upsert these attributes; on a server that lacks them the upsert fails the
 * workflow task over and over. Refusing at start-up turns that into one clear message.
 */
export async function assertSearchAttributesRegistered(operator: OperatorLike, namespace: string): Promise<void> {
  const res = await operator.listSearchAttributes({ namespace });
  const custom = res.customAttributes ?? {};
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in custom));
  if (missing.length) {
    const cmd = missing.map((n) => `--name ${n} --type Keyword`).join(' ');
    throw new MissingSearchAttributesError(
      `namespace "${namespace}" lacks the search attributes ttsync needs: ${missing.join(', ')}. ` +
        `Register them with: temporal operator search-attribute create --namespace ${namespace} ${cmd}`,
    );
  }
}
