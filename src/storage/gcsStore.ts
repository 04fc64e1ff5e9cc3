import { randomUUID } from 'node:crypto';
import { Readable, PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdempotencyStrategy, Storage, type Bucket, type File, type FileMetadata } from '@google-cloud/storage';
import type { BlobInfo, BlobStore, ReadRange, WriteOptions, WriteResult, WriteSource } from './blobStore';
import { ByteTally, base64ToHex, chunksOf, md5Hex, md5OfStream, readAll } from './bytes';
import { StorageError, existsByStat } from './errors';
import { REQUEST_TIMEOUT_ENV, STALL_TIMEOUT_ENV, gcsDeadlinesFromEnv, retryTiming, secondsText } from './gcsDeadlines';
import { checkKey, checkPrefix } from './keys';
import { guardReadStalls, guardWriteStalls } from './stallGuard';

export interface GcsStoreOptions {
  /**
   * e.g. http://127.0.0.1:4443 for fake-gcs-server. Without it the client library uses
   * STORAGE_EMULATOR_HOST when set, else Google's endpoint with Application Default Credentials.
   */
  apiEndpoint?: string;
  projectId?: string;
  /** Objects larger than this go up as resumable uploads (default 8 MiB). */
  resumableThresholdBytes?: number;
  /** Resumable upload chunk (multiple of 256 KiB; default 8 MiB). Bounds memory per upload. */
  resumableChunkBytes?: number;
  /** Retries of one call inside the client library (default 3; 0 in tests of unreachable endpoints). */
  maxRetries?: number;
  /**
   * Deadline of one HTTP attempt of a call with a small answer: stat, list page, delete,
   * simple upload, the start of a read (default TTSYNC_GCS_REQUEST_TIMEOUT, else 60 s; see
   * gcsDeadlines.ts). A given `storage` client keeps its own.
   */
  requestTimeoutMs?: number;
  /**
   * A read or resumable upload that moves no byte this long, while it is the side being
   * waited on, fails (default TTSYNC_GCS_STALL_TIMEOUT, else 120 s).
   */
  stallTimeoutMs?: number;
  /** Objects per list request (default 1000, the GCS maximum). */
  listPageSize?: number;
  /** Use this client instead of building one (shares sockets and auth between stores). */
  storage?: Storage;
}

const MiB = 1024 * 1024;
/** Custom metadata key of a compare-and-swap write's unique id. */
const WRITE_ID_KEY = 'ttsync-write-id';

/**
 * The GCS adapter. Every object is `<prefix><key>` in one bucket.
 */
export class GcsBlobStore implements BlobStore {
  readonly uri: string;
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  private readonly threshold: number;
  private readonly chunkSize: number;
  private readonly listPageSize: number;
  private readonly requestMs: number;
  private readonly stallMs: number;
  /** Set once any call succeeded: a later 404 is then about the object, not the bucket. */
  private bucketSeen = false;

  constructor(
    readonly bucketName: string,
    readonly prefix: string,
    options: GcsStoreOptions = {},
  ) {
    this.uri = `gs://${bucketName}/${prefix}`;
    const deadlines = gcsDeadlinesFromEnv();
    this.requestMs = options.storage?.timeout ?? options.requestTimeoutMs ?? deadlines.requestMs;
    this.stallMs = options.stallTimeoutMs ?? deadlines.stallMs;
    for (const [name, ms] of [['requestTimeoutMs', this.requestMs], ['stallTimeoutMs', this.stallMs]] as const)
      if (!(Number.isFinite(ms) && ms > 0)) throw new RangeError(`${name} must be a positive number of milliseconds, not ${ms}`);
    this.storage = options.storage ?? createGcsClient({ ...options, requestTimeoutMs: this.requestMs });
    this.bucket = this.storage.bucket(bucketName);
    this.threshold = options.resumableThresholdBytes ?? 8 * MiB;
    this.chunkSize = options.resumableChunkBytes ?? 8 * MiB;
    this.listPageSize = options.listPageSize ?? 1000;
    if (this.chunkSize % (256 * 1024) !== 0) throw new RangeError('resumableChunkBytes must be a multiple of 256 KiB (GCS rule)');
  }

  uriOf(key: string): string {
    return this.uri + key;
  }

  private file(key: string): File {
    return this.bucket.file(this.prefix + checkKey(key, this.uri));
  }

