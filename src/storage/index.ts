export * from './blobStore';
export * from './errors';
export { GcsBlobStore, createGcsClient, type GcsStoreOptions } from './gcsStore';
export { gcsDeadlinesFromEnv, type GcsDeadlines } from './gcsDeadlines';
export { LocalBlobStore } from './localStore';
export { openBlob, openBlobStore, storeFor, type OpenStoreOptions } from './open';
export { parseStorageUri, splitObjectUri, type StorageLocation } from './uri';
export { readAll } from './bytes';
export { StoredJsonError, parseStoredJson, readJsonForUpdate, readJsonObject } from './json';
