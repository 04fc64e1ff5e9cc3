import { stringify } from 'csv-stringify/sync';
import type { BlobStore } from '../storage';

/*
 * The file third-party BI and reporting tools need at cutover: the network name TikTok's
 * attributions had, the one they have from now on, for which app and platform, from when.
 * One file per app and cutover time, so a repeated cutover step rewrites the same object
 * with the same bytes.
 */

export interface NetworkRename {
  accountId: string;
  appId: string;
  platform: string;
  oldNetworkName: string;
  newNetworkName: string;
  effectiveAt: string;
}

export const BI_MAPPING_COLUMNS = ['old_network_name', 'new_network_name', 'app_id', 'platform', 'effective_time'] as const;

export function biMappingKey(r: Pick<NetworkRename, 'accountId' | 'appId' | 'effectiveAt'>): string {
  return `bi-mappings/${r.accountId}/${r.appId}.${r.effectiveAt.replace(/[:.]/g, '')}.csv`;
}

export function biMappingCsv(rows: NetworkRename[]): string {
  return stringify(
    rows.map((r) => [r.oldNetworkName, r.newNetworkName, r.appId, r.platform, r.effectiveAt]),
    { header: true, columns: [...BI_MAPPING_COLUMNS] },
  );
}

export async function writeBiMapping(store: BlobStore, rename: NetworkRename): Promise<string> {
  const key = biMappingKey(rename);
  await store.write(key, biMappingCsv([rename]), { contentType: 'text/csv' });
  return store.uriOf(key);
}
