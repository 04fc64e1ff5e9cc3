import { createHash } from 'node:crypto';
import type { IdentifierType } from '../identifiers/schema';
import { HEX_LINES_RECORDS, HexLines } from '../identifiers/sha256batch/sha256Batch';
import type { ListFormat } from './schemas';

export type FileAction = 'APPEND' | 'REMOVE';

/**
 * The header row of a single-type customer file, in the Help Center's spelling
 * (tiktok-api.md §3.1): Email_SHA256, Phone_SHA256, MAID_SHA256 / MAID_MD5 (IDFA and GAID
 * are mobile advertising ids). UNCONFIRMED whether the API needs it; we send it because a
 * header the API does not need costs one unparsable row, while a missing header the API
 * expects would silently drop the first id of every file.
 */
export function headerOf(type: IdentifierType): string {
  switch (type) {
    case 'EMAIL_SHA256':
      return 'Email_SHA256';
    case 'PHONE_SHA256':
      return 'Phone_SHA256';
    default:
      return type.endsWith('_MD5') ? 'MAID_MD5' : 'MAID_SHA256';
  }
}

/** Hex digest width of a type's ids (SHA-256: 64, MD5: 32). */
export function digestWidth(type: IdentifierType): number {
  return type.endsWith('_MD5') ? 32 : 64;
}

export interface FileLimits {
  maxIds: number;
  maxBytes: number;
  header: boolean;
}

/**
 * How many ids one file holds: as many as both caps allow. Every line of a type has the
 * same width ("digest\n"), so the split is arithmetic and a retry or a resumed activity
 * cuts the files at exactly the same ids.
 */
export function idsPerFile(type: IdentifierType, limits: FileLimits): number {
  const line = digestWidth(type) + 1;
  const header = limits.header ? Buffer.byteLength(headerOf(type)) + 1 : 0;
  const bySize = Math.floor((limits.maxBytes - header) / line);
  const n = Math.min(limits.maxIds, bySize);
  if (n < 1) throw new RangeError(`a file cap of ${limits.maxBytes} bytes cannot hold one ${type} id`);
  return n;
}

/** Sizes of the files that `total` ids of `type` make: full files, then the rest. */
export function planFiles(type: IdentifierType, total: number, limits: FileLimits): { ids: number; bytes: number }[] {
  const per = idsPerFile(type, limits);
  const line = digestWidth(type) + 1;
  const header = limits.header ? Buffer.byteLength(headerOf(type)) + 1 : 0;
  const out: { ids: number; bytes: number }[] = [];
  for (let left = total; left > 0; left -= per) {
    const ids = Math.min(per, left);
    out.push({ ids, bytes: header + ids * line });
  }
  return out;
}

/**
 * One stored digest list: `count` lines starting at byte `start` of the object `uri`.
 * Lists live packed several to an object (one object per kind and diff step, not one per
 * shard): hundreds of tiny objects per run cost a request and, locally, two fsyncs each.
 */
export interface ListRef {
  uri: string;
  start: number;
  count: number;
  /** "records": raw digests, turned into hex lines as they are read; absent: hex lines. */
  format?: ListFormat;
}

/** Stored bytes of one id of a list: a hex line of `lineWidth`, or a record of half its digest. */
function storedWidth(ref: { format?: ListFormat }, lineWidth: number): number {
  return ref.format === 'records' ? (lineWidth - 1) >>> 1 : lineWidth;
}

/** Reads `bytes` bytes of `uri` from `start`. */
export type RangeRead = (uri: string, start: number, bytes: number) => Promise<Buffer>;

/**
 * Merges lists that follow each other in the same object into one read of at most
 * `maxBytes` (a list is never split): a type's lists of consecutive shards are adjacent.
 */
export function coalesce(lists: readonly ListRef[], width: number, maxBytes: number): ListRef[] {
  const out: ListRef[] = [];
  for (const l of lists) {
    if (l.count === 0) continue;
    const last = out[out.length - 1];
    const w = storedWidth(l, width);
    if (last && last.uri === l.uri && last.format === l.format && last.start + last.count * w === l.start && (last.count + l.count) * w <= maxBytes) last.count += l.count;
    else out.push({ ...l });
  }
  return out;
}

