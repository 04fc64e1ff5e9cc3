import type { z } from 'zod';
import { ABSENT_GENERATION, type BlobStore } from './blobStore';
import { isStorageError } from './errors';

/**
 * A stored object that should hold JSON of a known shape and does not (truncated, written by
 * something else, or by an incompatible version). Reading it again gives the same bytes, so
 * callers treat it as corrupt data, never as worth a retry.
 */
export class StoredJsonError extends Error {
  override name = 'StoredJsonError';
  constructor(
    readonly uri: string,
    readonly reason: 'not_json' | 'schema',
    message: string,
  ) {
    super(message);
  }
}

/** Bytes read from `uri` as JSON that `schema` accepts; a StoredJsonError if they are not. */
export function parseStoredJson<S extends z.ZodType>(bytes: Buffer, schema: S, uri: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new StoredJsonError(uri, 'not_json', `${uri} is not valid JSON`);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new StoredJsonError(uri, 'schema', `${uri} does not match its schema: ${r.error.message}`);
  return r.data;
}

/**
 * Reads `key` as JSON that `schema` accepts. A missing object is the store's StorageError
 * (not_found), as for any read: callers for whom absence is normal check for it.
 */
export async function readJsonObject<S extends z.ZodType>(store: BlobStore, key: string, schema: S): Promise<z.output<S>> {
  return parseStoredJson(await store.readBuffer(key), schema, store.uriOf(key));
}

/**
 * Reads `key` as JSON with the generation to compare-and-swap it against; an absent object
 * is null at ABSENT_GENERATION. A writer between the stat and the read makes the generation
 * stale, so the caller's CAS write loses and it reads again: never a lost update.
 */
export async function readJsonForUpdate<S extends z.ZodType>(store: BlobStore, key: string, schema: S): Promise<{ value: z.output<S> | null; generation: string }> {
  let before;
  try {
    before = await store.stat(key);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return { value: null, generation: ABSENT_GENERATION };
    throw err;
  }
  try {
    return { value: await readJsonObject(store, key, schema), generation: before.generation };
  } catch (err) {
    // Deleted between the stat and the read.
    if (isStorageError(err, 'not_found')) return { value: null, generation: ABSENT_GENERATION };
    throw err;
  }
}
