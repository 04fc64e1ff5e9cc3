import { describe, expect, it } from 'vitest';
import { StorageError, parseStorageUri, splitObjectUri } from '../../../src/storage';
import { emulatorEndpoint } from '../../../src/storage/gcsStore';
import { gsLocationOf, gsObjectOf, storageUriFormOf, storageUriProblem } from '../../../src/storage/uriSyntax';

function badUri(uri: string): string {
  try {
    parseStorageUri(uri, '/work');
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('bad_uri');
    return (err as Error).message;
  }
  throw new Error(`${uri} was accepted`);
}

describe('storage URIs', () => {
  it('parses gs:// into bucket and a prefix ending in "/"', () => {
    expect(parseStorageUri('gs://my-bucket')).toEqual({ kind: 'gs', bucket: 'my-bucket', prefix: '', uri: 'gs://my-bucket/' });
    expect(parseStorageUri('gs://my-bucket/')).toMatchObject({ bucket: 'my-bucket', prefix: '' });
    expect(parseStorageUri('gs://my.bucket_1/a/b')).toEqual({ kind: 'gs', bucket: 'my.bucket_1', prefix: 'a/b/', uri: 'gs://my.bucket_1/a/b/' });
  });

  it('parses file:// URIs (percent-decoded) and plain paths into absolute folders', () => {
    expect(parseStorageUri('file:///var/data/my%20dir')).toEqual({ kind: 'file', root: '/var/data/my dir', uri: 'file:///var/data/my%20dir' });
    expect(parseStorageUri('file:///var/data/')).toMatchObject({ root: '/var/data' });
    expect(parseStorageUri('/abs/path')).toMatchObject({ kind: 'file', root: '/abs/path' });
    expect(parseStorageUri('rel/dir', '/work')).toMatchObject({ kind: 'file', root: '/work/rel/dir' });
    expect(parseStorageUri('./x/../y', '/work')).toMatchObject({ root: '/work/y' });
  });

  it('refuses what it cannot use, saying why', () => {
    expect(badUri('s3://bucket/x')).toBe('invalid storage URI "s3://bucket/x": the scheme "s3://" is not supported (use gs://bucket/prefix, file:///absolute/path or a folder path)');
    expect(badUri('https://storage.googleapis.com/b')).toContain('"https://" is not supported');
    expect(badUri('gs://')).toContain('is not a valid bucket name');
    expect(badUri('gs://UPPER/x')).toContain('"UPPER" is not a valid bucket name');
    expect(badUri('gs://ab/x')).toContain('not a valid bucket name');
    expect(badUri('gs://bucket//x')).toContain('empty segment');
    expect(badUri('gs://bucket/a/../b')).toContain('".."');
    expect(badUri('file://otherhost/x')).toContain('file:///absolute/path');
    expect(badUri('')).toContain('it is empty');
  });

  it('splits an object URI into its folder and key', () => {
    expect(splitObjectUri('gs://b-1/snapshots/2026/s.csv')).toEqual({
      location: { kind: 'gs', bucket: 'b-1', prefix: 'snapshots/2026/', uri: 'gs://b-1/snapshots/2026/' },
      key: 's.csv',
    });
    expect(splitObjectUri('gs://b-1/s.csv').location).toMatchObject({ prefix: '' });
    expect(splitObjectUri('/data/in/s.csv')).toMatchObject({ location: { kind: 'file', root: '/data/in' }, key: 's.csv' });
    expect(splitObjectUri('file:///s.csv')).toMatchObject({ location: { root: '/' }, key: 's.csv' });
    expect(() => splitObjectUri('gs://b-1')).toThrow(/names a bucket, not an object/);
    expect(() => splitObjectUri('gs://b-1/dir/')).toThrow(/names a folder/);
  });

  it('checks a URI without Node by the rules the parser opens it with', () => {
    // Every URI the pure check accepts, the parser opens; every one it refuses for its
    // bucket or prefix, the parser refuses for the same reason.
    for (const uri of ['gs://my-bucket', 'gs://my-bucket/a/b/', 'gs://my.bucket_1/a/s.csv', 'file:///var/data/x', '/abs/path']) {
      expect(storageUriProblem(uri), uri).toBeUndefined();
      expect(() => parseStorageUri(uri, '/work')).not.toThrow();
    }
    for (const uri of ['gs://UPPER/x', 'gs://ab/x', 'gs://bucket//x', 'gs://bucket/a/../b', 'gs://a..b/x']) {
      const problem = storageUriProblem(uri);
      expect(problem?.kind, uri).toBe('gs_name');
      expect(badUri(uri)).toBe(`invalid storage URI ${JSON.stringify(uri)}: ${problem?.why}`);
    }
    expect(storageUriProblem('s3://bucket/x')).toEqual({ kind: 'form', why: 'the scheme "s3://" is not supported (use gs://bucket/prefix, file:///absolute/path or a folder path)' });
    expect(storageUriProblem('')).toEqual({ kind: 'form', why: 'it is empty' });
    expect(storageUriProblem('file://otherhost/x')).toEqual({ kind: 'form', why: 'a file URL must be file:///absolute/path' });
    // Relative paths need a working folder: refused unless the caller resolves them.
    expect(storageUriProblem('data/s.csv')).toEqual({ kind: 'form', why: 'it is a relative path' });
    expect(storageUriProblem('data/s.csv', { relativePaths: true })).toBeUndefined();
  });

  it('tells objects from folders and buckets', () => {
    expect(storageUriProblem('gs://b-1/dir/s.csv', { object: true })).toBeUndefined();
    expect(storageUriProblem('/data/s.csv', { object: true })).toBeUndefined();
    expect(storageUriProblem('gs://b-1', { object: true })).toEqual({ kind: 'not_object', why: 'it names a bucket, not an object' });
    // A trailing "/" is a folder first, as splitObjectUri says it.
    expect(storageUriProblem('gs://b-1/', { object: true })).toEqual({ kind: 'not_object', why: 'it names a folder (trailing "/")' });
    expect(() => splitObjectUri('gs://b-1/')).toThrow('invalid object URI "gs://b-1/": it names a folder (trailing "/")');
    expect(storageUriProblem('gs://b-1/dir/', { object: true })).toEqual({ kind: 'not_object', why: 'it names a folder (trailing "/")' });
    expect(storageUriProblem('file:///data/dir/', { object: true })).toEqual({ kind: 'not_object', why: 'it names a folder (trailing "/")' });
  });

  it('names the form and parses gs:// parts alone', () => {
    expect(['gs://b-1/x', 'file:///x', '/x', 'x'].map(storageUriFormOf)).toEqual(['gs', 'file', 'path', 'path']);
    expect(storageUriFormOf('https://x/y')).toMatchObject({ kind: 'form' });
    expect(gsLocationOf('gs://b-1/a/b')).toEqual({ kind: 'gs', bucket: 'b-1', prefix: 'a/b/', uri: 'gs://b-1/a/b/' });
    expect(gsObjectOf('gs://b-1/a/s.csv')).toEqual({ location: { kind: 'gs', bucket: 'b-1', prefix: 'a/', uri: 'gs://b-1/a/' }, key: 's.csv' });
  });

  it('normalizes STORAGE_EMULATOR_HOST spellings to one endpoint', () => {
    expect(emulatorEndpoint('127.0.0.1:4443')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('http://127.0.0.1:4443/')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('http://127.0.0.1:4443/storage/v1/')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('https://gcs.internal')).toBe('https://gcs.internal');
    expect(emulatorEndpoint('')).toBeUndefined();
    expect(emulatorEndpoint(undefined)).toBeUndefined();
  });
});
