import { describe, expect, it } from 'vitest';
import { StorageError, parseStorageUri, splitObjectUri } from '../../../src/storage';
import { emulatorEndpoint } from '../../../src/storage/gcsStore';

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

  it('normalizes STORAGE_EMULATOR_HOST spellings to one endpoint', () => {
    expect(emulatorEndpoint('127.0.0.1:4443')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('http://127.0.0.1:4443/')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('http://127.0.0.1:4443/storage/v1/')).toBe('http://127.0.0.1:4443');
    expect(emulatorEndpoint('https://gcs.internal')).toBe('https://gcs.internal');
    expect(emulatorEndpoint('')).toBeUndefined();
    expect(emulatorEndpoint(undefined)).toBeUndefined();
  });
});
