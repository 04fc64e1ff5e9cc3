import { Worker } from 'node:worker_threads';

/**
 * MD5 of a stream of bytes on a second thread (worker_threads), so a first sync's build
 * hashes its customer files on the other core while this thread turns records into lines
 * and the store writes them: MD5 was about half of build's time on one core.
 *
 * Bytes are copied into a few buffers that go to the thread and come back (transferred,
 * never cloned): the copy costs a memcpy, and no fresh memory is made per chunk (fresh
 * external memory makes V8 run full collections). At most SLOTS buffers are out, which
 * bounds memory and makes the producer wait when the thread falls behind.
 */
const SLOTS = 4;
const SLOT_BYTES = 1 << 20;

// Plain JavaScript, run with eval: the worker needs no file of its own (dist or tests).
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let h = createHash('md5');
parentPort.on('message', (m) => {
  if (m.buf) {
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ buf: m.buf }, [m.buf]);
  } else if (m.end) {
    parentPort.postMessage({ md5: h.digest('hex') });
    h = createHash('md5');
  }
});
`;

export class Md5Thread {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private made = 0;
  private waiting: Array<() => void> = [];
  private digestWaiter: { resolve: (md5: string) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor() {
    this.worker = new Worker(SOURCE, { eval: true });
    this.worker.on('message', (m: { buf?: ArrayBuffer; md5?: string }) => {
      if (m.buf) {
        this.free.push(m.buf);
        this.waiting.shift()?.();
      } else if (m.md5 !== undefined) {
        const w = this.digestWaiter;
        this.digestWaiter = null;
        w?.resolve(m.md5);
      }
    });
    this.worker.on('error', (err: Error) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0 || this.digestWaiter || this.waiting.length) this.fail(new Error(`the MD5 thread stopped (exit code ${code})`));
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w();
    this.digestWaiter?.reject(this.failure);
    this.digestWaiter = null;
  }

  /** Adds `chunk` to the current digest (copied: the caller may reuse its memory on return). */
  async update(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += SLOT_BYTES) {
      const part = chunk.subarray(at, Math.min(chunk.length, at + SLOT_BYTES));
      const buf = await this.slot();
      new Uint8Array(buf, 0, part.length).set(part);
      this.worker.postMessage({ buf, len: part.length }, [buf]);
    }
  }

  /** The MD5 (hex) of everything added since the last digest; the next bytes start a new one. */
  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
      this.worker.postMessage({ end: true });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private async slot(): Promise<ArrayBuffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const b = this.free.pop();
      if (b) return b;
      if (this.made < SLOTS) {
        this.made++;
        return new ArrayBuffer(SLOT_BYTES);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
}
