import type { BlobStore } from './blobStore';
import { GcsBlobStore, type GcsStoreOptions } from './gcsStore';
import { LocalBlobStore } from './localStore';
import { parseStorageUri, splitObjectUri, type StorageLocation } from './uri';

export interface OpenStoreOptions {
  gcs?: GcsStoreOptions;
  /** Base for relative plain paths (default process.cwd()). */
  cwd?: string;
}

export function storeFor(location: StorageLocation, options: OpenStoreOptions = {}): BlobStore {
  return location.kind === 'gs' ? new GcsBlobStore(location.bucket, location.prefix, options.gcs) : new LocalBlobStore(location.root);
}

/** The store for a folder-like URI: gs://bucket/prefix, file:///abs/path or a plain path. */
export function openBlobStore(uri: string, options: OpenStoreOptions = {}): BlobStore {
  return storeFor(parseStorageUri(uri, options.cwd), options);
}

/** The store holding one object URI (a snapshot, a manifest) and the object's key in it. */
export function openBlob(uri: string, options: OpenStoreOptions = {}): { store: BlobStore; key: string } {
  const { location, key } = splitObjectUri(uri, options.cwd);
  return { store: storeFor(location, options), key };
}
