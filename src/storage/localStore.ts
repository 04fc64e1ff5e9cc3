import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { mkdir, open, readdir, readFile, rmdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { BlobInfo, BlobReader, BlobStore, PreparedWrite, ReadRange, WriteOptions, WriteResult, WriteSource } from './blobStore';
import { ABSENT_GENERATION } from './blobStore';
import { ByteTally, chunksOf, md5OfStream } from './bytes';
import { fstat, futimes, link, rename, stat, syncFolder, unlink } from './fileMeta';
import { StorageError, existsByStat } from './errors';
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

/**
 * Seconds for utimes(). libuv truncates the value to whole microseconds, and a double near
 * 1.8e9 s carries ±0.12 µs of error, so aim at the middle of the microsecond: truncation
 * then lands exactly on `gen`.
 */
export function secondsOf(gen: bigint): number {
  return (Number(gen) + 0.5) / 1e6;
}

function generationOf(st: BigIntStats): string {
  return ((st.mtimeNs + 500n) / 1000n).toString();
}

/**
 * Temporary and pending names need only be unique among writers: a random part drawn once
 * per process, and a counter. A random draw per name cost a few microseconds per object
 * written (retention writes hundreds of small objects per run).
 */
const PROCESS_NONCE = randomBytes(6).toString('hex');
let nameCounter = 0;
function uniqueSuffix(): string {
  return `${PROCESS_NONCE}${(++nameCounter).toString(36)}`;
}

/** How often a write retries a folder that a concurrent delete removed under it. */
const PUBLISH_ATTEMPTS = 6;
const INTERNAL_MAX_AGE_MS = 24 * 3_600_000;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/*
 * Objects hold raw or hashed identifiers (snapshot copies, rejects, spill, shards, customer
 * files): only the worker's user may read them. Modes are set at creation (the umask can only
 * narrow them); folders that existed before keep theirs.
 */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Chunks and bytes gathered into one writev (IOV_MAX is 1024 on Linux). */
const WRITEV_CHUNKS = 256;
const WRITEV_BYTES = 1 << 20;

/**
 * The local-folder adapter: the embedded default, one machine (or a shared POSIX mount).
 * Writes go to a temporary file in the store's internal folder, are fsynced, then renamed
 * into place, so readers never see a partial object and a crash leaves only a temp file.
 */
export class LocalBlobStore implements BlobStore {
  readonly uri: string;
  private readonly internalDir: string;
  private swept = false;
  /** Internal folders created by this instance (a write then skips its mkdir; sweeps remove files, never these folders). */
  private readonly madeDirs = new Set<string>();

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
    let size: number;
    try {
      handle = await open(path, 'r');
      // open() succeeds on a directory; reading it would fail later with EISDIR.
      const st = await fstat(handle);
      if (!st.isFile()) {
        await handle.close();
        throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      }
      size = st.size;
    } catch (err) {
      throw this.fail(err, key, 'read');
    }
    // Chunks sized to the read: a bounded range (the data plane's list reads) in one chunk of
    // up to 16 MiB instead of 64 KiB pieces its reader concatenates, a whole object in chunks
    // of up to 1 MiB (the snapshot reader's pieces). Fewer, larger buffers: V8 runs a full GC
    // per ~64 MiB of buffers allocated, and a 1M-row prepare spent 10% more CPU on 64 KiB chunks.
    const span = (range.end ?? size - 1) - (range.start ?? 0) + 1;
    const highWaterMark = Math.max(65536, Math.min(span, range.end !== undefined ? 16 << 20 : 1 << 20));
    const source = createReadStream('', { fd: handle, start: range.start, end: range.end, highWaterMark });
    // Read errors after opening (EIO, a vanished mount) surface as StorageError too.
    const out = new PassThrough();
    source.once('error', (err) => out.destroy(this.fail(err, key, 'read')));
    out.once('close', () => source.destroy());
    return source.pipe(out);
  }

  async openReader(key: string, start = 0): Promise<BlobReader> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
      const st = await fstat(handle);
      if (!st.isFile()) {
        await handle.close();
        throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      }
    } catch (err) {
      throw this.fail(err, key, 'read');
    }
    let position = start;
    return {
      read: async (into, offset) => {
        try {
          const { bytesRead } = await handle.read(into, offset, into.length - offset, position);
          position += bytesRead;
          return bytesRead;
        } catch (err) {
          throw this.fail(err, key, 'read');
        }
      },
      readAt: async (into, offset, length, at) => {
        try {
          return (await handle.read(into, offset, length, at)).bytesRead;
        } catch (err) {
          throw this.fail(err, key, 'read');
        }
      },
      close: () => handle.close(),
    };
  }

  async readBuffer(key: string): Promise<Buffer> {
    // One call instead of a stream: progress records and pointers are read by the thousand.
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw this.fail(err, key, 'read');
    }
  }

  /** mkdir -p of an internal folder, once per instance. */
  private async ensureInternalDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    this.madeDirs.add(dir);
  }

  /** Writes `data` to a fresh temporary file with generation > `above`; returns its path. */
  private async writeTemp(key: string, data: WriteSource, above: bigint, md5 = true, reusesChunks = false): Promise<{ tmp: string; size: number; md5: string; generation: string }> {
    if (!this.swept) {
      this.swept = true;
      await this.sweepInternal();
    }
    const tmp = this.tempPath();
    let handle: FileHandle | undefined;
    try {
      await this.ensureInternalDir(dirname(tmp));
      handle = await open(tmp, 'wx', FILE_MODE).catch(async (err: unknown) => {
        // The folder was removed under us (by hand): make it again, once.
        if (errnoOf(err) !== 'ENOENT') throw err;
        this.madeDirs.delete(dirname(tmp));
        await this.ensureInternalDir(dirname(tmp));
        return open(tmp, 'wx', FILE_MODE);
      });
      const tally = md5 ? new ByteTally() : null;
      let size = 0;
      // Small chunks (a spill part is thousands of 16 KiB slot chunks, a diff step hundreds
      // of lists) go to the file several per writev: a thread-pool round trip per chunk
      // cost more than the bytes. A source that reuses its chunks gets each written first.
      const held: Buffer[] = [];
      let heldBytes = 0;
      const out = handle;
      const writeHeld = async (): Promise<void> => {
        let skip = 0;
        while (heldBytes > 0) {
          let n = (await out.writev(skip ? [held[0]!.subarray(skip), ...held.slice(1)] : held)).bytesWritten;
          heldBytes -= n;
          // A short write: drop what went out and send the rest.
          n += skip;
          skip = 0;
          while (held.length && n >= held[0]!.length) n -= held.shift()!.length;
          skip = n;
        }
        held.length = 0;
      };
      for await (const chunk of chunksOf(data)) {
        tally?.add(chunk);
        size += chunk.length;
        if (reusesChunks) {
          let offset = 0;
          while (offset < chunk.length) offset += (await handle.write(chunk, offset)).bytesWritten;
          continue;
        }
        held.push(chunk);
        heldBytes += chunk.length;
        if (held.length >= WRITEV_CHUNKS || heldBytes >= WRITEV_BYTES) await writeHeld();
      }
      await writeHeld();
      const gen = nextGeneration(above);
      const seconds = secondsOf(gen);
      await futimes(handle, seconds, seconds);
      // The data must be on disk before the rename makes it the object.
      await handle.sync();
      const st = await fstat(handle, { bigint: true });
      await handle.close();
      handle = undefined;
      const generation = generationOf(st);
      if (BigInt(generation) <= above)
        throw new StorageError('io', `cannot write ${this.uriOf(key)}: the filesystem under ${this.root} does not keep microsecond file times, which local generations need`, { uri: this.uriOf(key) });
      return { tmp, size, md5: tally?.md5Hex() ?? '', generation };
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw this.fail(err, key, 'write');
    }
  }

  /** A fresh temporary name; it starts with the time it was made (sweepInternal reads it). */
  private tempPath(): string {
    return join(this.internalDir, 'tmp', `${Date.now()}-${process.pid}-${uniqueSuffix()}`);
  }

  /**
   * A worker killed mid-write leaves its temp file behind (never a partial object), and
   * every compare-and-swap leaves a tombstone. The first write of each store removes those
   * older than a day: no write lasts that long, and a transition left unfinished for a day
   * was never acknowledged to its writer.
   */
  private async sweepInternal(): Promise<void> {
    const cutoff = Date.now() - INTERNAL_MAX_AGE_MS;
    for (const sub of ['tmp', 'cas']) {
      const dir = join(this.internalDir, sub);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        // A temporary file's age is in its name: a hard link (cloneFrom) has its source's mtime,
        // however old, from the moment it is made.
        const made = /^(\d+)-/.exec(name);
        const born = made ? Number(made[1]) : (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs;
        if (born !== undefined && born < cutoff) await unlink(join(dir, name)).catch(() => undefined);
      }
    }
  }

  private async publish(tmp: string, path: string, key: string): Promise<void> {
    try {
      // A delete of a folder's last object removes the folder (and empty parents), which can
      // happen between our mkdir and rename, or inside a recursive mkdir: parallel writers and
      // deleters under one prefix race that way, so try again a few times before failing.
      // The folder usually exists (rewrites, progress records): rename first, mkdir only when it failed.
      for (let attempt = 1; ; attempt++) {
        try {
          if (attempt > 1) await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
          await rename(tmp, path);
          break;
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT' || attempt >= PUBLISH_ATTEMPTS) throw err;
          await stat(tmp); // our temp file must still be there: if not, the ENOENT was ours
        }
      }
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
    await syncFolder(dir);
  }

  async write(key: string, data: WriteSource, options: WriteOptions = {}): Promise<WriteResult> {
    const path = this.pathOf(key);
    const t = await this.writeTemp(key, data, 0n, options.md5 !== false, options.reusesChunks === true);
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
   * WHY a lock-free claim scheme instead of a lock file: POSIX has no "rename if the target
   * is still X", and Node exposes no renameat2(RENAME_NOREPLACE). A lock file needs a
   * staleness rule for crashed holders, and breaking a stale lock races with a live one.
   * Here the only exclusive step is link(2), which atomically creates a name or fails:
   *   1. the new bytes go to a temp file, with a generation above the expected one E;
   *   2. link it to a pending name unique to this writer, `cas/<hash(key)>.<E>.<random>`;
   *   3. link it to the marker `cas/<hash(key)>.<E>`: at most one writer ever wins the
   *      transition away from E, and the marker stays as a tombstone, so it cannot be won
   *      twice;
   *   4. if the object is still at E, rename the pending name over the object.
   * A pending name is created once and renamed at most once, so a writer's bytes are
   * published at most once, never over a newer version. A writer that finds the marker
   * taken while the object is still at E finds the winner's pending name (same inode as the
   * marker) and renames it itself: a winner that crashed between 3 and 4 does not block the
   * key, and nothing waits on a timeout. Losers report precondition_failed.
   * "Must not exist" (ABSENT_GENERATION) is a plain link(2) onto the object's name.
   * Tombstones and orphans older than a day are swept (sweepInternal). Plain `write` on a
   * CAS-managed key bypasses all this; the manifest pointer is written only through here.
   */
  async writeIfGeneration(key: string, data: WriteSource, expectedGeneration: string, options: Omit<WriteOptions, 'resumable'> = {}): Promise<WriteResult> {
    return (await this.prepareIfGeneration(key, data, expectedGeneration, options)).commit();
  }

  async prepareIfGeneration(key: string, data: WriteSource, expectedGeneration: string, options: Omit<WriteOptions, 'resumable'> = {}): Promise<PreparedWrite> {
    if (!/^\d+$/.test(expectedGeneration))
      throw new StorageError('precondition_failed', `cannot write ${this.uriOf(key)}: expected generation ${JSON.stringify(expectedGeneration)} is not a generation`, { uri: this.uriOf(key) });
    this.pathOf(key); // a key that cannot be an object fails before the source is read
    // A source that throws before its end fails here: only the temporary file existed.
    const t = await this.writeTemp(key, data, BigInt(expectedGeneration), options.md5 !== false, options.reusesChunks === true);
    let settled = false;
    return {
      size: t.size,
      md5: t.md5,
      generation: t.generation,
      commit: () => {
        if (settled) return Promise.reject(new StorageError('io', `cannot write ${this.uriOf(key)}: its prepared write was already committed or aborted`, { uri: this.uriOf(key) }));
        settled = true;
        return this.publishIfGeneration(key, t, expectedGeneration);
      },
      abort: async () => {
        if (settled) return;
        settled = true;
        await unlink(t.tmp).catch(() => undefined);
      },
    };
  }

  /** The compare-and-swap of a written temporary file (the scheme above); the temporary name is gone after it. */
  private async publishIfGeneration(key: string, t: { tmp: string; size: number; md5: string; generation: string }, expectedGeneration: string): Promise<WriteResult> {
    const path = this.pathOf(key);
    const result: WriteResult = { key, size: t.size, md5: t.md5, generation: t.generation };
    let pending: string | undefined;
    try {
      if (expectedGeneration === ABSENT_GENERATION) {
        await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
        try {
          await link(t.tmp, path);
        } catch (err) {
          if (errnoOf(err) === 'EEXIST') return await this.lost(key);
          throw err;
        }
        await this.syncDir(dirname(path));
        return result;
      }
      const base = `${createHash('sha256').update(key).digest('hex')}.${expectedGeneration}`;
      const casDir = join(this.internalDir, 'cas');
      const marker = join(casDir, base);
      pending = join(casDir, `${base}.${uniqueSuffix()}`);
      await this.ensureInternalDir(casDir);
      await link(t.tmp, pending).catch(async (err: unknown) => {
        if (errnoOf(err) !== 'ENOENT') throw err;
        this.madeDirs.delete(casDir);
        await this.ensureInternalDir(casDir);
        return link(t.tmp, pending!);
      });
      try {
        await link(t.tmp, marker);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
        await unlink(pending).catch(() => undefined);
        pending = undefined;
        await this.completePending(casDir, base, marker, path, expectedGeneration);
        return await this.lost(key);
      }
      const current = await this.currentGeneration(path);
      if (current === t.generation) return result; // another writer published our bytes
      if (current !== expectedGeneration) return await this.lost(key);
      try {
        await rename(pending, path);
      } catch (err) {
        // Only a writer completing our transition removes our pending name: it is published.
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
      pending = undefined;
      await this.syncDir(dirname(path));
      return result;
    } catch (err) {
      throw this.fail(err, key, 'write');
    } finally {
      if (pending) await unlink(pending).catch(() => undefined);
      await unlink(t.tmp).catch(() => undefined);
    }
  }

  /** Publishes the transition away from `expected` that its winner may not have finished. */
  private async completePending(casDir: string, base: string, marker: string, path: string, expected: string): Promise<void> {
    if ((await this.currentGeneration(path)) !== expected) return;
    const won = await stat(marker, { bigint: true }).catch(() => undefined);
    if (!won) return;
    for (const name of await readdir(casDir)) {
      if (!name.startsWith(`${base}.`)) continue;
      const st = await stat(join(casDir, name), { bigint: true }).catch(() => undefined);
      if (st?.ino !== won.ino || st.dev !== won.dev) continue;
      await rename(join(casDir, name), path).catch((err: unknown) => {
        if (errnoOf(err) !== 'ENOENT') throw err;
      });
      return;
    }
  }

  /** The swap did not apply: say where the object is now. */
  private async lost(key: string): Promise<never> {
    const info = await this.stat(key).catch((err: unknown) => {
      if (err instanceof StorageError && err.code === 'not_found') return undefined;
      throw err;
    });
    throw new StorageError(
      'precondition_failed',
      `${this.uriOf(key)} changed: ${info ? `it is now at generation ${info.generation}` : 'it no longer exists'}`,
      { uri: this.uriOf(key) },
    );
  }

  /**
   * A hard link, published like a write (a temporary name, then a rename). The file keeps its
   * own mode, not FILE_MODE: changing it would change the source's; inside the store's 0700
   * folders no other user reaches it by this name.
   */
  async cloneFrom(source: BlobStore, sourceKey: string, sourceGeneration: string, key: string): Promise<WriteResult | null> {
    if (!(source instanceof LocalBlobStore)) return null;
    const from = source.pathOf(sourceKey);
    const path = this.pathOf(key);
    const tmp = this.tempPath();
    await this.ensureInternalDir(dirname(tmp));
    try {
      await link(from, tmp);
    } catch (err) {
      // Another file system, one without links, a link count at its limit, links the kernel
      // refuses (protected_hardlinks), or no source: the caller copies instead.
      if (['EXDEV', 'EPERM', 'EACCES', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOENT', 'ENOSYS'].includes(errnoOf(err) ?? '')) return null;
      throw this.fail(err, sourceKey, 'link');
    }
    let published = false;
    try {
      const st = await stat(tmp, { bigint: true });
      // The name pointed at another file (or the file changed) since the caller's stat.
      if (!st.isFile() || generationOf(st) !== sourceGeneration) return null;
      await this.publish(tmp, path, key);
      published = true;
      return { key, size: Number(st.size), md5: '', generation: generationOf(st) };
    } finally {
      if (!published) await unlink(tmp).catch(() => undefined);
    }
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

  exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
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
      // One call per folder: an opendir iterated entry by entry costs a promise per entry.
      names = (await readdir(dirPath, { withFileTypes: true })).map((d) => ({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile() }));
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
    // Folders exist only while they hold objects, as prefixes do in GCS: deleting a run's
    // objects leaves no tree of empty folders behind. rmdir refuses a folder that is not empty.
    for (let dir = dirname(path); dir !== this.root && dir.startsWith(this.root); dir = dirname(dir)) {
      if (!(await rmdir(dir).then(
        () => true,
        () => false,
      )))
        break;
    }
  }
}

function cmp(a: string, b: string): number {
  // Code-unit order of UTF-8 bytes equals code point order; GCS lists by UTF-8 bytes.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function infoOf(key: string, st: BigIntStats): BlobInfo {
  const updated = new Date(Number(st.mtimeMs));
  return {
    key,
    size: Number(st.size),
    md5: undefined,
    updated,
    // The mtime, not the birth time: an export rewritten in place (truncate and write) keeps
    // the file's birth time, so a fresh snapshot would look days old and be refused as stale.
    // The mtime is when these bytes were written (our writes set it to the generation), and a
    // copy that preserves it (cp -p, rsync -t) keeps the export's own time.
    created: updated,
    generation: generationOf(st),
  };
}