  /** Maps a client-library error to a StorageError; a 404 is checked against the bucket. */
  private async fail(err: unknown, key: string | undefined, action: string): Promise<StorageError> {
    if (err instanceof StorageError) return err;
    const uri = key === undefined ? this.uri : this.uriOf(key);
    const status = statusOf(err);
    const detail = shortMessage(err);
    if (status === 404) {
      // GCS and fake-gcs-server answer a missing bucket and a missing object with the same
      // 404 "Not Found"; one extra call on the error path tells users which one to fix.
      const bucketExists =
        this.bucketSeen ||
        (await this.bucket.exists().then(
          ([e]) => e,
          () => true,
        ));
      this.bucketSeen = bucketExists;
      if (!bucketExists)
        return new StorageError('bucket_not_found', `the bucket gs://${this.bucketName} does not exist (while trying to ${action} ${uri})`, { uri, cause: err });
      return new StorageError('not_found', `no object at ${uri}`, { uri, cause: err });
    }
    if (status === 412) return new StorageError('precondition_failed', `${uri} changed: its generation no longer matches`, { uri, cause: err });
    if (status === 401 || status === 403)
      return new StorageError('permission', `not allowed to ${action} ${uri} (HTTP ${status}: ${detail}); check the credentials and the bucket's IAM roles`, { uri, cause: err });
    if (isRequestTimeout(err))
      return new StorageError('unavailable', `cannot ${action} ${uri}: storage did not answer within ${secondsText(this.requestMs)} (the deadline of one request, ${REQUEST_TIMEOUT_ENV})`, { uri, cause: err });
    if (status === 429 || (status !== undefined && status >= 500) || isNetworkError(err))
      return new StorageError('unavailable', `cannot ${action} ${uri}: storage is unreachable or overloaded (${detail})`, { uri, cause: err });
    if (status === 400) return new StorageError('io', `cannot ${action} ${uri}: the request was refused (HTTP 400: ${detail})`, { uri, cause: err });
    return new StorageError('io', `cannot ${action} ${uri}: ${detail}`, { uri, cause: err });
  }

  /** A transfer that stopped moving bytes: storage is as unavailable as when it does not answer. */
  private stalled(key: string, action: string, stallMs: number): StorageError {
    const uri = this.uriOf(key);
    return new StorageError('unavailable', `cannot ${action} ${uri}: the transfer stalled, no bytes moved for ${secondsText(stallMs)} (${STALL_TIMEOUT_ENV})`, { uri });
  }

  openRead(key: string, range: ReadRange = {}): Promise<Readable> {
    return this.openGuardedRead(key, range, this.stallMs);
  }

