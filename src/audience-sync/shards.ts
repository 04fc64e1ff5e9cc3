import { DigestList } from '../identifiers/digestList';
import { moveRecord } from './digestRecords';
/**
 * Digests are uniform, so their first two hex characters split them into 256 shards of
 * even size: one shard of a 10M-row snapshot is ~40k ids per type and fits in memory,
 * which is what lets diff work one shard at a time.
 */
export const SHARD_COUNT = 256;

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

/** Shard number (0-255) of a lowercase hex digest; -1 if it does not start with two lowercase hex digits. */
export function shardOf(digest: string): number {
  return shardOfPair(digest.charCodeAt(0), digest.charCodeAt(1));
}

/** shardOf for the digest whose hex bytes start at `at` of `b`. */
function shardOfBytes(b: Uint8Array, at: number): number {
  return shardOfPair(b[at]!, b[at + 1]!);
}

/** The shard of a digest starting with these two character codes; -1 if not lowercase hex. */
function shardOfPair(a: number, b: number): number {
  if (!(a < 128 && b < 128)) return -1;
  const hi = HEX_VALUE[a]!;
  const lo = HEX_VALUE[b]!;
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/** "00".."ff": the shard's name in object keys and manifests. */
export function shardName(shard: number): string {
  return shard.toString(16).padStart(2, '0');
}

export function shardNumber(name: string): number {
  return /^[0-9a-f]{2}$/.test(name) ? parseInt(name, 16) : -1;
}

const CHUNK = 16 * 1024;
const SLAB = 64 * CHUNK;

/** One checkpoint's worth of digests, laid out shard-major for one write. */
export interface SpillBuffers {
  /** Buffers to write in order (views; valid until the next `add`). */
  chunks: Buffer[];
  /** offsets[shard * types + t] = byte offset of (shard, type t); last entry = total bytes. */
  offsets: number[];
  ids: number;
  /** The memory behind `chunks`: give it back with recycle(part) once the spill is stored. */
  owned: Buffer[];
}

/**
 * Byte value of two lowercase hex characters read as one little-endian 16-bit word
 * (first character in the low byte); -1 if either is not lowercase hex. One lookup a
 * digest byte instead of two: decoding was most of prepare's own time.
 */
const HEX_PAIR = new Int16Array(65536).fill(-1);
{
  const digits = '0123456789abcdef';
  for (let hi = 0; hi < 16; hi++) for (let lo = 0; lo < 16; lo++) HEX_PAIR[digits.charCodeAt(hi) | (digits.charCodeAt(lo) << 8)] = (hi << 4) | lo;
}

/**
 * Accepted digests of one checkpoint, per (shard, type) slot, as "digest\n" hex lines or
 * (form "records") as raw digest bytes: 65 or 32 bytes a SHA-256 id instead of ~100 as a
 * JS string, and a spill is a list of buffer views, no copy. Memory is what `bytes` says;
 * the caller spills at its bound.
 */
export class ShardBuffer {
  private slots: Buffer[][];
  /** The last chunk of each slot as 32-bit words (records are written a word at a time). */
  private tail: Uint32Array[] = [];
  private fill: Int32Array;
  /** Chunks handed out since the last recycle(), and chunks free for reuse. */
  private inUse: Buffer[] = [];
  private free: Buffer[] = [];
  bytes = 0;
  ids = 0;

  constructor(
    readonly typeCount: number,
    readonly form: 'lines' | 'records' = 'lines',
  ) {
    this.slots = [];
    this.fill = new Int32Array(SHARD_COUNT * typeCount);
    this.reset();
  }

  private reset(): void {
    this.slots = Array.from({ length: SHARD_COUNT * this.typeCount }, () => []);
    this.tail = new Array<Uint32Array>(SHARD_COUNT * this.typeCount);
    this.fill.fill(0);
    this.bytes = 0;
    this.ids = 0;
  }

  /** Adds digests of type number `t`; throws on a value that is not a lowercase hex digest start. */
  add(t: number, digests: readonly string[] | DigestList): void {
    if (digests instanceof DigestList) {
      this.addList(t, digests);
      return;
    }
    const T = this.typeCount;
    if (this.form === 'records') {
      for (const d of digests) {
        const s = shardOf(d);
        if (s < 0 || d.length > 128 || d.length % 8 !== 0 || !/^[0-9a-f]*$/.test(d)) throw new RangeError('a digest to shard is not lowercase hex');
        const slot = s * T + t;
        const need = d.length >>> 1;
        const buf = this.room(slot, need);
        const pos = this.fill[slot]!;
        buf.write(d, pos, need, 'hex');
        this.fill[slot] = pos + need;
        this.bytes += need;
      }
      this.ids += digests.length;
      return;
    }
    for (let i = 0; i < digests.length; i++) {
      const d = digests[i]!;
      const s = shardOf(d);
      if (s < 0 || d.length > 128) throw new RangeError('a digest to shard is not lowercase hex');
      const slot = s * T + t;
      const need = d.length + 1;
      const buf = this.room(slot, need);
      const pos = this.fill[slot]!;
      buf.write(d, pos, 'latin1');
      buf[pos + d.length] = 10;
      this.fill[slot] = pos + need;
      this.bytes += need;
    }
    this.ids += digests.length;
  }

  /** add() for digests as bytes (the snapshot reader's): copied, never made strings. */
  private addList(t: number, list: DigestList): void {
    // Raw digests (the reader's rawDigests) are records already: only scattered to their slots.
    if (list.raw) {
      this.addRecords(t, list.view(), list.width);
      return;
    }
    if (this.form === 'records') {
      this.addListRecords(t, list);
      return;
    }
    const T = this.typeCount;
    const src = list.bytes;
    const w = list.width;
    const need = w + 1;
    for (let i = 0; i < list.length; i++) {
      const a = i * w;
      const s = shardOfBytes(src, a);
      if (s < 0) throw new RangeError('a digest to shard is not lowercase hex');
      const slot = s * T + t;
      const buf = this.room(slot, need);
      const pos = this.fill[slot]!;
      src.copy(buf, pos, a, a + w);
      buf[pos + w] = 10;
      this.fill[slot] = pos + need;
    }
    this.bytes += need * list.length;
    this.ids += list.length;
  }

  /**
   * addList() as records: each hex digest decoded straight into its slot, a 32-bit word
   * (8 hex characters) at a time. Chunks and record offsets are 4-byte aligned.
   */
  private addListRecords(t: number, list: DigestList): void {
    const T = this.typeCount;
    const src = list.bytes;
    const w = list.width;
    const need = w >>> 1;
    // The reader's lists are word aligned; a list that is not is copied once.
    const hex = src.byteOffset % 2 === 0 ? src : Buffer.from(src);
    const pairs = new Uint16Array(hex.buffer, hex.byteOffset, hex.length >>> 1);
    const q = need >>> 2;
    for (let i = 0; i < list.length; i++) {
      let a = (i * w) >>> 1;
      const s = HEX_PAIR[pairs[a]!]!;
      if (s < 0) throw new RangeError('a digest to shard is not lowercase hex');
      const slot = s * T + t;
      this.room(slot, need);
      const words = this.tail[slot]!;
      const pos = this.fill[slot]!;
      this.fill[slot] = pos + need;
      let x = pos >>> 2;
      const end = x + q;
      for (; x < end; a += 4) {
        const b0 = HEX_PAIR[pairs[a]!]!;
        const b1 = HEX_PAIR[pairs[a + 1]!]!;
        const b2 = HEX_PAIR[pairs[a + 2]!]!;
        const b3 = HEX_PAIR[pairs[a + 3]!]!;
        if ((b0 | b1 | b2 | b3) < 0) throw new RangeError('a digest to shard is not lowercase hex');
        words[x++] = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
      }
    }
    this.bytes += need * list.length;
    this.ids += list.length;
  }

  /** Adds raw digest records of width `w` (the row cache's), a record being whole 32-bit words. */
  addRecords(t: number, records: Buffer, w: number): void {
    if (this.form !== 'records') throw new RangeError('raw digest records go to a records buffer');
    const n = records.length / w;
    if (!Number.isInteger(n) || w % 4 !== 0) throw new RangeError(`${records.length} bytes are not whole ${w}-byte records`);
    const src = records.byteOffset % 4 === 0 ? records : Buffer.from(records);
    const words = new Uint32Array(src.buffer, src.byteOffset, src.length >>> 2);
    const T = this.typeCount;
    const q = w >>> 2;
    const fill = this.fill;
    const tail = this.tail;
    for (let i = 0, k = 0; i < n; i++, k += q) {
      const slot = src[i * w]! * T + t;
      let pos = fill[slot]!;
      let out = tail[slot];
      // The slot's chunk is full (or it has none): a call only then, not per record.
      if (out === undefined || pos + w > CHUNK) {
        this.room(slot, w);
        out = tail[slot]!;
        pos = fill[slot]!;
      }
      fill[slot] = pos + w;
      moveRecord(out, pos >>> 2, words, k, q);
    }
    this.bytes += records.length;
    this.ids += n;
  }

  /** The chunk of `slot` with room for `need` more bytes (from fill[slot]), starting one if needed. */
  private room(slot: number, need: number): Buffer {
    const list = this.slots[slot]!;
    const buf = list[list.length - 1];
    const pos = this.fill[slot]!;
    if (buf !== undefined && pos + need <= buf.length) return buf;
    const next = this.free.pop() ?? this.fresh();
    this.inUse.push(next);
    list.push(next);
    this.tail[slot] = new Uint32Array(next.buffer, next.byteOffset, CHUNK >>> 2);
    // The previous chunk keeps only its filled part (its length is recorded on take).
    if (list.length > 1) list[list.length - 2] = list[list.length - 2]!.subarray(0, pos);
    this.fill[slot] = 0;
    return next;
  }

  /**
   * A new chunk, cut from a slab of SLAB bytes: one memory object per 64 chunks instead of
   * one each (a 10M-row prepare fills tens of thousands, and V8 tracks each one it sweeps).
   */
  private fresh(): Buffer {
    if (this.slabAt + CHUNK > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB);
      this.slabAt = 0;
    }
    this.slabAt += CHUNK;
    return this.slab.subarray(this.slabAt - CHUNK, this.slabAt);
  }
  private slab = Buffer.alloc(0);
  private slabAt = 0;

  /**
   * The chunks of `part` (a take()) are no longer read (its spill is stored): a later
   * checkpoint fills them again. Fresh external memory per checkpoint (64 MiB) made V8 run a
   * full collection each time. The buffer keeps filling meanwhile (prepare writes one
   * spill while it reads on), with chunks of its own.
   */
  recycle(part: SpillBuffers): void {
    for (const c of part.owned) this.free.push(c);
    part.owned = [];
  }

  /** Hands out the buffered digests in (shard, type) order and empties the buffer. */
  take(): SpillBuffers {
    const chunks: Buffer[] = [];
    const offsets: number[] = [0];
    let total = 0;
    for (let slot = 0; slot < this.slots.length; slot++) {
      const list = this.slots[slot]!;
      for (let i = 0; i < list.length; i++) {
        const c = i === list.length - 1 ? list[i]!.subarray(0, this.fill[slot]) : list[i]!;
        if (c.length) chunks.push(c);
        total += c.length;
      }
      offsets.push(total);
    }
    const ids = this.ids;
    const owned = this.inUse;
    this.inUse = [];
    this.reset();
    return { chunks, offsets, ids, owned };
  }
}
