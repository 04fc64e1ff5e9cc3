import { Readable } from 'node:stream';
import type { IdentifierType } from '../identifiers/schema';
import type { BlobStore } from '../storage';
import { digestWidth } from './customerFiles';
import type { ListAt } from './schemas';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { mapLimit } from './pool';
import type { Stores } from './stores';

/** Bytes of one line of a type's lists ("digest\n"). */
export function lineWidth(type: IdentifierType): number {
  return digestWidth(type) + 1;
}

/** Bytes of one record of a type's lists (the raw digest). */
export function recordWidth(type: IdentifierType): number {
  return digestWidth(type) >>> 1;
}

/** Reads `bytes` bytes at `start` of the object at `uri`; a short read is corrupt data. */
export async function readRange(stores: Stores, uri: string, start: number, bytes: number): Promise<Buffer> {
  if (bytes === 0) return Buffer.alloc(0);
  const { store, key } = stores.object(uri);
  const stream = await store.openRead(key, { start, end: start + bytes - 1 });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (buf.length !== bytes)
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${uri}: read ${buf.length} bytes at ${start}, expected ${bytes}; the object is shorter than its summary says`);
  return buf;
}

/**
 * Reads `into.length` bytes at `start` of the object at `uri` into `into` where the store
 * reads into the caller's memory (local folders); elsewhere a fresh buffer as readRange.
 */
async function readRangeInto(stores: Stores, uri: string, start: number, into: Buffer): Promise<Buffer> {
  const { store, key } = stores.object(uri);
  if (!store.openReader || into.length === 0) return readRange(stores, uri, start, into.length);
  const reader = await store.openReader(key, start);
  let filled = 0;
  try {
    for (let n = -1; n !== 0 && filled < into.length; filled += n) n = await reader.read(into, filled);
  } finally {
    await reader.close();
  }
  if (filled !== into.length)
    throw new AudienceDataError(AudienceDataErrorTypes.corruptData, `${uri}: read ${filled} bytes at ${start}, expected ${into.length}; the object is shorter than its summary says`);
  return into;
}

/**
 * Reads many lists with few requests: lists adjacent in the same object are read as one
 * range (up to `maxSpan` bytes), several ranges at a time. With `room` (at least the lists'
 * bytes together), the ranges are read into it where the store allows, instead of into
 * fresh memory.
 */
export async function readLists(stores: Stores, refs: readonly { uri: string; start: number; bytes: number }[], maxSpan: number, concurrency: number, room?: Buffer): Promise<Buffer[]> {
  const order = refs.map((_, i) => i).sort((a, b) => {
    const x = refs[a]!;
    const y = refs[b]!;
    return x.uri < y.uri ? -1 : x.uri > y.uri ? 1 : x.start - y.start;
  });
  const spans: { uri: string; start: number; end: number; members: number[] }[] = [];
  for (const i of order) {
    const r = refs[i]!;
    const last = spans[spans.length - 1];
    if (last && last.uri === r.uri && r.start >= last.start && r.start <= last.end && Math.max(last.end, r.start + r.bytes) - last.start <= maxSpan) {
      last.end = Math.max(last.end, r.start + r.bytes);
      last.members.push(i);
    } else spans.push({ uri: r.uri, start: r.start, end: r.start + r.bytes, members: [i] });
  }
  const out = new Array<Buffer>(refs.length);
  // Each span's place in `room`: spans join only touching or overlapping lists, so they fit.
  const at: number[] = [];
  let used = 0;
  for (const span of spans) {
    at.push(used);
    used += span.end - span.start;
  }
  if (room && room.length < used) throw new RangeError(`${used} bytes of lists do not fit in ${room.length} bytes`);
  await mapLimit(spans.map((span, k) => ({ span, k })), concurrency, async ({ span, k }) => {
    const bytes = span.end - span.start;
    const buf = room ? await readRangeInto(stores, span.uri, span.start, room.subarray(at[k]!, at[k]! + bytes)) : await readRange(stores, span.uri, span.start, bytes);
    for (const i of span.members) {
      const r = refs[i]!;
      out[i] = buf.subarray(r.start - span.start, r.start - span.start + r.bytes);
    }
  });
  return out;
}

/** Collects lists into one object: each `add` returns where the list will be. */
export class ListPacker {
  private readonly chunks: Buffer[] = [];
  size = 0;
  constructor(
    private readonly work: BlobStore,
    readonly key: string,
  ) {}

  /**
   * `records`: a digest record list (digestRecords.ts); kept by reference until flush. A list
   * that continues the previous one in memory joins it (lists made one after another in one
   * buffer are written as one chunk).
   */
  add(records: Buffer): ListAt {
    const start = this.size;
    const last = this.chunks[this.chunks.length - 1];
    if (last && records.length && last.buffer === records.buffer && last.byteOffset + last.length === records.byteOffset)
      this.chunks[this.chunks.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + records.length);
    else if (records.length) this.chunks.push(records);
    this.size += records.length;
    return { uri: this.work.uriOf(this.key), start, format: 'records' };
  }

  /** Writes the object if any list was added. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    // The lists as they are: a concatenated copy would double the step's memory and time.
    await this.work.write(this.key, this.chunks.length === 1 ? this.chunks[0]! : Readable.from(this.chunks, { objectMode: false }), { contentType: 'application/octet-stream', md5: false });
  }
}
