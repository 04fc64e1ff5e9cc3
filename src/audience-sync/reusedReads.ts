import type { BlobStore } from '../storage';

/*
 * Sequential reads into one recycled buffer (BlobStore.openReader, local folders), or the
 * store's stream where there is no such reader. A buffer per read chunk counts towards V8's
 * external-memory trigger: reading a snapshot twice and an index twice that way ran several
 * full collections per sync (measured: the garbage collector was a third of a delta prepare).
 */

const PIECE = 1 << 20;

/** The object's bytes in order from byte `start` on; each piece is valid until the next is asked for. */
export async function* pieces(store: BlobStore, key: string, size = PIECE, start = 0): AsyncGenerator<Buffer> {
  if (store.openReader) {
    const r = await store.openReader(key, start);
    const buf = Buffer.allocUnsafeSlow(size);
    try {
      for (;;) {
        const n = await r.read(buf, 0);
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      await r.close();
    }
  }
  // Without a reader: the store's stream (its chunks are memory of their own, which is also valid).
  yield* ownChunks(store, key, start);
}

/** The object's bytes from byte `start` on, each chunk in memory of its own (for a consumer that keeps chunks). */
export async function* ownChunks(store: BlobStore, key: string, start = 0): AsyncGenerator<Buffer> {
  const stream = await store.openRead(key, start ? { start } : {});
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } finally {
    stream.destroy();
  }
}

/**
 * The object as pieces that each hold whole records, where `wholeEnd(buf, n)` says where the
 * last whole record of buf[0, n) ends. Each piece is valid until the next is asked for; bytes
 * left at the end (a cut record) throw `cut`.
 */
export async function* wholeRecords(store: BlobStore, key: string, wholeEnd: (buf: Buffer, n: number) => number, cut: () => Error): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafeSlow(4 << 20);
  let fill = 0;
  const more = (need: number): void => {
    if (fill + need <= buf.length) return;
    const b = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, fill + need));
    buf.copy(b, 0, 0, fill);
    buf = b;
  };
  const emit = function* (): Generator<Buffer> {
    const end = wholeEnd(buf, fill);
    if (end > 0) {
      yield buf.subarray(0, end);
      buf.copy(buf, 0, end, fill);
      fill -= end;
    }
  };
  if (store.openReader) {
    const r = await store.openReader(key);
    try {
      for (;;) {
        if (fill === buf.length) more(buf.length);
        const n = await r.read(buf, fill);
        if (n === 0) break;
        fill += n;
        yield* emit();
      }
    } finally {
      await r.close();
    }
  } else {
    const stream = await store.openRead(key);
    try {
      for await (const c of stream) {
        const chunk = c as Buffer;
        more(chunk.length);
        fill += chunk.copy(buf, fill);
        yield* emit();
      }
    } finally {
      stream.destroy();
    }
  }
  if (fill > 0) throw cut();
}
