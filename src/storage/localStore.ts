import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { link, mkdir, open, opendir, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { BlobInfo, BlobStore, ReadRange, WriteOptions, WriteResult, WriteSource } from './blobStore';
import { ABSENT_GENERATION } from './blobStore';
import { ByteTally, chunksOf, md5Hex, md5OfStream, readAll } from './bytes';
import { StorageError } from './errors';
import { checkKey, checkPrefix, INTERNAL_SEGMENT } from './keys';

/*
 * Generations. GCS gives every write a new generation (a microsecond timestamp). Here the
 * generation is the file's mtime in microseconds, and every write sets the mtime of its
 * temporary file explicitly to a value that only grows within the process and is above
 * the generation it replaces, before the rename publishes it. A rename keeps the mtime, so
 * the generation is fixed the moment the bytes become visible and needs no side file that
 * could disagree with the data. (Filesystems with coarse timestamps make generations less
 * unique; ext4, xfs, btrfs and tmpfs keep nanoseconds.)
 */
let lastGeneration = 0n;

function nextGeneration(above: bigint = 0n): bigint {
  const nowMicros = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  let g = nowMicros > lastGeneration ? nowMicros : lastGeneration + 1n;
  if (g <= above) g = above + 1n;
  lastGeneration = g;
  return g;
}

function generationOf(st: BigIntStats): string {
  return ((st.mtimeNs + 500n) / 1000n).toString();
}

const TEMP_MAX_AGE_MS = 24 * 3_600_000;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * The local-folder adapter: the embedded default, one machine (or a shared POSIX mount).
 * Writes go to a temporary file in the store's internal folder, are fsynced, then renamed
 * into place, so readers never see a partial object and a crash leaves only a temp file.
 */
export class LocalBlobStore implements BlobStore {
  readonly uri: string;
  private readonly internalDir: string;
  private swept = false;

  constructor(readonly root: string) {
    this.uri = pathToFileURL(root).href.replace(/\/?$/, '/');
    this.internalDir = join(root, INTERNAL_SEGMENT);
  }

  uriOf(key: string): string {
    return this.uri + key.split('/').map(encodeURIComponent).join('/');
  }

  private pathOf(key: string): string {
    return join(this.root, checkKey(key, this.uri));
  }

  private fail(err: unknown, key: string, action: string): StorageError {
    if (err instanceof StorageError) return err;
    const uri = this.uriOf(key);
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')
      return new StorageError('not_found', `no object at ${uri}`, { uri, cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      return new StorageError('permission', `not allowed to ${action} ${uri} (${code})`, { uri, cause: err });
    if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY')
      return new StorageError('unavailable', `cannot ${action} ${uri}: ${code}`, { uri, cause: err });
    return new StorageError('io', `cannot ${action} ${uri}: ${(err as Error).message}`, { uri, cause: err });
  }

  async openRead(key: string, range: ReadRange = {}): Promise<Readable> {
    const path = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
      // open() succeeds on a directory; reading it would fail later with EISDIR.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      }
    } catch (err) {
      throw this.fail(err, key, 'read');
    }
    const source = createReadStream('', { fd: handle, start: range.start, end: range.end });
    // Read errors after opening (EIO, a vanished mount) surface as StorageError too.
    const out = new PassThrough();
    source.once('error', (err) => out.destroy(this.fail(err, key, 'read')));
    out.once('close', () => source.destroy());
    return source.pipe(out);
  }

  async readBuffer(key: string): Promise<Buffer> {
    return readAll(await this.openRead(key));
  }

  /** Writes `data` to a fresh temporary file with generation > `above`; returns its path. */
  private async writeTemp(key: string, data: WriteSource, above: bigint): Promise<{ tmp: string; size: number; md5: string; generation: string }> {
    if (!this.swept) {
      this.swept = true;
      await this.sweepTemp();
    }
    const tmp = join(this.internalDir, 'tmp', `${Date.now()}-${process.pid}-${randomBytes(6).toString('hex')}`);
    let handle: FileHandle | undefined;
    try {
      await mkdir(dirname(tmp), { recursive: true });
      handle = await open(tmp, 'wx');
      const tally = new ByteTally();
      for await (const chunk of chunksOf(data)) {
        tally.add(chunk);
        let offset = 0;
        while (offset < chunk.length) offset += (await handle.write(chunk, offset)).bytesWritten;
      }
      const gen = nextGeneration(above);
      const seconds = Number(gen) / 1e6;
      await handle.utimes(seconds, seconds);
      // The data must be on disk before the rename makes it the object.
      await handle.sync();
      const st = await handle.stat({ bigint: true });
      await handle.close();
      handle = undefined;
      return { tmp, size: tally.size, md5: tally.md5Hex(), generation: generationOf(st) };
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw this.fail(err, key, 'write');
    }
  }

  /**
   * A worker killed mid-write leaves its temp file behind (never a partial object). The
   * first write of each store removes temp files older than a day: no write lasts that long.
   */
  private async sweepTemp(): Promise<void> {
    const dir = join(this.internalDir, 'tmp');
    const names = await readdir(dir).catch(() => [] as string[]);
    const cutoff = Date.now() - TEMP_MAX_AGE_MS;
    for (const name of names) {
      const born = Number(name.split('-')[0]);
      if (Number.isFinite(born) && born < cutoff) await unlink(join(dir, name)).catch(() => undefined);
    }
  }

  private async publish(tmp: string, path: string, key: string): Promise<void> {
    try {
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      const code = errnoOf(err);
      if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOTEMPTY')
        throw new StorageError(
          'invalid_key',
          `cannot write ${this.uriOf(key)}: a local folder cannot hold an object and a folder of the same name (${code})`,
          { uri: this.uriOf(key), cause: err },
        );
      throw this.fail(err, key, 'write');
    }
    await this.syncDir(dirname(path));
  }

  /** Makes the rename itself durable (POSIX persists directory entries with the directory). */
  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r').catch(() => undefined);
    if (!handle) return;
    await handle.sync().catch(() => undefined);
    await handle.close().catch(() => undefined);
  }

  async write(key: string, data: WriteSource, _options: WriteOptions = {}): Promise<WriteResult> {
    const path = this.pathOf(key);
    const t = await this.writeTemp(key, data, 0n);
    await this.publish(t.tmp, path, key);
    return { key, size: t.size, md5: t.md5, generation: t.generation };
  }

  private async currentGeneration(path: string): Promise<string | undefined> {
    try {
      const st = await stat(path, { bigint: true });
      return st.isFile() ? generationOf(st) : undefined;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  /*
   * WHY a lock-free claim-and-rename scheme instead of a lock file: POSIX has no
   * "rename if the target is still X", and Node exposes no renameat2(RENAME_NOREPLACE). A
   * lock file needs a staleness rule for crashed holders, and breaking a stale lock races
   * with a live one. Here the only exclusive step is link(2), which atomically creates a
   * name or fails with EEXIST:
   *   1. the new bytes go to a temp file (generation above the expected one);
   *   2. link it to the claim name `cas/<hash(key)>.<expected>`: at most one writer can
   *      claim the transition away from a given generation;
   *   3. if the object is still at the expected generation, rename the claim over it.
   * A writer that finds the claim taken while the object is still at the expected
   * generation completes that transition itself (rename is idempotent for everyone holding
   * the same claim), so a writer that crashed between 2 and 3 never blocks the key, and
   * nothing needs a timeout. The loser reports precondition_failed. "Must not exist"
   * (ABSENT_GENERATION) is a plain link(2) onto the object's name.
   * Generations only grow, so a claim for a generation the object has left is garbage and
   * may be removed by anyone. Plain `write` on a key that is also CAS-managed bypasses all
   * this; the manifest pointer is written only through writeIfGeneration.
   */
  async writeIfGeneration(key: string, data: Buffer | string, expectedGeneration: string, _options: Omit<WriteOptions, 'resumable'> = {}): Promise<WriteResult> {
    if (!/^\d+$/.test(expectedGeneration))
      throw new StorageError('precondition_failed', `cannot write ${this.uriOf(key)}: expected generation ${JSON.stringify(expectedGeneration)} is not a generation`, { uri: this.uriOf(key) });
    const path = this.pathOf(key);
    const expected = BigInt(expectedGeneration);
    const t = await this.writeTemp(key, data, expected);
    const result: WriteResult = { key, size: t.size, md5: t.md5, generation: t.generation };
    try {
      if (expectedGeneration === ABSENT_GENERATION) {
        await mkdir(dirname(path), { recursive: true });
        try {
          await link(t.tmp, path);
        } catch (err) {
          if (errnoOf(err) === 'EEXIST') return await this.lostRace(key, path, data, undefined);
          throw err;
        }
        await this.syncDir(dirname(path));
        return result;
      }
      const claim = join(this.internalDir, 'cas', `${createHash('sha256').update(key).digest('hex')}.${expectedGeneration}`);
      await mkdir(dirname(claim), { recursive: true });
      try {
        await link(t.tmp, claim);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
        return await this.lostRace(key, path, data, { claim, expected: expectedGeneration });
      }
      const current = await this.currentGeneration(path);
      if (current === t.generation) return result; // another writer completed our claim
      if (current !== expectedGeneration) {
        await unlink(claim).catch(() => undefined);
        return await this.lostRace(key, path, data, undefined);
      }
      try {
        await rename(claim, path);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
        // Someone completed our claim before we did, or it was removed as garbage.
        if ((await this.currentGeneration(path)) === t.generation) return result;
        return await this.lostRace(key, path, data, undefined);
      }
      await this.syncDir(dirname(path));
      return result;
    } catch (err) {
      throw this.fail(err, key, 'write');
    } finally {
      await unlink(t.tmp).catch(() => undefined);
    }
  }

  /** The compare-and-swap did not apply our bytes: complete a pending transition, then decide. */
  private async lostRace(key: string, path: string, data: Buffer | string, pending: { claim: string; expected: string } | undefined): Promise<WriteResult> {
    if (pending) {
      const current = await this.currentGeneration(path);
      if (current === pending.expected) {
        await rename(pending.claim, path).catch((err: unknown) => {
          if (errnoOf(err) !== 'ENOENT') throw err;
        });
      } else {
        await unlink(pending.claim).catch(() => undefined);
      }
    }
    return this.alreadyHolds(key, data);
  }

  /** Idempotency rule shared with the GCS adapter: identical bytes already there count as success. */
  private async alreadyHolds(key: string, data: Buffer | string): Promise<WriteResult> {
    const wanted = md5Hex(data);
    let info: BlobInfo | undefined;
    try {
      info = await this.stat(key);
      if (info.size === Buffer.byteLength(data) && (await this.md5Of(key)) === wanted)
        return { key, size: info.size, md5: wanted, generation: info.generation };
    } catch (err) {
      if (!(err instanceof StorageError && err.code === 'not_found')) throw err;
    }
    throw new StorageError(
      'precondition_failed',
      `${this.uriOf(key)} changed: ${info ? `it is now at generation ${info.generation}` : 'it no longer exists'}`,
      { uri: this.uriOf(key) },
    );
  }

  async stat(key: string): Promise<BlobInfo> {
    const path = this.pathOf(key);
    let st: BigIntStats;
    try {
      st = await stat(path, { bigint: true });
    } catch (err) {
      throw this.fail(err, key, 'stat');
    }
    if (!st.isFile()) throw new StorageError('not_found', `no object at ${this.uriOf(key)} (it is a folder)`, { uri: this.uriOf(key) });
    return infoOf(key, st);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.stat(key);
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.code === 'not_found') return false;
      throw err;
    }
  }

  async md5Of(key: string): Promise<string> {
    return md5OfStream(await this.openRead(key));
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    checkPrefix(prefix, this.uri);
    // Walk only the deepest folder the prefix fully names; GCS prefixes are plain strings.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash === -1 ? '' : prefix.slice(0, slash);
    yield* this.walk(baseKey, prefix);
  }

  private async *walk(dirKey: string, prefix: string): AsyncGenerator<BlobInfo> {
    const dirPath = dirKey === '' ? this.root : join(this.root, dirKey);
    let names: { name: string; isDir: boolean; isFile: boolean }[];
    try {
      const dir = await opendir(dirPath);
      names = [];
      for await (const d of dir) names.push({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile() });
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return;
      throw this.fail(err, dirKey || '.', 'list');
    }
    // Sorted by full key, like GCS: compare "a/" + rest with "a-b" by the key strings.
    const entries = names
      .filter((e) => e.name !== INTERNAL_SEGMENT && (e.isDir || e.isFile))
      .map((e) => ({ ...e, key: dirKey === '' ? e.name : `${dirKey}/${e.name}` }))
      .sort((a, b) => cmp(a.isDir ? `${a.key}/` : a.key, b.isDir ? `${b.key}/` : b.key));
    for (const e of entries) {
      if (e.isDir) {
        const asPrefix = `${e.key}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix)) yield* this.walk(e.key, prefix);
      } else if (e.key.startsWith(prefix)) {
        try {
          yield infoOf(e.key, await stat(join(this.root, e.key), { bigint: true }));
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw this.fail(err, e.key, 'list');
        }
      }
    }
  }

  async delete(key: string, options: { ignoreNotFound?: boolean } = {}): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      const mapped = this.fail(err, key, 'delete');
      if (mapped.code === 'not_found' && options.ignoreNotFound) return;
      throw mapped;
    }
  }
}

function cmp(a: string, b: string): number {
  // Code-unit order of UTF-8 bytes equals code point order; GCS lists by UTF-8 bytes.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function infoOf(key: string, st: BigIntStats): BlobInfo {
  const updated = new Date(Number(st.mtimeMs));
  const birth = Number(st.birthtimeMs);
  return {
    key,
    size: Number(st.size),
    md5: undefined,
    updated,
    created: birth > 0 ? new Date(birth) : updated,
    generation: generationOf(st),
  };
}
