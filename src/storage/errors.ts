/**
 * Why a storage call failed, as a closed set so activities can map each one to a Temporal
 * failure type (retryable or not) without parsing messages.
 */
export const STORAGE_ERROR_CODES = [
  'not_found', // the object (or, locally, its folder) does not exist
  'bucket_not_found', // the GCS bucket does not exist
  'precondition_failed', // a compare-and-swap lost: the object's generation moved on
  'bad_uri', // a storage URI we cannot use (scheme, bucket name, relative file path)
  'invalid_key', // an object key that escapes the store or collides with a folder
  'permission', // credentials missing or not allowed (401/403, EACCES)
  'integrity', // the bytes stored differ from the bytes sent (size or MD5 mismatch)
  'unavailable', // the endpoint could not be reached or answered 5xx/429; worth retrying
  'io', // anything else
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<StorageErrorCode> = new Set(['unavailable', 'io']);

export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: StorageErrorCode;
  /** The object or store the error is about (a URI; never object contents). */
  readonly uri: string | undefined;

  constructor(code: StorageErrorCode, message: string, options: { uri?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.uri = options.uri;
  }

  /** Whether repeating the same call may succeed (a precondition failure never will). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** `exists` for any adapter: a stat that answers not_found means absent; other errors propagate. */
export async function existsByStat(stat: () => Promise<unknown>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (err instanceof StorageError && err.code === 'not_found') return false;
    throw err;
  }
}