/**
 * Reads a sequence of sorted lists (shard 00 to ff: their concatenation is sorted too) as
 * one stream of fixed-width lines, `take(n)` ids at a time. Holds the current list and
 * the few read ahead in memory.
 */
export class ListCursor {
  /** The list being read and how many of its ids were consumed. */
  private index = 0;
  private within = 0;
  private buf: Buffer | null = null;

  /** Reads started ahead of use: object stores have latency, and lists are small. */
  private readonly ahead = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly lists: readonly ListRef[],
    private readonly width: number,
    private readonly read: RangeRead,
    private readonly prefetch = 4,
  ) {}

  private load(index: number): Promise<Buffer> {
    for (let i = index; i < Math.min(this.lists.length, index + this.prefetch); i++) {
      if (this.ahead.has(i)) continue;
      const ref = this.lists[i]!;
      const p = this.read(ref.uri, ref.start, ref.count * storedWidth(ref, this.width));
      // Failures surface when the list is used; a read started ahead must not be unhandled.
      p.catch(() => undefined);
      this.ahead.set(i, p);
    }
    const p = this.ahead.get(index)!;
    this.ahead.delete(index);
    return p;
  }

  /** Skips `n` ids without reading the lists it passes over entirely. */
  skip(n: number): void {
    this.within += n;
    while (this.index < this.lists.length && this.within >= this.lists[this.index]!.count) {
      this.within -= this.lists[this.index]!.count;
      this.index++;
      this.buf = null;
    }
    for (const i of this.ahead.keys()) if (i < this.index) this.ahead.delete(i);
    if (this.index >= this.lists.length && this.within > 0) throw new RangeError('skipped past the end of the lists');
  }

  /**
   * Yields the bytes of the next `n` ids as lines. Records are turned into lines a chunk at
   * a time in memory the next chunk reuses: consume each chunk before pulling the next
   * (a store write told WriteOptions.reusesChunks does).
   */
  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      const ref = this.lists[this.index];
      if (!ref) throw new ListIntegrityError('the digest lists hold fewer ids than their summaries count');
      const stored = storedWidth(ref, this.width);
      if (!this.buf) {
        const buf = await this.load(this.index);
        if (buf.length !== ref.count * stored)
          throw new ListIntegrityError(`${ref.uri}: read ${buf.length} bytes at ${ref.start}; ${ref.count} ids of ${stored} bytes each were expected`);
        this.buf = buf;
      }
      const k = Math.min(ref.count - this.within, n);
      if (k > 0 && ref.format === 'records') {
        const hex = (this.hex ??= new HexLines());
        for (let a = this.within, end = this.within + k; a < end; a += HEX_LINES_RECORDS) yield hex.encode(this.buf, a, Math.min(HEX_LINES_RECORDS, end - a), stored);
      } else if (k > 0) yield this.buf.subarray(this.within * this.width, (this.within + k) * this.width);
      n -= k;
      this.skip(k);
    }
  }
  private hex: HexLines | undefined;
}

/** A stored list that does not match its recorded size: the data plane's files were altered. */
export class ListIntegrityError extends Error {
  override name = 'ListIntegrityError';
}

/** Bytes of one customer file: header (optional) then the ids; size (and MD5, if the tally has one) tallied as they pass. */
export async function* customerFileBytes(
  type: IdentifierType,
  ids: AsyncIterable<Buffer>,
  header: boolean,
  tally: { md5?: ReturnType<typeof createHash>; bytes: number },
): AsyncGenerator<Buffer> {
  if (header) {
    const h = Buffer.from(`${headerOf(type)}\n`, 'latin1');
    tally.md5?.update(h);
    tally.bytes += h.length;
    yield h;
  }
  for await (const chunk of ids) {
    tally.md5?.update(chunk);
    tally.bytes += chunk.length;
    yield chunk;
  }
}

export function newTally(): { md5: ReturnType<typeof createHash>; bytes: number } {
  return { md5: createHash('md5'), bytes: 0 };
}
