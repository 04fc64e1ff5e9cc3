import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_NAMES } from './searchAttributes';

/**
 * Registers any missing ttsync search attribute. For dev stacks we reuse (a server someone
 * started by hand); production clusters get them from their operators, and the worker's
 * start-up check says which are missing.
 */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const op = client.connection.operatorService;
  const existing = (await op.listSearchAttributes({ namespace })).customAttributes ?? {};
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in existing));
  if (missing.length) {
    await op.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((n) => [n, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  }
  return missing;
}
