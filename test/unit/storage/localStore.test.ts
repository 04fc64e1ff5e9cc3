import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, linkSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, LocalBlobStore, StorageError, openBlob, openBlobStore, type BlobStore } from '../../../src/storage';
import { secondsOf } from '../../../src/storage/localStore';
import { blobStoreContract } from './blobStoreContract';
import { rejectionOf } from '../../helpers/rejection';

const base = mkdtempSync(join(tmpdir(), 'ttsync-localstore-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `s${++n}`);

blobStoreContract('local folder', async () => openBlobStore(freshDir()));

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
    const err = await rejectionOf(store.write('out/file.csv', Readable.from(failing())), Error);
    expect(err.message).toContain('source broke');
    expect((await store.readBuffer('out/file.csv')).toString()).toBe('old complete content');
    expect(readdirSync(join(dir, 'out'))).toEqual(['file.csv']);
    expect(readdirSync(join(dir, '.ttsync-internal', 'tmp'))).toEqual([]);
  });

  it('removes temp files a crashed writer left more than a day ago, and only those', async () => {
    const dir = freshDir();
    const tmpDir = join(dir, '.ttsync-internal', 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const old = '1700000000000-999-deadbeef';
    const recent = `${Date.now() - 60_000}-999-cafebabe`;
    writeFileSync(join(tmpDir, old), 'x'.repeat(1000));
    writeFileSync(join(tmpDir, recent), 'in flight');
    const dayAgo = Date.now() / 1000 - 25 * 3600;
    utimesSync(join(tmpDir, old), dayAgo, dayAgo);
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
    expect((await rejectionOf(store.write('.ttsync-internal/x', 'x'), StorageError)).code).toBe('invalid_key');
  });

  it('creation time is the mtime: an export rewritten in place is as new as its last write, not its birth', async () => {
    const root = freshDir();
    mkdirSync(root, { recursive: true });
    const path = join(root, 'export.csv');
    writeFileSync(path, 'email\nold@example.com\n');
    const born = statSync(path).birthtimeMs;
    const store = openBlobStore(root);
    // Rewritten in place two days later (simulated by the mtime): same inode, same birth time.
    const later = Date.now() + 2 * 86_400_000;
    writeFileSync(path, 'email\nnew@example.com\n');
    utimesSync(path, later / 1000, later / 1000);
    const st = await store.stat('export.csv');
    if (born > 0) expect(statSync(path).birthtimeMs).toBe(born);
    expect(Math.abs(st.created.getTime() - later)).toBeLessThan(1000);
    // A copy that kept the export's time (cp -p) reports that time.
    const past = Date.now() - 3 * 86_400_000;
    utimesSync(path, past / 1000, past / 1000);
    expect(Math.abs((await store.stat('export.csv')).created.getTime() - past)).toBeLessThan(1000);
  });

  it('treats folders as prefixes, not objects', async () => {
    const dir = freshDir();
    const store = openBlobStore(dir);
    await store.write('a/b', 'x');
    expect((await rejectionOf(store.stat('a'), StorageError)).code).toBe('not_found');
    expect((await rejectionOf(store.openRead('a'), StorageError)).code).toBe('not_found');
    expect(await store.exists('a')).toBe(false);
    const clash = await rejectionOf(store.write('a', 'y'), StorageError);
    expect(clash.code).toBe('invalid_key');
    expect(clash.message).toContain('folder');
  });

  describe('compare-and-swap recovery (claims and tombstones, no lock to go stale)', () => {
    const base = (key: string, gen: string): string => `${createHash('sha256').update(key).digest('hex')}.${gen}`;

    /** Leaves what a writer leaves when it dies after winning the claim, before publishing. */
    function crashAfterClaim(dir: string, key: string, fromGen: string, content: string, newGenMicros: bigint): void {
      const casDir = join(dir, '.ttsync-internal', 'cas');
      mkdirSync(casDir, { recursive: true });
      const pending = join(casDir, `${base(key, fromGen)}.0123456789abcdef`);
      writeFileSync(pending, content);
      utimesSync(pending, secondsOf(newGenMicros), secondsOf(newGenMicros));
      linkSync(pending, join(casDir, base(key, fromGen)));
    }

    it('completes the transition of a writer that crashed after claiming, and reports the loss', async () => {
      const dir = freshDir();
      const store: BlobStore = openBlobStore(dir);
      const g1 = await store.writeIfGeneration('ptr', 'v1', ABSENT_GENERATION);
      crashAfterClaim(dir, 'ptr', g1.generation, 'v2-from-crashed-writer', BigInt(g1.generation) + 10n);

      const err = await rejectionOf(store.writeIfGeneration('ptr', 'v2-mine', g1.generation), StorageError);
      expect(err.code).toBe('precondition_failed');
      // The key is not stuck: the crashed writer's complete bytes were published...
      expect((await store.readBuffer('ptr')).toString()).toBe('v2-from-crashed-writer');
      const g2 = (await store.stat('ptr')).generation;
      expect(g2).toBe(String(BigInt(g1.generation) + 10n));
      // ...and the next writer that saw them proceeds normally.
      const g3 = await store.writeIfGeneration('ptr', 'v3', g2);
      expect((await store.readBuffer('ptr')).toString()).toBe('v3');
      expect(BigInt(g3.generation) > BigInt(g2)).toBe(true);
      // Only tombstones remain: one per transition, no pending bytes.
      expect(readdirSync(join(dir, '.ttsync-internal', 'cas')).sort()).toEqual([base('ptr', g1.generation), base('ptr', g2)].sort());
    });

    it('never publishes a claim again once the object moved past it', async () => {
      const dir = freshDir();
      const store = openBlobStore(dir);
      const g1 = await store.writeIfGeneration('ptr', 'v1', ABSENT_GENERATION);
      const g2 = await store.writeIfGeneration('ptr', 'v2', g1.generation);
      // A late writer still holding g1 finds the tombstone of g1 and loses without effect.
      const err = await rejectionOf(store.writeIfGeneration('ptr', 'late', g1.generation), StorageError);
      expect(err.code).toBe('precondition_failed');
      expect((await store.readBuffer('ptr')).toString()).toBe('v2');
      expect((await store.stat('ptr')).generation).toBe(g2.generation);
    });

    it('sweeps tombstones older than a day', async () => {
      const dir = freshDir();
      const store = openBlobStore(dir);
      const g1 = await store.writeIfGeneration('ptr', 'v1', ABSENT_GENERATION);
      await store.writeIfGeneration('ptr', 'v2', g1.generation);
      const casDir = join(dir, '.ttsync-internal', 'cas');
      const dayAgo = Date.now() / 1000 - 25 * 3600;
      for (const f of readdirSync(casDir)) utimesSync(join(casDir, f), dayAgo, dayAgo);
      await openBlobStore(dir).write('other', 'x');
      expect(readdirSync(casDir)).toEqual([]);
    });

    it('ages temporary files by the time in their name, not their mtime (a hard link being cloned keeps its source\'s)', async () => {
      const dir = freshDir();
      await openBlobStore(dir).write('first', 'x');
      const tmpDir = join(dir, '.ttsync-internal', 'tmp');
      const dayAgo = Date.now() / 1000 - 25 * 3600;
      // A clone in progress: made now, with a month-old snapshot's mtime.
      const linking = `${Date.now()}-1-abc`;
      writeFileSync(join(tmpDir, linking), 'snapshot');
      utimesSync(join(tmpDir, linking), dayAgo - 30 * 86400, dayAgo - 30 * 86400);
      // Left by a writer that died a day ago, touched since.
      const stale = `${Date.now() - 25 * 3600_000}-2-def`;
      writeFileSync(join(tmpDir, stale), 'partial');
      await openBlobStore(dir).write('other', 'x');
      expect(readdirSync(tmpDir)).toEqual([linking]);
    });

    it('stores exactly the generation it chose, for any microsecond (utimes truncates)', () => {
      const dir = freshDir();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'f');
      writeFileSync(file, 'x');
      const base = BigInt(Date.now()) * 1000n;
      for (let i = 0n; i < 2000n; i++) {
        const gen = base + i * 7919n;
        utimesSync(file, secondsOf(gen), secondsOf(gen));
        expect((statSync(file, { bigint: true }).mtimeNs + 500n) / 1000n).toBe(gen);
      }
    });

    it('gives every write a strictly larger generation than the one it replaces', async () => {
      const store = openBlobStore(freshDir());
      let prev = await store.writeIfGeneration('ptr', '0', ABSENT_GENERATION);
      for (let i = 1; i <= 300; i++) {
        const next = await store.writeIfGeneration('ptr', String(i), prev.generation);
        expect(BigInt(next.generation) > BigInt(prev.generation)).toBe(true);
        prev = next;
      }
    });
  });

  describe('prepared conditional writes (stored, published only on commit)', () => {
    it('shows nothing until the commit, which publishes at the generation it announced', async () => {
      const dir = freshDir();
      const store = openBlobStore(dir);
      const old = await store.write('date=1/a.csv', 'old\n');
      const p = await store.prepareIfGeneration!('date=1/a.csv', Readable.from([Buffer.from('new '), Buffer.from('bytes\n')]), old.generation, { md5: false });
      expect(p.size).toBe(10);
      expect((await store.readBuffer('date=1/a.csv')).toString()).toBe('old\n');
      expect((await store.stat('date=1/a.csv')).generation).toBe(old.generation);
      const w = await p.commit();
      expect(w.generation).toBe(p.generation);
      expect((await store.readBuffer('date=1/a.csv')).toString()).toBe('new bytes\n');
      expect((await store.stat('date=1/a.csv')).generation).toBe(p.generation);
      // Once: a second commit is refused and changes nothing.
      await rejectionOf(p.commit(), StorageError);
      expect(readdirSync(join(dir, '.ttsync-internal', 'tmp'))).toEqual([]);
    });

    it('an abort leaves the object and no stored bytes; a commit after another writer is refused', async () => {
      const dir = freshDir();
      const store = openBlobStore(dir);
      const old = await store.write('k', 'old');
      const dropped = await store.prepareIfGeneration!('k', 'x', old.generation);
      await dropped.abort();
      expect((await store.readBuffer('k')).toString()).toBe('old');
      expect(readdirSync(join(dir, '.ttsync-internal', 'tmp'))).toEqual([]);
      const late = await store.prepareIfGeneration!('k', 'late', old.generation);
      await store.write('k', 'other');
      const err = await rejectionOf(late.commit(), StorageError);
      expect(err).toMatchObject({ code: 'precondition_failed' });
      expect((await store.readBuffer('k')).toString()).toBe('other');
      // Several prepared at once, published in any order, each whole.
      const a = await store.write('a', '1');
      const b = await store.write('b', '2');
      const pa = await store.prepareIfGeneration!('a', 'one', a.generation);
      const pb = await store.prepareIfGeneration!('b', 'two', b.generation);
      await pb.commit();
      expect((await store.readBuffer('a')).toString()).toBe('1');
      await pa.commit();
      expect([(await store.readBuffer('a')).toString(), (await store.readBuffer('b')).toString()]).toEqual(['one', 'two']);
    });
  });
});
