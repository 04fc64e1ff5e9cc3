import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, StorageError, readAll, type BlobStore } from '../../../src/storage';
import { rejectionOf } from '../../helpers/rejection';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

async function keysOf(store: BlobStore, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

/**
 * The behaviour every BlobStore adapter must share. `fresh()` returns an empty store
 * (its own folder or bucket prefix) for each test.
 */
export function blobStoreContract(name: string, fresh: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    it('writes a buffer and reads back the same bytes, size, MD5 and a generation', async () => {
      const store = await fresh();
      const body = Buffer.from('a@example.com\nb@example.com\n');
      const before = Date.now();
      const w = await store.write('dir/one.csv', body, { contentType: 'text/csv' });
      expect(w).toMatchObject({ key: 'dir/one.csv', size: body.length, md5: md5(body) });
      expect(w.generation).toMatch(/^[1-9]\d*$/);
      expect(await store.readBuffer('dir/one.csv')).toEqual(body);
      const st = await store.stat('dir/one.csv');
      expect(st.key).toBe('dir/one.csv');
      expect(st.size).toBe(body.length);
      expect(st.generation).toBe(w.generation);
      if (st.md5 !== undefined) expect(st.md5).toBe(md5(body));
      expect(await store.md5Of('dir/one.csv')).toBe(md5(body));
      expect(Math.abs(st.updated.getTime() - before)).toBeLessThan(60_000);
      expect(Math.abs(st.created.getTime() - before)).toBeLessThan(60_000);
      expect(await store.exists('dir/one.csv')).toBe(true);
      expect(store.uriOf('dir/one.csv').startsWith(store.uri)).toBe(true);
    });

    it('writes from a stream of many chunks, counting and hashing what passed', async () => {
      const store = await fresh();
      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`row-${i},${'x'.repeat(i % 17)}\n`));
      const all = Buffer.concat(chunks);
      const w = await store.write('stream.csv', Readable.from(chunks));
      expect(w.size).toBe(all.length);
      expect(w.md5).toBe(md5(all));
      expect(await store.readBuffer('stream.csv')).toEqual(all);
      // Async iterables of strings are sources too (e.g. a generator of CSV lines).
      async function* lines(): AsyncGenerator<string> {
        yield 'h\n';
        yield 'ü\n';
      }
      const w2 = await store.write('gen.csv', lines());
      expect(w2).toMatchObject({ size: Buffer.byteLength('h\nü\n'), md5: md5('h\nü\n') });
    });

    it('stores a source that recycles one buffer for every chunk as sent, when told so (reusesChunks)', async () => {
      const store = await fresh();
      async function* recycled(data: Buffer): AsyncGenerator<Buffer> {
        const buf = Buffer.alloc(4096);
        for (let i = 0; i < data.length; i += buf.length) yield buf.subarray(0, data.copy(buf, 0, i, Math.min(i + buf.length, data.length)));
      }
      const first = randomBytes(300_000);
      const w = await store.write('recycled.bin', recycled(first), { reusesChunks: true });
      expect(w.size).toBe(first.length);
      expect((await store.readBuffer('recycled.bin')).equals(first)).toBe(true);
      const second = randomBytes(200_000);
      await store.writeIfGeneration('recycled.bin', recycled(second), w.generation, { reusesChunks: true, md5: false });
      expect((await store.readBuffer('recycled.bin')).equals(second)).toBe(true);
    });

    it('reads into the caller\'s buffer where the store offers it (openReader), and says not_found before any byte', async () => {
      const store = await fresh();
      if (!store.openReader) return;
      const body = randomBytes(100_000);
      await store.write('reader.bin', body);
      const reader = await store.openReader('reader.bin');
      const into = Buffer.alloc(30_000);
      const got: Buffer[] = [];
      // Each read lands after a kept prefix, as a caller that holds an unfinished record does.
      for (let n = await reader.read(into, 7); n > 0; n = await reader.read(into, 7)) got.push(Buffer.from(into.subarray(7, 7 + n)));
      await reader.close();
      expect(Buffer.concat(got).equals(body)).toBe(true);
      // From a start on, a range bounded by the room given: the bytes at that place of the object.
      const ranged = await store.openReader('reader.bin', 54_321);
      const room = Buffer.alloc(20_000);
      let filled = 0;
      for (let n = -1; n !== 0 && filled < room.length; filled += n) n = await ranged.read(room, filled);
      expect(await ranged.read(Buffer.alloc(10), 0)).toBe(10);
      await ranged.close();
      expect(room.equals(body.subarray(54_321, 74_321))).toBe(true);
      // Positional reads, where offered: any place, in any order, without moving the sequential read.
      const positional = await store.openReader('reader.bin', 10);
      if (positional.readAt) {
        const at = Buffer.alloc(64);
        expect(await positional.readAt(at, 4, 50, 90_000)).toBe(50);
        expect(at.subarray(4, 54).equals(body.subarray(90_000, 90_050))).toBe(true);
        expect(await positional.readAt(at, 0, 64, 99_990)).toBe(10);
        expect(at.subarray(0, 10).equals(body.subarray(99_990))).toBe(true);
        expect(await positional.readAt(at, 0, 64, 100_000)).toBe(0);
        const next = Buffer.alloc(5);
        expect(await positional.read(next, 0)).toBe(5);
        expect(next.equals(body.subarray(10, 15))).toBe(true);
      }
      await positional.close();
      expect(await rejectionOf(store.openReader('missing.bin'), StorageError)).toMatchObject({ code: 'not_found' });
    });

    it('clones a generation of another store\'s object without reading it (cloneFrom), and answers null when it cannot', async () => {
      const source = await fresh();
      const store = await fresh();
      // Both adapters offer it: the row index's lines object is a clone of the snapshot read.
      expect(typeof store.cloneFrom).toBe('function');
      const body = randomBytes(70_000);
      const w = await source.write('in/snapshot.csv', body);
      const c = await store.cloneFrom!(source, 'in/snapshot.csv', w.generation, 'run/lines');
      expect(c).toMatchObject({ key: 'run/lines', size: body.length });
      expect(await store.readBuffer('run/lines')).toEqual(body);
      expect((await store.stat('run/lines')).generation).toBe(c!.generation);
      // The source replaced: its old generation is no longer there to clone, and nothing is stored.
      const newer = Buffer.from('email\nnew@example.com\n');
      const replaced = await source.write('in/snapshot.csv', newer);
      expect(replaced.generation).not.toBe(w.generation);
      expect(await store.cloneFrom!(source, 'in/snapshot.csv', w.generation, 'run/lines2')).toBeNull();
      expect(await store.exists('run/lines2')).toBe(false);
      // A clone made before keeps the bytes it was made of.
      expect(await store.readBuffer('run/lines')).toEqual(body);
      // The current generation clones; a missing source, or a store of another kind, does not.
      expect(await store.cloneFrom!(source, 'in/snapshot.csv', replaced.generation, 'run/lines3')).toMatchObject({ size: newer.length });
      expect(await store.readBuffer('run/lines3')).toEqual(newer);
      expect(await store.cloneFrom!(source, 'in/missing.csv', replaced.generation, 'run/lines4')).toBeNull();
      const otherKind = { ...source, uri: 'mem://elsewhere/' } as BlobStore;
      expect(await store.cloneFrom!(otherKind, 'in/snapshot.csv', replaced.generation, 'run/lines5')).toBeNull();
      expect(await store.exists('run/lines4')).toBe(false);
      expect(await store.exists('run/lines5')).toBe(false);
    });

    it('keeps the previous object when the source fails mid-write (simple and resumable)', async () => {
      const store = await fresh();
      await store.write('out/file.csv', 'old complete content');
      for (const resumable of [undefined, true]) {
        async function* failing(): AsyncGenerator<Buffer> {
          yield Buffer.from('new partial ');
          yield Buffer.alloc(300 * 1024, 0x61);
          throw new Error('source broke');
        }
        const err = await rejectionOf(store.write('out/file.csv', Readable.from(failing()), resumable ? { resumable } : {}), StorageError);
        expect(err.message).toContain('source broke');
        expect((await store.readBuffer('out/file.csv')).toString()).toBe('old complete content');
      }
      expect(await keysOf(store)).toEqual(['out/file.csv']);
    });

    it('skips the MD5 only when asked to (md5: false) and a store has none of its own; the bytes are the same', async () => {
      const store = await fresh();
      const body = Buffer.from('a,b\n1,2\n');
      const w = await store.write('dir/nomd5.csv', body, { md5: false });
      expect(w.size).toBe(body.length);
      expect(['', md5(body)]).toContain(w.md5);
      expect(await store.readBuffer('dir/nomd5.csv')).toEqual(body);
      expect(await store.md5Of('dir/nomd5.csv')).toBe(md5(body));
      expect((await store.write('dir/withmd5.csv', body)).md5).toBe(md5(body));
    });

    it('stores an empty object', async () => {
      const store = await fresh();
      const w = await store.write('empty.txt', Buffer.alloc(0));
      expect(w).toMatchObject({ size: 0, md5: md5('') });
      expect((await store.stat('empty.txt')).size).toBe(0);
      expect(await store.readBuffer('empty.txt')).toEqual(Buffer.alloc(0));
    });

    it('overwrites: readers get the new bytes and the generation changes', async () => {
      const store = await fresh();
      const a = await store.write('k', 'first version');
      const b = await store.write('k', 'second');
      expect(b.generation).not.toBe(a.generation);
      expect((await store.readBuffer('k')).toString()).toBe('second');
      expect((await store.stat('k')).generation).toBe(b.generation);
    });

    it('reads a byte range (end inclusive) so a consumer can resume', async () => {
      const store = await fresh();
      const body = randomBytes(4096);
      await store.write('bin', body);
      expect(await readAll(await store.openRead('bin', { start: 100, end: 199 }))).toEqual(body.subarray(100, 200));
      expect(await readAll(await store.openRead('bin', { start: 4000 }))).toEqual(body.subarray(4000));
      expect(await readAll(await store.openRead('bin', { start: 0, end: 0 }))).toEqual(body.subarray(0, 1));
    });

    it('reports a missing object as not_found on every operation', async () => {
      const store = await fresh();
      const calls = [() => store.openRead('nope/x.csv'), () => store.readBuffer('nope/x.csv'), () => store.stat('nope/x.csv'), () => store.md5Of('nope/x.csv'), () => store.delete('nope/x.csv')];
      for (const call of calls) {
        const err = await rejectionOf(call(), StorageError);
        expect(err.code).toBe('not_found');
        expect(err.message).toContain('nope/x.csv');
        expect(err.retryable).toBe(false);
      }
      expect(await store.exists('nope/x.csv')).toBe(false);
      await store.delete('nope/x.csv', { ignoreNotFound: true });
    });

    it('deletes', async () => {
      const store = await fresh();
      await store.write('d/x', 'x');
      await store.delete('d/x');
      expect(await store.exists('d/x')).toBe(false);
      expect(await keysOf(store)).toEqual([]);
    });

    it('lists by plain string prefix, sorted by key, with sizes and generations', async () => {
      const store = await fresh();
      const keys = ['shards/00', 'shards/0a/part-1', 'shards/0a/part-2', 'shards/10', 'shards-old/00', 'shardsX', 'a.txt', 'dir/ñ file.csv'];
      for (const k of keys) await store.write(k, `content of ${k}`);
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(await keysOf(store)).toEqual(sorted);
      expect(await keysOf(store, 'shards/0')).toEqual(['shards/00', 'shards/0a/part-1', 'shards/0a/part-2']);
      expect(await keysOf(store, 'shards/')).toEqual(['shards/00', 'shards/0a/part-1', 'shards/0a/part-2', 'shards/10']);
      expect(await keysOf(store, 'shards')).toEqual(['shards-old/00', 'shards/00', 'shards/0a/part-1', 'shards/0a/part-2', 'shards/10', 'shardsX']);
      expect(await keysOf(store, 'missing/')).toEqual([]);
      for await (const info of store.list('dir/')) {
        expect(info.size).toBe(Buffer.byteLength('content of dir/ñ file.csv'));
        expect(info.generation).toBe((await store.stat(info.key)).generation);
      }
      expect((await store.readBuffer('dir/ñ file.csv')).toString()).toBe('content of dir/ñ file.csv');
    });

    it('refuses keys that escape the store or are not object names', async () => {
      const store = await fresh();
      for (const key of ['../x', 'a/../../x', '/abs', 'a//b', 'dir/', '', 'a\\b', './x']) {
        const err = await rejectionOf(store.write(key, 'x'), StorageError);
        expect(err.code, key).toBe('invalid_key');
      }
    });

    describe('writeIfGeneration (compare-and-swap for the applied-state pointer)', () => {
      it('creates only when absent, then swaps only from the current generation', async () => {
        const store = await fresh();
        const g1 = await store.writeIfGeneration('state/pointer.json', '{"v":1}', ABSENT_GENERATION);
        expect(g1.md5).toBe(md5('{"v":1}'));
        expect((await store.stat('state/pointer.json')).generation).toBe(g1.generation);

        const again = await rejectionOf(store.writeIfGeneration('state/pointer.json', '{"v":"other"}', ABSENT_GENERATION), StorageError);
        expect(again.code).toBe('precondition_failed');
        expect(again.message).toContain(`generation ${g1.generation}`);

        const g2 = await store.writeIfGeneration('state/pointer.json', '{"v":2}', g1.generation);
        expect(g2.generation).not.toBe(g1.generation);
        expect((await store.readBuffer('state/pointer.json')).toString()).toBe('{"v":2}');

        // A writer still holding g1 loses and changes nothing.
        const stale = await rejectionOf(store.writeIfGeneration('state/pointer.json', '{"v":"zombie"}', g1.generation), StorageError);
        expect(stale.code).toBe('precondition_failed');
        expect(stale.retryable).toBe(false);
        expect((await store.readBuffer('state/pointer.json')).toString()).toBe('{"v":2}');
        expect((await store.stat('state/pointer.json')).generation).toBe(g2.generation);
      });

      it('fails a second writer from the same generation even with the same bytes', async () => {
        const store = await fresh();
        const g1 = await store.writeIfGeneration('p', 'one', ABSENT_GENERATION);
        await store.writeIfGeneration('p', 'two', g1.generation);
        expect((await rejectionOf(store.writeIfGeneration('p', 'two', g1.generation), StorageError)).code).toBe('precondition_failed');
        expect((await rejectionOf(store.writeIfGeneration('p', 'one', ABSENT_GENERATION), StorageError)).code).toBe('precondition_failed');
      });

      it('takes a stream, and publishes nothing when the stream throws instead of ending', async () => {
        const store = await fresh();
        const g1 = await store.writeIfGeneration('big', 'old', ABSENT_GENERATION);
        const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(16 * 1024, 97 + (i % 26)));
        async function* stream(fail: boolean): AsyncGenerator<Buffer> {
          for (const p of parts) yield p;
          if (fail) throw new Error('the check before the end failed');
        }
        const err = await store.writeIfGeneration('big', stream(true), g1.generation).catch((e: unknown) => e);
        expect(String((err as Error).message) + String((err as { cause?: Error }).cause?.message)).toContain('the check before the end failed');
        expect((await store.readBuffer('big')).toString()).toBe('old');
        expect((await store.stat('big')).generation).toBe(g1.generation);
        const g2 = await store.writeIfGeneration('big', stream(false), g1.generation);
        expect(g2.size).toBe(40 * 16 * 1024);
        expect((await store.readBuffer('big')).equals(Buffer.concat(parts))).toBe(true);
        // A stale generation loses with a stream as with a buffer.
        expect((await rejectionOf(store.writeIfGeneration('big', stream(false), g1.generation), StorageError)).code).toBe('precondition_failed');
        expect(await keysOf(store)).toEqual(['big']);
      });

      it('fails when the object it expects is gone', async () => {
        const store = await fresh();
        const g1 = await store.writeIfGeneration('p', 'one', ABSENT_GENERATION);
        await store.delete('p');
        const err = await rejectionOf(store.writeIfGeneration('p', 'two', g1.generation), StorageError);
        expect(err.code).toBe('precondition_failed');
        expect(err.message).toContain('no longer exists');
      });

      it('lets exactly one of several concurrent writers from the same generation win', async () => {
        const store = await fresh();
        const g1 = await store.writeIfGeneration('p', 'base', ABSENT_GENERATION);
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.writeIfGeneration('p', `writer-${i}`, g1.generation)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as StorageError).code).toBe('precondition_failed');
        expect((await store.readBuffer('p')).toString()).toBe(`writer-${won[0]}`);
        expect(await keysOf(store)).toEqual(['p']);
      });

      it('is linearizable: concurrent read-increment-swap loops lose no update', async () => {
        const store = await fresh();
        await store.writeIfGeneration('counter', '0', ABSENT_GENERATION);
        const workers = 6;
        const perWorker = 15;
        let conflicts = 0;
        const seen = new Set<string>();
        await Promise.all(
          Array.from({ length: workers }, async () => {
            for (let done = 0; done < perWorker; ) {
              const { generation } = await store.stat('counter');
              const value = Number((await store.readBuffer('counter')).toString());
              try {
                const w = await store.writeIfGeneration('counter', String(value + 1), generation);
                expect(seen.has(w.generation), 'a generation was handed out twice').toBe(false);
                seen.add(w.generation);
                done++;
              } catch (err) {
                if (!(err instanceof StorageError && err.code === 'precondition_failed')) throw err;
                conflicts++;
              }
            }
          }),
        );
        expect(Number((await store.readBuffer('counter')).toString())).toBe(workers * perWorker);
        expect(seen.size).toBe(workers * perWorker);
        expect(conflicts).toBeGreaterThan(0); // the loops really did race
      });

      it('refuses a generation that is not a number', async () => {
        const store = await fresh();
        expect((await rejectionOf(store.writeIfGeneration('p', 'x', 'latest'), StorageError)).code).toBe('precondition_failed');
      });
    });
  });
}
