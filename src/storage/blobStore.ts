import type { Readable } from 'node:stream';

/** The generation to pass to `writeIfGeneration` when the object must not exist yet. */
export const ABSENT_GENERATION = '0';

/** Byte range of a read; `end` is inclusive, as in fs.createReadStream and HTTP Range. */
export interface ReadRange {
  start?: number;
  end?: number;
}

export interface BlobInfo {
  key: string;
  size: number;
  /**
   * Lowercase hex MD5 when the backend knows it without reading the bytes (GCS, except
   * composite objects); undefined otherwise. `md5Of(key)` always answers.
   */
  md5: string | undefined;
  updated: Date;
  /** When this version of the object was written (GCS timeCreated; local mtime: a file rewritten in place keeps its birth time). */
  created: Date;
  /** Changes on every write of the key; the token for `writeIfGeneration`. Decimal string. */
  generation: string;
}

export interface WriteResult {
  key: string;
  /** Bytes written, counted while streaming. */
  size: number;
  /**
   * Lowercase hex MD5 of the bytes written, computed while streaming and checked against the
   * backend; '' when the write asked for none (WriteOptions.md5 false) and the store had none.
   */
  md5: string;
  generation: string;
}

export interface WriteOptions {
  contentType?: string;
  /**
   * false: the caller will not read WriteResult.md5 (working data: spill parts, digest
   * lists), so a store that hashes only to report it (local) skips the hashing, ~1 s of CPU
   * per GB. GCS still sends and checks it (the check guards the upload).
   */
  md5?: boolean;
  /** GCS only: force (true) or forbid (false) a resumable upload instead of choosing by size. */
  resumable?: boolean;
  /**
   * true: a stream source overwrites a chunk's memory once the store pulls the next one (a
   * caller recycling its buffers). A store that holds chunks longer (GCS gathers the first
   * ones, its upload queues others) copies them; the local store writes each chunk before
   * pulling the next and copies nothing.
   */
  reusesChunks?: boolean;
}

/**
 * Reads an object into the caller's buffers (BlobStore.openReader): no buffer per read, so a
 * caller that recycles one buffer streams a large object without allocating.
 */
export interface BlobReader {
  /** Fills `into` from `offset` on with the next bytes; 0 at the end. */
  read(into: Buffer, offset: number): Promise<number>;
  /**
   * Optional: fills into[offset, offset + length) with the bytes from `position` on, without
   * moving the sequential read; 0 at the end. For reading scattered spans through one handle.
   */
  readAt?(into: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A conditional write whose bytes are stored but not yet visible (BlobStore.prepareIfGeneration):
 * the caller records what it is about to publish, for several objects at once, then commits each.
 */
export interface PreparedWrite {
  /** Bytes stored, counted while streaming. */
  readonly size: number;
  /** As WriteResult.md5. */
  readonly md5: string;
  /** The generation the object will have once committed. */
  readonly generation: string;
  /** Publishes the bytes if the object is still at the expected generation (precondition_failed otherwise); once. */
  commit(): Promise<WriteResult>;
  /** Drops the stored bytes unpublished; nothing after a commit. */
  abort(): Promise<void>;
}

export type WriteSource = Buffer | Uint8Array | string | Readable | AsyncIterable<Uint8Array | string>;

/**
 * Where ttsync keeps every byte of data (snapshots, shards, upload files, rejects,
 * manifests). Keys are relative to the store's URI. Both adapters pass the same contract
 * suite (test/unit/storage/contract.ts).
 */
export interface BlobStore {
  /** The store's own URI, ending in '/' (gs://bucket/prefix/ or file:///abs/path/). */
  readonly uri: string;
  /** The URI of one object, for logs and messages. */
  uriOf(key: string): string;
  /** Opens a stream of the object's bytes; rejects with not_found before any byte flows. */
  openRead(key: string, range?: ReadRange): Promise<Readable>;
  /**
   * Optional (local folders): a reader into the caller's buffers, for streaming large objects
   * without a buffer per chunk; rejects with not_found before any byte flows. Stores without
   * it are read through openRead. Reads from byte `start` on (0 by default); the caller
   * bounds a range by the room it gives each read.
   */
  openReader?(key: string, start?: number): Promise<BlobReader>;
  /** Reads a whole (small) object into memory: manifests, pointers. */
  readBuffer(key: string): Promise<Buffer>;
  /** Writes the object; readers see the old bytes or the new bytes, never a partial file. */
  write(key: string, data: WriteSource, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Writes only if the object is still at `expectedGeneration` (ABSENT_GENERATION: must not
   * exist); otherwise throws precondition_failed. Exactly one of several writers from the
   * same generation succeeds, even if they write the same bytes; a retry inside the call
   * after a lost response (GCS) is recognised as the same write.
   * A stream is written as it comes, in bounded memory (locally a temporary file; on GCS
   * one request up to the resumable threshold, a resumable upload beyond it), and nothing
   * becomes visible until the source has ended: a source that throws instead of ending
   * leaves the object as it was. So a caller can check what it streamed before its end.
   */
  writeIfGeneration(key: string, data: WriteSource, expectedGeneration: string, options?: Omit<WriteOptions, 'resumable'>): Promise<WriteResult>;
  /**
   * Optional (local folders): writeIfGeneration in two steps. The source is consumed and its
   * bytes made durable where no reader sees them; nothing is visible until commit(), which
   * applies the same precondition as writeIfGeneration. A process that dies before the
   * commit leaves the object as it was (the unpublished bytes are swept like any temporary
   * file). Lets a caller prepare several objects, record them once, then publish them.
   */
  prepareIfGeneration?(key: string, data: WriteSource, expectedGeneration: string, options?: Omit<WriteOptions, 'resumable'>): Promise<PreparedWrite>;
  /**
   * Optional: makes `key` an object holding the bytes of `sourceKey` of `source` as they were
   * at `sourceGeneration`, without the bytes passing through this process: on GCS a copy
   * made by the service, in a local folder a hard link (the same file under a second name:
   * it shares what happens to the file in place later, which its generation shows). Answers
   * null when this store cannot (another kind of store, another file system, a file system
   * or permissions that refuse links, the source no longer at that generation); the caller
   * then copies the bytes itself.
   */
  cloneFrom?(source: BlobStore, sourceKey: string, sourceGeneration: string, key: string): Promise<WriteResult | null>;
  stat(key: string): Promise<BlobInfo>;
  exists(key: string): Promise<boolean>;
  /** MD5 hex of the stored bytes (from metadata when possible, otherwise by reading them). */
  md5Of(key: string): Promise<string>;
  /** Objects whose key starts with `prefix` (a plain string prefix, as in GCS), sorted by key. */
  list(prefix?: string): AsyncIterable<BlobInfo>;
  delete(key: string, options?: { ignoreNotFound?: boolean }): Promise<void>;
}
