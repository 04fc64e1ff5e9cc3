import type { BlobStore, WriteResult } from '../storage';

/*
 * An object written from chunks a producer pushes while it does other work with them (prepare
 * copies the snapshot it reads into the row index's lines object: rowIndex.ts). The store
 * pulls the chunks as it writes; the producer waits once more than `limit` bytes are queued,
 * so memory stays bounded whichever side is slower. The chunks are held, not copied: the
 * producer must not reuse their memory.
 */
export class QueuedWrite {
  private queue: Buffer[] = [];
  private head = 0;
  private queued = 0;
  private ended = false;
  private failure: Error | null = null;
  /** The store waits for a chunk. */
  private wake: (() => void) | null = null;
  /** The producer waits for room. */
  private room: (() => void) | null = null;
  /** Bytes pushed so far. */
  bytes = 0;
  readonly done: Promise<WriteResult>;

  constructor(work: BlobStore, key: string, private readonly limit = 8 << 20) {
    this.done = work.write(key, this.source(), { md5: false, contentType: 'application/octet-stream' });
    this.done.catch((err: unknown) => {
      // The producer must not wait for room that never comes.
      this.failure ??= err as Error;
      this.queue = [];
      this.queued = 0;
      this.letIn();
    });
  }

  /** Queues a chunk; a promise when the producer should wait for the store to catch up. */
  push(chunk: Buffer): Promise<void> | undefined {
    if (this.failure || this.ended || chunk.length === 0) return undefined;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.bytes += chunk.length;
    this.wake?.();
    if (this.queued < this.limit) return undefined;
    return new Promise((resolve) => {
      this.room = resolve;
    });
  }

  /** No more chunks: resolves once the object is stored (rejects with the store's error). */
  end(): Promise<WriteResult> {
    this.ended = true;
    this.wake?.();
    return this.done;
  }

  /** Gives up: the store sees its source fail and keeps nothing. */
  abort(reason: Error): void {
    this.failure ??= reason;
    this.wake?.();
    this.letIn();
  }

  private letIn(): void {
    const r = this.room;
    this.room = null;
    r?.();
  }

  private async *source(): AsyncGenerator<Buffer> {
    for (;;) {
      while (this.head < this.queue.length && !this.failure) {
        const c = this.queue[this.head++]!;
        this.queued -= c.length;
        if (this.head > 64) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        if (this.queued <= this.limit >>> 1) this.letIn();
        yield c;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }
}
