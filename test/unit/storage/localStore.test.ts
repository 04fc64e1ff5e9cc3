import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, linkSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, LocalBlobStore, StorageError, openBlob, openBlobStore, type BlobStore } from '../../../src/storage';
import { blobStoreContract } from './blobStoreContract';

const base = mkdtempSync(join(tmpdir(), 'ttsync-localstore-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `s${++n}`);

blobStoreContract('local folder', async () => openBlobStore(freshDir()));

async function failure(p: Promise<unknown>): Promise<StorageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

describe('local folder adapter specifics', () => {
  it('is selected by file:// URIs and plain paths, rooted at the folder', () => {
    const dir = freshDir();
    for (const uri of [dir, pathToFileURL(dir).href, `${pathToFileURL(dir).href}/`]) {
      const store = openBlobStore(uri);
      expect(store).toBeInstanceOf(LocalBlobStore);
      expect(store.uri).toBe(`${pathToFileURL(dir).href}/`);
    }
    const rel = openBlobStore('data/work', { cwd: dir }) as LocalBlobStore;
    expect(rel.root).toBe(join(dir, 'data/work'));
  });

  it('opens a single object URI (a snapshot file) through its folder', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'snap shot.csv'), 'email\na@example.com\n');
    const { store, key } = openBlob(`${pathToFileURL(dir).href}/snap%20shot.csv`);
    expect(key).toBe('snap shot.csv');
    expect((await store.readBuffer(key)).toString()).toBe('email\na@example.com\n');
    // A file dropped by another tool still has a usable generation and times.
    const st = await store.stat(key);
    expect(st.generation).toMatch(/^\d+$/);
    expect(st.md5).toBeUndefined();
    expect(await store.md5Of(key)).toBe(createHash('md5').update('email\na@example.com\n').digest('hex'));
  });

  it('keeps the old object when a write fails halfway, and leaves no partial file', async () => {
    const dir = freshDir();
    const store = openBlobStore(dir);
    await store.write('out/file.csv', 'old complete content');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('new partial ');
      yield Buffer.alloc(1 << 20, 0x61);
      throw new Error('source broke');
    }
    const err = await store.write('out/file.csv', Readable.from(failing())).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('source broke');
    expect((await store.readBuffer('out/file.csv')).toString()).toBe('old complete content');
    expect(readdirSync(join(dir, 'out'))).toEqual(['file.csv']);
    expect(readdirSync(join(dir, '.ttsync-internal', 'tmp'))).toEqual([]);
  });

  it('removes temp files a crashed writer left more than a day ago, and only those', async () => {
    const dir = freshDir();
    const tmpDir = join(dir, '.ttsync-internal', 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const old = `${Date.now() - 25 * 3_600_000}-999-deadbeef`;
    const recent = `${Date.now() - 60_000}-999-cafebabe`;
    writeFileSync(join(tmpDir, old), 'x'.repeat(1000));
    writeFileSync(join(tmpDir, recent), 'in flight');
    await openBlobStore(dir).write('k', 'v');
    expect(readdirSync(tmpDir)).toEqual([recent]);
  });

  it('hides its internal folder from listings and refuses it as a key', async () => {
    const dir = freshDir();
    const store = openBlobStore(dir);
    const g = await store.writeIfGeneration('m/pointer', 'a', ABSENT_GENERATION);
    await store.writeIfGeneration('m/pointer', 'b', g.generation);
    expect(existsSync(join(dir, '.ttsync-internal'))).toBe(true);
    const keys: string[] = [];
    for await (const i of store.list()) keys.push(i.key);
    expect(keys).toEqual(['m/pointer']);
    expect((await failure(store.write('.ttsync-internal/x', 'x'))).code).toBe('invalid_key');
  });

  it('treats folders as prefixes, not objects', async () => {
    const dir = freshDir();
    const store = openBlobStore(dir);
    await store.write('a/b', 'x');
    expect((await failure(store.stat('a'))).code).toBe('not_found');
    expect((await failure(store.openRead('a'))).code).toBe('not_found');
    expect(await store.exists('a')).toBe(false);
    const clash = await failure(store.write('a', 'y'));
    expect(clash.code).toBe('invalid_key');
    expect(clash.message).toContain('folder');
  });

  describe('compare-and-swap recovery (claim + rename, no lock to go stale)', () => {
    const claimPath = (dir: string, key: string, gen: string): string =>
      join(dir, '.ttsync-internal', 'cas', `${createHash('sha256').update(key).digest('hex')}.${gen}`);

    /** Leaves the state a writer leaves when it dies after claiming, before its rename. */
    function crashAfterClaim(dir: string, key: string, fromGen: string, content: string, newGenMicros: bigint): void {
      const file = join(dir, 'crashed-writer-temp');
      writeFileSync(file, content);
      const s = Number(newGenMicros) / 1e6;
      utimesSync(file, s, s);
      mkdirSync(join(dir, '.ttsync-internal', 'cas'), { recursive: true });
      linkSync(file, claimPath(dir, key, fromGen));
      rmSync(file);
    }

    it('completes the transition of a writer that crashed after claiming, and reports the loss', async () => {
      const dir = freshDir();
      const store: BlobStore = openBlobStore(dir);
      const g1 = await store.writeIfGeneration('ptr', 'v1', ABSENT_GENERATION);
      crashAfterClaim(dir, 'ptr', g1.generation, 'v2-from-crashed-writer', BigInt(g1.generation) + 10n);

      const err = await failure(store.writeIfGeneration('ptr', 'v2-mine', g1.generation));
      expect(err.code).toBe('precondition_failed');
      // The key is not stuck: the crashed writer's complete bytes were published...
      expect((await store.readBuffer('ptr')).toString()).toBe('v2-from-crashed-writer');
      const g2 = (await store.stat('ptr')).generation;
      expect(g2).toBe(String(BigInt(g1.generation) + 10n));
      // ...and the next writer that saw them proceeds normally.
      const g3 = await store.writeIfGeneration('ptr', 'v3', g2);
      expect((await store.readBuffer('ptr')).toString()).toBe('v3');
      expect(BigInt(g3.generation) > BigInt(g2)).toBe(true);
      expect(readdirSync(join(dir, '.ttsync-internal', 'cas'))).toEqual([]);
    });

    it('removes a leftover claim for a generation the object has already left', async () => {
      const dir = freshDir();
      const store = openBlobStore(dir);
      const g1 = await store.writeIfGeneration('ptr', 'v1', ABSENT_GENERATION);
      const g2 = await store.writeIfGeneration('ptr', 'v2', g1.generation);
      crashAfterClaim(dir, 'ptr', g1.generation, 'late', BigInt(g2.generation) + 5n);
      const err = await failure(store.writeIfGeneration('ptr', 'v3', g1.generation));
      expect(err.code).toBe('precondition_failed');
      expect((await store.readBuffer('ptr')).toString()).toBe('v2');
      expect(existsSync(claimPath(dir, 'ptr', g1.generation))).toBe(false);
    });

    it('gives every write a strictly larger generation than the one it replaces', async () => {
      const store = openBlobStore(freshDir());
      let prev = await store.writeIfGeneration('ptr', '0', ABSENT_GENERATION);
      for (let i = 1; i <= 50; i++) {
        const next = await store.writeIfGeneration('ptr', String(i), prev.generation);
        expect(BigInt(next.generation) > BigInt(prev.generation)).toBe(true);
        prev = next;
      }
    });
  });
});
