import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StorageError } from './errors';
import { gsLocationOf, gsObjectOf, isStorageUriProblem, storageUriFormOf, type GsLocation, type StorageUriForm } from './uriSyntax';

type FileLocation = { kind: 'file'; /** absolute folder path, no trailing slash (except "/") */ root: string; uri: string };
export type StorageLocation = FileLocation | GsLocation;

const badUri = (uri: string, why: string): StorageError => new StorageError('bad_uri', `invalid storage URI ${JSON.stringify(uri)}: ${why}`, { uri });
const badObjectUri = (uri: string, why: string): StorageError => new StorageError('bad_uri', `invalid object URI ${JSON.stringify(uri)}: ${why}`, { uri });

function formOf(uri: string): StorageUriForm {
  const form = storageUriFormOf(uri);
  if (typeof form !== 'string') throw badUri(uri, form.why);
  return form;
}

/**
 * `gs://bucket/prefix`, `file:///abs/path`, or a plain path (absolute, or relative to `cwd`).
 * The result names a folder-like location; keys are appended to it.
 */
export function parseStorageUri(uri: string, cwd: string = process.cwd()): StorageLocation {
  if (formOf(uri) !== 'gs') return fileLocationOf(uri, cwd);
  const loc = gsLocationOf(uri);
  if (isStorageUriProblem(loc)) throw badUri(uri, loc.why);
  return loc;
}

/** A file: URL or a plain path (formOf has ruled out everything else). */
function fileLocationOf(uri: string, cwd: string): FileLocation {
  if (uri.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (err) {
      throw badUri(uri, `${(err as Error).message} (use file:///absolute/path)`);
    }
    return fileLocation(path);
  }
  return fileLocation(isAbsolute(uri) ? uri : resolve(cwd, uri));
}

function fileLocation(path: string): FileLocation {
  const root = resolve(path);
  return { kind: 'file', root, uri: pathToFileURL(root).href };
}

/**
 * Splits an object URI (a snapshot file, a manifest) into the location of its folder and
 * its key, so it can be read through the same store as everything else.
 */
export function splitObjectUri(uri: string, cwd: string = process.cwd()): { location: StorageLocation; key: string } {
  if (formOf(uri) === 'gs') {
    const r = gsObjectOf(uri);
    if (isStorageUriProblem(r)) throw r.kind === 'not_object' ? badObjectUri(uri, r.why) : badUri(uri, r.why);
    return r;
  }
  if (uri.endsWith('/')) throw badObjectUri(uri, 'it names a folder (trailing "/")');
  const loc = fileLocationOf(uri, cwd);
  const slash = loc.root.lastIndexOf('/');
  const parent = slash <= 0 ? '/' : loc.root.slice(0, slash);
  const key = loc.root.slice(slash + 1);
  if (key === '') throw badObjectUri(uri, 'it names the filesystem root');
  return { location: fileLocation(parent), key };
}
