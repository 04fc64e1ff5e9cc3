import { join } from 'node:path';
import { openBlobStore, type BlobStore, type OpenStoreOptions } from '../storage';
import { DATA_DIR } from '../paths';
import { BlobPartnerConfigStore, type PartnerConfigStore } from './partnerConfig';
import { storageNoticeWriter, type SanNoticeWriter } from './notices';

/*
 * Where SAN migration keeps its documents: one folder (local or gs://) per deployment,
 * TTSYNC_SAN_STORE, shared by every worker and the CLI; default the local data folder.
 *   accounts/<accountId>.json, program.json   the partner-config store (embedded default)
 *   bi-mappings/<accountId>/<appId>.<time>.csv  network renames at cutover
 *   san-notices/<sha256 of key>.json            the embedded notice outbox
 */

export function defaultSanStoreUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.TTSYNC_SAN_STORE?.trim() || join(DATA_DIR, 'san');
}

export interface SanStores {
  config: PartnerConfigStore;
  /** BI mapping files (and, embedded, notices). */
  files: BlobStore;
  notices: SanNoticeWriter;
}

export function openSanStores(uri: string = defaultSanStoreUri(), options: OpenStoreOptions = {}): SanStores {
  const files = openBlobStore(uri, options);
  return { config: new BlobPartnerConfigStore(files), files, notices: storageNoticeWriter(files) };
}