  /*
   * The library's request deadline ends at the response headers (node-fetch clears its timer
   * there, and a streamed body has none), so the body is guarded against stalls here, from
   * the response on; before it, the deadline and the library's retries apply.
   */
  private async openGuardedRead(key: string, range: ReadRange, stallMs: number): Promise<Readable> {
    const source = this.file(key).createReadStream({ start: range.start, end: range.end });
    const out = new PassThrough();
    // The request starts when the stream is read; wait for the response so a missing
    // object rejects here instead of failing the consumer's pipeline later.
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      source.once('response', (res: { statusCode?: number }) => {
        guardReadStalls(source, stallMs, () => this.stalled(key, 'read', stallMs));
        if ((res.statusCode ?? 0) < 300 && !settled) {
          settled = true;
          resolve();
        }
      });
      source.once('error', (err: unknown) => {
        void this.fail(err, key, 'read').then((mapped) => {
          if (settled) out.destroy(mapped);
          else {
            settled = true;
            reject(mapped);
          }
        });
      });
      source.once('end', () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      });
      source.pipe(out);
    });
    out.once('close', () => source.destroy());
    return out;
  }

  /** Small objects (manifests, pointers): a stall is bounded by the tighter of the two limits. */
  async readBuffer(key: string): Promise<Buffer> {
    return readAll(await this.openGuardedRead(key, {}, Math.min(this.requestMs, this.stallMs)));
  }

  async write(key: string, data: WriteSource, options: WriteOptions = {}): Promise<WriteResult> {
    const file = this.file(key);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) {
        const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        if (options.resumable ?? buf.length > this.threshold) return await this.uploadResumable(file, key, chunksOf(buf), options);
        return await this.uploadSimple(file, key, buf, options);
      }
      if (options.resumable === true) return await this.uploadResumable(file, key, options.reusesChunks ? copiesOf(chunksOf(data)) : chunksOf(data), options);
      // A stream of unknown length: buffer up to the threshold. Small outputs (most shard
      // and manifest files) then cost one request; large ones go resumable with the
      // buffered head replayed first.
      const it = options.reusesChunks ? copiesOf(chunksOf(data)) : chunksOf(data);
      const { head, done } = await bufferedHead(it, options.resumable === false ? Infinity : this.threshold);
      if (done) return await this.uploadSimple(file, key, Buffer.concat(head), options);
      return await this.uploadResumable(file, key, prepend(head, it), options);
    } catch (err) {
      throw await this.fail(err, key, 'write');
    }
  }

  private async uploadSimple(file: File, key: string, buf: Buffer, options: WriteOptions, cas?: { ifGenerationMatch: string; writeId: string }): Promise<WriteResult> {
    await file.save(buf, {
      resumable: false,
      contentType: options.contentType ?? 'application/octet-stream',
      ...(cas ? { preconditionOpts: { ifGenerationMatch: Number(cas.ifGenerationMatch) }, metadata: { metadata: { [WRITE_ID_KEY]: cas.writeId } } } : {}),
    });
    return this.checked(file, key, buf.length, md5Hex(buf));
  }

  private async uploadResumable(file: File, key: string, chunks: AsyncIterable<Buffer>, options: WriteOptions, cas?: { ifGenerationMatch: string; writeId: string }, tally = new ByteTally()): Promise<WriteResult> {
    const sink = file.createWriteStream({
      resumable: true,
      chunkSize: this.chunkSize,
      contentType: options.contentType ?? 'application/octet-stream',
      ...(cas ? { preconditionOpts: { ifGenerationMatch: Number(cas.ifGenerationMatch) }, metadata: { metadata: { [WRITE_ID_KEY]: cas.writeId } } } : {}),
    });
    // Resumable requests go through gaxios, which gets no deadline from the client; and a
    // whole-request deadline would cut off a slow but moving upload. So: stalls. The library
    // emits 'progress' as it sends bytes; a chunk taken from us counts as movement too.
    const guard = guardWriteStalls(sink, this.stallMs, () => this.stalled(key, 'write', this.stallMs), 'progress');
    const counting = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        guard.moved();
        cb(null, tally.add(chunk));
      },
    });
    try {
      await pipeline(Readable.from(chunks, { objectMode: false }), counting, sink);
    } finally {
      guard.stop();
    }
    return this.checked(file, key, tally.size, tally.md5Hex());
  }

  /** Compares what the server stored with what we counted while sending. */
  private checked(file: File, key: string, size: number, md5: string, meta: FileMetadata = file.metadata): WriteResult {
    this.bucketSeen = true;
    const storedSize = Number(meta.size);
    const storedMd5 = typeof meta.md5Hash === 'string' ? base64ToHex(meta.md5Hash) : undefined;
    if (storedSize !== size || (storedMd5 !== undefined && storedMd5 !== md5))
      throw new StorageError('integrity', `${this.uriOf(key)} was stored with ${storedSize} bytes (md5 ${storedMd5 ?? 'unknown'}) but ${size} bytes (md5 ${md5}) were sent`, { uri: this.uriOf(key) });
    return { key, size, md5, generation: String(meta.generation) };
  }

  /*
   * A buffer, and a stream that ends within the resumable threshold, go up as one request
   * with ifGenerationMatch: pointers are small, and fake-gcs-server 1.54 ignores
   * preconditions on resumable sessions (GCS honours them), so the path that tests of
   * pointers exercise is the path production takes. A longer stream (a large data object
   * replaced in place) goes up as a resumable upload whose session carries ifGenerationMatch:
   * GCS checks it when the upload is finalized, which happens only after the source ended,
   * and memory stays at one upload chunk.
   * WHY a write id: the client library retries a conditional write whose response was lost;
   * the retry then meets our own first write and gets 412. The id in the object's custom
   * metadata tells "my write landed" apart from "another writer won", even when both wrote
   * the same bytes, so the swap stays exact (no double success). The same check runs when
   * the write fails as unavailable (its answer past the deadline, or lost after the retries).
   */
  async writeIfGeneration(key: string, data: WriteSource, expectedGeneration: string, options: Omit<WriteOptions, 'resumable'> = {}): Promise<WriteResult> {
    const file = this.file(key);
    if (!/^\d+$/.test(expectedGeneration))
      throw new StorageError('precondition_failed', `cannot write ${this.uriOf(key)}: expected generation ${JSON.stringify(expectedGeneration)} is not a generation`, { uri: this.uriOf(key) });
    const cas = { ifGenerationMatch: expectedGeneration, writeId: randomUUID() };
    // What was sent, for the check after a lost answer.
    let sent: { size: number; md5: () => string } | undefined;
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) {
        const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        sent = { size: buf.length, md5: () => md5Hex(buf) };
        return await this.uploadSimple(file, key, buf, options, cas);
      }
      const it = options.reusesChunks ? copiesOf(chunksOf(data)) : chunksOf(data);
      const { head, done } = await bufferedHead(it, this.threshold);
      if (done) {
        const buf = Buffer.concat(head);
        sent = { size: buf.length, md5: () => md5Hex(buf) };
        return await this.uploadSimple(file, key, buf, options, cas);
      }
      const tally = new ByteTally();
      sent = {
        get size() {
          return tally.size;
        },
        md5: () => tally.md5Hex(),
      };
      return await this.uploadResumable(file, key, prepend(head, it), options, cas, tally);
    } catch (err) {
      const mapped = await this.fail(err, key, 'write');
      // An answer that never came (past the deadline, a stalled upload, a dropped connection
      // after the library's retries) may hide a write that landed; the next attempt of the
      // caller would then meet it as another writer's. The write id tells.
      const lost = mapped.code === 'unavailable';
      if (mapped.code !== 'precondition_failed' && !lost) throw mapped;
      let meta: FileMetadata | undefined;
      try {
        [meta] = await file.getMetadata();
      } catch (statErr) {
        const m = await this.fail(statErr, key, 'stat');
        if (lost) throw mapped;
        if (m.code !== 'not_found') throw m;
      }
      if (sent && meta?.metadata?.[WRITE_ID_KEY] === cas.writeId) return this.checked(file, key, sent.size, sent.md5(), meta);
      if (lost) throw mapped;
      throw new StorageError(
        'precondition_failed',
        `${this.uriOf(key)} changed: ${meta ? `it is now at generation ${String(meta.generation)}` : 'it no longer exists'}`,
        { uri: this.uriOf(key), cause: err },
      );
    }
  }

  async cloneFrom(source: BlobStore, sourceKey: string, sourceGeneration: string, key: string): Promise<WriteResult | null> {
    if (!(source instanceof GcsBlobStore)) return null;
    // That generation of the source, copied by the service (a rewrite: no byte comes here).
    const from = this.storage.bucket(source.bucketName).file(source.prefix + checkKey(sourceKey, source.uri), { generation: sourceGeneration });
    try {
      const [copied] = await from.copy(this.file(key));
      const [meta] = await copied.getMetadata();
      this.bucketSeen = true;
      return { key, size: Number(meta.size ?? 0), md5: typeof meta.md5Hash === 'string' ? base64ToHex(meta.md5Hash) : '', generation: String(meta.generation) };
    } catch (err) {
      // That generation is gone, or this client may not read it, or the service (an emulator) has no copy: the caller copies instead.
      const status = statusOf(err);
      if (status === 400 || status === 403 || status === 404 || status === 412 || status === 501) return null;
      throw await this.fail(err, key, 'copy');
    }
  }

  async stat(key: string): Promise<BlobInfo> {
    const file = this.file(key);
    try {
      const [meta] = await file.getMetadata();
      this.bucketSeen = true;
      return this.infoOf(key, meta);
    } catch (err) {
      throw await this.fail(err, key, 'stat');
    }
  }

  private infoOf(key: string, meta: FileMetadata): BlobInfo {
    const updated = new Date(meta.updated ?? meta.timeCreated ?? 0);
    return {
      key,
      size: Number(meta.size ?? 0),
      md5: typeof meta.md5Hash === 'string' ? base64ToHex(meta.md5Hash) : undefined,
      updated,
      created: meta.timeCreated ? new Date(meta.timeCreated) : updated,
      generation: String(meta.generation),
    };
  }

  exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
  }

  async md5Of(key: string): Promise<string> {
    const info = await this.stat(key);
    // Composite objects carry only a CRC32C; hash their bytes instead.
    return info.md5 ?? md5OfStream(await this.openRead(key));
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    checkPrefix(prefix, this.uri);
    let pageToken: string | undefined;
    do {
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = await this.bucket.getFiles({ prefix: this.prefix + prefix, autoPaginate: false, maxResults: this.listPageSize, pageToken });
      } catch (err) {
        throw await this.fail(err, undefined, 'list');
      }
      this.bucketSeen = true;
      for (const f of files) yield this.infoOf(f.name.slice(this.prefix.length), f.metadata);
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async delete(key: string, options: { ignoreNotFound?: boolean } = {}): Promise<void> {
    try {
      await this.file(key).delete();
    } catch (err) {
      const mapped = await this.fail(err, key, 'delete');
      if (mapped.code === 'not_found' && options.ignoreNotFound) return;
      throw mapped;
    }
  }
}

