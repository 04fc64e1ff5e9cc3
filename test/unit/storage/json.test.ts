import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StorageError, StoredJsonError, openBlobStore, readJsonObject } from '../../../src/storage';
import { rejectionOf } from '../../helpers/rejection';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = openBlobStore(dir);
const Schema = z.object({ version: z.number().int(), name: z.string() }).strict();

describe('readJsonObject', () => {
  it('reads an object its schema accepts, with the schema\'s output', async () => {
    await store.write('ok.json', '{"version": 3, "name": "a"}');
    expect(await readJsonObject(store, 'ok.json', Schema)).toEqual({ version: 3, name: 'a' });
    const WithDefault = z.object({ n: z.number().default(7) });
    await store.write('empty.json', '{}');
    expect(await readJsonObject(store, 'empty.json', WithDefault)).toEqual({ n: 7 });
  });

  it('calls bytes that are not JSON corrupt, naming the object', async () => {
    await store.write('cut.json', '{"version": 3, "na');
    const err = await rejectionOf(readJsonObject(store, 'cut.json', Schema), StoredJsonError);
    expect(err.reason).toBe('not_json');
    expect(err.uri).toBe(store.uriOf('cut.json'));
    expect(err.message).toBe(`${store.uriOf('cut.json')} is not valid JSON`);
  });

  it('calls JSON of another shape corrupt, with the schema\'s problems', async () => {
    await store.write('other.json', '{"version": "3", "name": "a"}');
    const err = await rejectionOf(readJsonObject(store, 'other.json', Schema), StoredJsonError);
    expect(err.reason).toBe('schema');
    expect(err.message.startsWith(`${store.uriOf('other.json')} does not match its schema: `)).toBe(true);
    expect(err.message).toContain('version');
  });

  it('leaves a missing object to the store: StorageError not_found', async () => {
    expect((await rejectionOf(readJsonObject(store, 'nope.json', Schema), StorageError)).code).toBe('not_found');
  });
});
