import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StorageError } from './errors';

export type StorageLocation =
  | { kind: 'file'; /** absolute folder path, no trailing slash (except "/") */ root: string; uri: string }
  | { kind: 'gs'; bucket: string; /** '' or ends with '/' */ prefix: string; uri: string };

// https://cloud.google.com/storage/docs/buckets#naming (dotted names may be up to 222 chars).
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/**
 * `gs://bucket/prefix`, `file:///abs/path`, or a plain path (absolute, or relative to `cwd`).
 * The result names a folder-like location; keys are appended to it.
 */
export function parseStorageUri(uri: string, cwd: string = process.cwd()): StorageLocation {
  const bad = (why: string): never => {
    throw new StorageError('bad_uri', `invalid storage URI ${JSON.stringify(uri)}: ${why}`, { uri });
  };
  if (typeof uri !== 'string' || uri.trim() === '') bad('it is empty');
  if (uri.startsWith('gs://')) {
    const rest = uri.slice('gs://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (!BUCKET_NAME.test(bucket) || bucket.includes('..'))
      bad(`"${bucket}" is not a valid bucket name (3-222 lowercase letters, digits, "-", "_" or ".", starting and ending with a letter or digit)`);
    if (prefix.startsWith('/') || prefix.includes('//')) bad('the object prefix contains an empty segment ("//")');
    if (prefix.split('/').some((s) => s === '.' || s === '..')) bad('the object prefix contains "." or ".." segments');
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    return { kind: 'gs', bucket, prefix, uri: `gs://${bucket}/${prefix}` };
  }
  if (uri.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (err) {
      return bad(`${(err as Error).message} (use file:///absolute/path)`);
    }
    return fileLocation(path);
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri);
  if (scheme) bad(`the scheme "${scheme[1]}://" is not supported (use gs://bucket/prefix, file:///absolute/path or a folder path)`);
  return fileLocation(isAbsolute(uri) ? uri : resolve(cwd, uri));
}

function fileLocation(path: string): StorageLocation {
  const root = resolve(path);
  return { kind: 'file', root, uri: pathToFileURL(root).href };
}

/**
 * Splits an object URI (a snapshot file, a manifest) into the location of its folder and
 * its key, so it can be read through the same store as everything else.
 */
export function splitObjectUri(uri: string, cwd: string = process.cwd()): { location: StorageLocation; key: string } {
  if (uri.endsWith('/')) throw new StorageError('bad_uri', `invalid object URI ${JSON.stringify(uri)}: it names a folder (trailing "/")`, { uri });
  const loc = parseStorageUri(uri, cwd);
  if (loc.kind === 'gs') {
    const full = loc.prefix.slice(0, -1);
    if (full === '') throw new StorageError('bad_uri', `invalid object URI ${JSON.stringify(uri)}: it names a bucket, not an object`, { uri });
    const slash = full.lastIndexOf('/');
    const prefix = slash === -1 ? '' : full.slice(0, slash + 1);
    return { location: { kind: 'gs', bucket: loc.bucket, prefix, uri: `gs://${loc.bucket}/${prefix}` }, key: full.slice(slash + 1) };
  }
  const slash = loc.root.lastIndexOf('/');
  const parent = slash <= 0 ? '/' : loc.root.slice(0, slash);
  const key = loc.root.slice(slash + 1);
  if (key === '') throw new StorageError('bad_uri', `invalid object URI ${JSON.stringify(uri)}: it names the filesystem root`, { uri });
  return { location: fileLocation(parent), key };
}