/*
 * WHY RetryAlways: by default the library retries uploads and deletes only when they carry
 * a generation precondition. ttsync writes data objects under deterministic keys with
 * deterministic bytes, so repeating a write is harmless; the manifest pointer carries its
 * precondition and tolerates its own retry (see writeIfGeneration).
 */
export function createGcsClient(options: Pick<GcsStoreOptions, 'apiEndpoint' | 'projectId' | 'maxRetries' | 'requestTimeoutMs'> = {}): Storage {
  const apiEndpoint = options.apiEndpoint ?? emulatorEndpoint(process.env.STORAGE_EMULATOR_HOST);
  const maxRetries = options.maxRetries ?? 3;
  const requestMs = options.requestTimeoutMs ?? gcsDeadlinesFromEnv().requestMs;
  // WHY always a timeout: without one the library sets none at all (its service spreads an
  // undefined `timeout` over its own 60 s default), and a request the server never answers
  // then hangs until the activity's start-to-close timeout.
  const build = (): Storage =>
    new Storage({
      ...(apiEndpoint ? { apiEndpoint: apiEndpoint.replace(/\/+$/, '') } : {}),
      ...(options.projectId ? { projectId: options.projectId } : {}),
      timeout: requestMs,
      retryOptions: {
        autoRetry: maxRetries > 0,
        maxRetries,
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
        ...retryTiming(requestMs, maxRetries),
      },
    });
  // WHY hide the variable while constructing: @google-cloud/storage 7 uses
  // STORAGE_EMULATOR_HOST verbatim as the JSON API base URL (no /storage/v1) while also
  // deriving the upload host from it, and lets it override an explicit apiEndpoint for JSON
  // calls. No single value then works against fake-gcs-server. Normalizing it here into
  // apiEndpoint gives one rule: apiEndpoint option, else STORAGE_EMULATOR_HOST, else Google.
  // The constructor is synchronous, so no other code can observe the change.
  const saved = process.env.STORAGE_EMULATOR_HOST;
  if (saved === undefined) return build();
  delete process.env.STORAGE_EMULATOR_HOST;
  try {
    return build();
  } finally {
    process.env.STORAGE_EMULATOR_HOST = saved;
  }
}

