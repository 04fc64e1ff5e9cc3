import { join } from 'node:path';
import { openBlobStore, type BlobStore, type OpenStoreOptions } from '../storage';
import { DATA_DIR } from '../paths';
import { BlobPartnerConfigStore, type PartnerConfigStore } from './partnerConfig';

/*
 * Where SAN migration keeps its documents: one folder (local or gs://) per deployment,
 * TTSYNC_SAN_STORE, shared by every worker and the CLI; default the local data folder.
 *   accounts/<accountId>.json, program.json   the partner-config store (embedded default)
 *   bi-mappings/<accountId>/<appId>.<time>.csv  network renames at cutover
 *   link-template.json                          the MMP's tracking link template (ttsync links create)
 * Notices go through the kernel's outbox (TTSYNC_NOTICES).
 */

export function defaultSanStoreUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.TTSYNC_SAN_STORE?.trim() || join(DATA_DIR, 'san');
}

export interface SanStores {
  config: PartnerConfigStore;
  /** BI mapping files and the link template. */
  files: BlobStore;
}

export function openSanStores(uri: string = defaultSanStoreUri(), options: OpenStoreOptions = {}): SanStores {
  const files = openBlobStore(uri, options);
  return { config: new BlobPartnerConfigStore(files), files };
}
