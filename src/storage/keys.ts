import { StorageError } from './errors';

/**
 * Name of the folder where the local adapter keeps its temporary and compare-and-swap files.
 * Keys may not use it as a segment, and listings skip it, so it never shows up as data.
 */
export const INTERNAL_SEGMENT = '.ttsync-internal';

/**
 * Object keys are relative, '/'-separated and may not climb out of the store: the same key
 * must name the same object under gs:// and file://, and a key from a config or a manifest
 * must never reach outside the configured folder.
 */
export function checkKey(key: string, storeUri: string): string {
  const problem = keyProblem(key);
  if (problem) throw new StorageError('invalid_key', `invalid object key ${JSON.stringify(key)} in ${storeUri}: ${problem}`, { uri: storeUri });
  return key;
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (Buffer.byteLength(key, 'utf8') > 1024) return 'it is longer than 1024 bytes';
  if (key.startsWith('/')) return 'it must be relative (no leading "/")';
  if (key.endsWith('/')) return 'it names a folder (trailing "/")';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'it contains control characters';
  if (key.includes('\\')) return 'it contains "\\"; use "/" to separate folders';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it contains an empty segment ("//")';
    if (segment === '.' || segment === '..') return 'it contains "." or ".." segments';
    if (segment === INTERNAL_SEGMENT) return `"${INTERNAL_SEGMENT}" is reserved for ttsync's own files`;
  }
  return undefined;
}

/** Prefixes may be empty or end in '/', but follow the same rules otherwise. */
export function checkPrefix(prefix: string, storeUri: string): string {
  if (prefix === '') return prefix;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = trimmed === '' ? 'it is "/"' : keyProblem(trimmed);
  if (problem) throw new StorageError('invalid_key', `invalid prefix ${JSON.stringify(prefix)} in ${storeUri}: ${problem}`, { uri: storeUri });
  return prefix;
}