/** `host:port`, `http://host:port` or `http://host:port/storage/v1/` → `http://host:port`. */
export function emulatorEndpoint(value: string | undefined): string | undefined {
  if (!value || value.trim() === '') return undefined;
  let v = value.trim().replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
  if (!/^https?:\/\//.test(v)) v = `http://${v}`;
  return v;
}

async function* prepend(head: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const v of [e?.code, e?.status, e?.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** node-fetch (under the library's JSON calls and reads) failing an attempt at its deadline: no headers in time, or a JSON body not read in time. */
function isRequestTimeout(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if ((e as Error).name === 'FetchError' && (type === 'request-timeout' || type === 'body-timeout')) return true;
  }
  return false;
}

function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up/.test(String((e as Error).message))) return true;
  }
  return false;
}

/** One line, bounded: library messages can carry a whole HTML or JSON body. */
function shortMessage(err: unknown): string {
  const msg = String((err as Error)?.message ?? err).replace(/\s+/g, ' ').trim();
  return msg.length > 200 ? `${msg.slice(0, 200)}…` : msg;
}

/**
 * The first chunks of a stream, until more than `limit` bytes or its end (`done`): a small
 * object then goes in one request, a large one resumable with this head sent first.
 */
/** Each chunk copied: the source recycles its buffers (WriteOptions.reusesChunks) while the upload still holds them. */
async function* copiesOf(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield Buffer.from(chunk);
}

async function bufferedHead(it: AsyncIterator<Buffer>, limit: number): Promise<{ head: Buffer[]; done: boolean }> {
  const head: Buffer[] = [];
  let size = 0;
  while (size <= limit) {
    const next = await it.next();
    if (next.done) return { head, done: true };
    head.push(next.value);
    size += next.value.length;
  }
  return { head, done: false };
}
