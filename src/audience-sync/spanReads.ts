import type { Readable } from 'node:stream';
import type { BlobStore } from '../storage';

/*
 * Reads scattered byte spans of one object (the lines of a row index's lines object that a
 * sync needs again: rowIndex.ts). Spans closer than GAP are read as one sequential range in a
 * reused buffer, since at 1% churn the gone lines lie a few KiB apart and a read per line
 * would cost more than reading past the lines between: measured here, a positional read
 * through the thread pool costs 70-85 µs of CPU, reading on sequentially 0.5-0.6 ms per MiB,
 * so a read pays off past about 150 KiB of gap. Farther apart, the bytes between are not read.
 * Where a range costs a request (a store without positional reads: GCS) the gap is 8 MiB.
 */

const GAP = 256 << 10;
const STREAM_GAP = 8 << 20;
const PIECE = 1 << 20;

/** Spans sorted by start: span k is [at[k], at[k] + len[k]). */
export interface Spans {
  at: ArrayLike<number>;
  len: ArrayLike<number>;
  n: number;
}

/** What span reads hand each span to: an object, not a callback, for the reason EntryVisitor gives (rowIndexLayers.ts). */
export interface SpanVisitor {
  /** Span k's bytes are buf[start, start + len[k]), valid during the call. */
  span(buf: Buffer, start: number, k: number): void;
}

interface RangeSource {
  /** Reads at most `max` more bytes into into[offset..]; 0 at the end of the range. */
  read(into: Buffer, offset: number, max: number): Promise<number>;
  close(): Promise<void>;
}

/** Opens ranges of one object: positional reads through one handle where the store has them, a ranged stream each otherwise. */
async function rangeOpener(store: BlobStore, key: string): Promise<{ open: (start: number, end: number) => Promise<RangeSource>; gap: number; close: () => Promise<void> }> {
  if (store.openReader) {
    const r = await store.openReader(key);
    const readAt = r.readAt?.bind(r);
    if (readAt)
      return {
        gap: GAP,
        open: async (start, end) => {
          let pos = start;
          return {
            read: async (into, offset, max) => {
              const want = Math.min(max, end - pos);
              if (want <= 0) return 0;
              const n = await readAt(into, offset, want, pos);
              pos += n;
              return n;
            },
            close: async () => undefined,
          };
        },
        close: () => r.close(),
      };
    await r.close();
  }
  // A request per range (GCS): lines closer than STREAM_GAP share one.
  return { gap: STREAM_GAP, open: (start, end) => openRange(store, key, start, end), close: async () => undefined };
}

async function openRange(store: BlobStore, key: string, start: number, end: number): Promise<RangeSource> {
  if (store.openReader) {
    const r = await store.openReader(key, start);
    let left = end - start;
    return {
      read: async (into, offset, max) => {
        const want = Math.min(max, left);
        if (want <= 0) return 0;
        const n = await r.read(into.subarray(0, offset + want), offset);
        left -= n;
        return n;
      },
      close: () => r.close(),
    };
  }
  const stream: Readable = await store.openRead(key, { start, end: end - 1 });
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let chunk: Buffer | null = null;
  let pos = 0;
  return {
    read: async (into, offset, max) => {
      if (!chunk || pos === chunk.length) {
        const next = await it.next();
        if (next.done) return 0;
        chunk = next.value;
        pos = 0;
      }
      const n = chunk.copy(into, offset, pos, pos + Math.min(max, chunk.length - pos));
      pos += n;
      return n;
    },
    close: async () => {
      stream.destroy();
    },
  };
}

/** Hands each span k to `visitor` in order. `cut` is thrown when the object ends before a span does. */
export async function readSpans(store: BlobStore, key: string, spans: Spans, visitor: SpanVisitor, cut: () => Error): Promise<void> {
  for await (const _ of eachSpan(store, key, spans, visitor, cut));
}

/** readSpans, yielding after each read: a consumer can pass on what `visitor` made of the spans so far before more are read. */
export async function* eachSpan(store: BlobStore, key: string, spans: Spans, visitor: SpanVisitor, cut: () => Error): AsyncGenerator<void> {
  const { at, len, n } = spans;
  if (n === 0) return;
  let buf = Buffer.allocUnsafeSlow(PIECE);
  const ranges = await rangeOpener(store, key);
  try {
  let k = 0;
  while (k < n) {
    let j = k + 1;
    let end = at[k]! + len[k]!;
    for (; j < n && at[j]! <= end + ranges.gap; j++) end = Math.max(end, at[j]! + len[j]!);
    let winStart = at[k]!;
    let fill = 0;
    const src = await ranges.open(winStart, end);
    try {
      for (; k < j; k++) {
        const s = at[k]!;
        const e = s + len[k]!;
        while (winStart + fill < e) {
          if (fill === buf.length) {
            // Keep only what the spans from here on can still use.
            const from = Math.min(Math.max(s - winStart, 0), fill);
            if (from === 0) {
              const b = Buffer.allocUnsafeSlow(buf.length * 2);
              buf.copy(b, 0, 0, fill);
              buf = b;
            } else {
              buf.copy(buf, 0, from, fill);
              fill -= from;
              winStart += from;
            }
            continue;
          }
          const got = await src.read(buf, fill, Math.min(buf.length - fill, end - (winStart + fill)));
          if (got === 0) throw cut();
          fill += got;
          yield;
        }
        visitor.span(buf, s - winStart, k);
      }
    } finally {
      await src.close();
    }
  }
  } finally {
    await ranges.close();
  }
}

/** Bytes [start, end) of an object in pieces, each valid until the next is asked for. */
export async function* rangePieces(store: BlobStore, key: string, start: number, end: number, cut: () => Error): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const buf = Buffer.allocUnsafeSlow(Math.min(PIECE, end - start));
  const src = await openRange(store, key, start, end);
  try {
    for (let left = end - start; left > 0; ) {
      const got = await src.read(buf, 0, Math.min(buf.length, left));
      if (got === 0) throw cut();
      left -= got;
      yield buf.subarray(0, got);
    }
  } finally {
    await src.close();
  }
}

/**
 * Reads an object front to back in spans of any length, each copied where the caller says:
 * one open read for an object read as a sequence of ranges (a row index build's spills, range
 * by range), not one per range.
 */
export class ByteCursor {
  private readonly pieces: AsyncGenerator<Buffer>;
  private cur: Buffer | null = null;
  private pos = 0;

  constructor(store: BlobStore, key: string, size: number, private readonly cut: () => Error) {
    this.pieces = rangePieces(store, key, 0, size, cut);
  }

  /** Copies the next n bytes to dst at `at`. */
  async readInto(dst: Uint8Array, at: number, n: number): Promise<void> {
    while (n > 0) {
      // A piece is valid until the next is asked for: it is used up before that.
      if (!this.cur || this.pos === this.cur.length) {
        const next = await this.pieces.next();
        if (next.done) throw this.cut();
        this.cur = next.value;
        this.pos = 0;
      }
      const k = Math.min(n, this.cur.length - this.pos);
      dst.set(this.cur.subarray(this.pos, this.pos + k), at);
      this.pos += k;
      at += k;
      n -= k;
    }
  }

  async close(): Promise<void> {
    await this.pieces.return(undefined);
  }
}
