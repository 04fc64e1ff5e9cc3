/*
 * The syntax of storage URIs, without Node built-ins and without imports, so destination
 * configs (which workflows validate) and the CLI check a URI by the same rules uri.ts opens
 * it with. uri.ts turns problems into StorageErrors and adds what needs Node: decoding file
 * URLs and resolving relative paths.
 */

export type GsLocation = { kind: 'gs'; bucket: string; /** '' or ends with '/' */ prefix: string; uri: string };

// https://cloud.google.com/storage/docs/buckets#naming (dotted names may be up to 222 chars).
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;
const FORMS = 'gs://bucket/prefix, file:///absolute/path or a folder path';

/** The accepted ways to write a location: gs://, a file: URL, or a plain path. */
export type StorageUriForm = 'gs' | 'file' | 'path';

/** What is wrong with a URI: its form (scheme, emptiness, relative path), its bucket or prefix, or it names no object. */
export interface StorageUriProblem {
  kind: 'form' | 'gs_name' | 'not_object';
  why: string;
}

export const isStorageUriProblem = (r: object): r is StorageUriProblem => 'why' in r;

/** Which form `uri` is written in, or why it is none. */
export function storageUriFormOf(uri: string): StorageUriForm | StorageUriProblem {
  if (typeof uri !== 'string' || uri.trim() === '') return { kind: 'form', why: 'it is empty' };
  if (uri.startsWith('gs://')) return 'gs';
  if (uri.startsWith('file:')) return 'file';
  const scheme = SCHEME.exec(uri);
  if (scheme) return { kind: 'form', why: `the scheme "${scheme[1]}://" is not supported (use ${FORMS})` };
  return 'path';
}

/** `gs://bucket/prefix` → bucket and a prefix ending in "/" (or ''), or why it cannot be used. */
export function gsLocationOf(uri: string): GsLocation | StorageUriProblem {
  const rest = uri.slice('gs://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  let prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..'))
    return { kind: 'gs_name', why: `"${bucket}" is not a valid bucket name (3-222 lowercase letters, digits, "-", "_" or ".", starting and ending with a letter or digit)` };
  if (prefix.startsWith('/') || prefix.includes('//')) return { kind: 'gs_name', why: 'the object prefix contains an empty segment ("//")' };
  if (prefix.split('/').some((s) => s === '.' || s === '..')) return { kind: 'gs_name', why: 'the object prefix contains "." or ".." segments' };
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  return { kind: 'gs', bucket, prefix, uri: `gs://${bucket}/${prefix}` };
}

/** `gs://bucket/folder/object` → the folder's location and the object's key, or why it names no object. */
export function gsObjectOf(uri: string): { location: GsLocation; key: string } | StorageUriProblem {
  if (uri.endsWith('/')) return { kind: 'not_object', why: 'it names a folder (trailing "/")' };
  const loc = gsLocationOf(uri);
  if (isStorageUriProblem(loc)) return loc;
  const full = loc.prefix.slice(0, -1);
  if (full === '') return { kind: 'not_object', why: 'it names a bucket, not an object' };
  const slash = full.lastIndexOf('/');
  const prefix = slash === -1 ? '' : full.slice(0, slash + 1);
  return { location: { kind: 'gs', bucket: loc.bucket, prefix, uri: `gs://${loc.bucket}/${prefix}` }, key: full.slice(slash + 1) };
}

/**
 * Why `uri` cannot be used, undefined if it can. A file URL must be `file:///absolute/path`,
 * and a plain path absolute unless `relativePaths` (a CLI argument, resolved against the
 * working folder; a config or workflow input has none). `object` asks for an object (a
 * file), not a folder or a bucket.
 */
export function storageUriProblem(uri: string, opts: { object?: boolean; relativePaths?: boolean } = {}): StorageUriProblem | undefined {
  const form = storageUriFormOf(uri);
  if (typeof form !== 'string') return form;
  if (form === 'file' && !uri.startsWith('file:///')) return { kind: 'form', why: 'a file URL must be file:///absolute/path' };
  if (form === 'path' && !opts.relativePaths && !uri.startsWith('/')) return { kind: 'form', why: 'it is a relative path' };
  if (form === 'gs') {
    const r = opts.object ? gsObjectOf(uri) : gsLocationOf(uri);
    if (isStorageUriProblem(r)) return r;
  }
  if (opts.object && uri.endsWith('/')) return { kind: 'not_object', why: 'it names a folder (trailing "/")' };
  return undefined;
}
