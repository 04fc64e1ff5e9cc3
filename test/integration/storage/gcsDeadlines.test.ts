import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, StorageError, openBlobStore, readAll, type BlobStore } from '../../../src/storage';
import { fakeGcsWithBucket } from '../../helpers/fakeGcs';
import { rejectionOf } from '../../helpers/rejection';

/*
 * Per-request deadlines and stream stall limits of the GCS store, against the real client
 * library and fake-gcs-server, with a proxy in between that can stop answering.
 */

const BUCKET = 'ttsync-deadlines';
const gcs = fakeGcsWithBucket(BUCKET);
const KiB = 1024;
const MiB = 1024 * KiB;
/** Room over a computed bound for a 2-core machine busy with other tests; far below the minutes a missing deadline costs. */
const SLACK_MS = 3000;
let n = 0;


const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/**
 * What the proxy does with a request:
 * - forward: pass it and its answer through;
 * - silent: read the request, never answer (a server that accepted and hangs);
 * - answer-lost: forward the request, let the server apply it, never pass its answer on;
 * - cut-body: pass the answer's headers and its first `bytes` bytes, then nothing more;
 * - trickle: pass the answer `bytes` at a time, one piece every `everyMs` (a slow but moving link).
 */
type Behaviour = { mode: 'forward' } | { mode: 'silent' } | { mode: 'answer-lost' } | { mode: 'cut-body'; bytes: number } | { mode: 'trickle'; bytes: number; everyMs: number };

interface StallingProxy {
  endpoint: string;
  /** "METHOD path?query" of every request the proxy received. */
  requests: string[];
  /** From now on, requests that `match` accepts (all when omitted) get `behaviour`; the others are forwarded. */
  set(behaviour: Behaviour, match?: (requestLine: string) => boolean): void;
  stop(): Promise<void>;
}

async function startStallingProxy(target: string): Promise<StallingProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  let rule: { behaviour: Behaviour; match: (line: string) => boolean } = { behaviour: { mode: 'forward' }, match: () => true };
  let origin = '';
  const server = createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    const b: Behaviour = rule.match(line) ? rule.behaviour : { mode: 'forward' };
    if (b.mode === 'silent') {
      req.resume();
      return;
    }
    const fwd = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (up) => {
      // Resumable upload sessions name the server's own URL; keep their chunks on the proxy.
      const headers: IncomingHttpHeaders = { ...up.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(upstream.origin, origin);
      if (b.mode === 'answer-lost') {
        up.resume();
        return;
      }
      res.writeHead(up.statusCode ?? 502, headers);
      if (b.mode === 'cut-body') {
        let left = b.bytes;
        up.on('data', (chunk: Buffer) => {
          if (left > 0) res.write(chunk.subarray(0, left));
          left -= chunk.length;
        });
        return;
      }
      if (b.mode === 'trickle') {
        up.pipe(trickle(b.bytes, b.everyMs)).pipe(res);
        return;
      }
      up.pipe(res);
    });
    fwd.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: origin,
    requests,
    set: (behaviour, match = () => true) => {
      rule = { behaviour, match };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function trickle(bytes: number, everyMs: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      void (async () => {
        for (let i = 0; i < chunk.length; i += bytes) {
          this.push(chunk.subarray(i, i + bytes));
          await sleep(everyMs);
        }
      })().then(() => cb(), cb);
    },
  });
}

function store(endpoint: string, prefix: string, extra: Record<string, unknown> = {}): BlobStore {
  return openBlobStore(`gs://${BUCKET}/${prefix}`, { gcs: { apiEndpoint: endpoint, projectId: 'test', ...extra } });
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

describe('GCS per-request deadline', () => {
  it('fails a stat the server never answers as unavailable after the library retried it, naming the URI and the deadline; the store works once the server answers again', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `stat/t${++n}`;
      await store(gcs.endpoint, prefix).write('snapshot.csv', 'a,b\n');
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 1000, maxRetries: 1 });
      proxy.set({ mode: 'silent' });
      const { value: err, ms } = await timed(rejectionOf(s.stat('snapshot.csv'), StorageError));
      expect(err.code).toBe('unavailable');
      expect(err.retryable).toBe(true);
      expect(err.uri).toBe(`gs://${BUCKET}/${prefix}/snapshot.csv`);
      expect(err.message).toBe(`cannot stat gs://${BUCKET}/${prefix}/snapshot.csv: storage did not answer within 1 s (the deadline of one request, TTSYNC_GCS_REQUEST_TIMEOUT)`);
      // Two attempts of 1 s (the first and one retry) and a backoff of 2-3 s between them.
      const statRequests = proxy.requests.filter((r) => r.startsWith('GET ') && r.includes('snapshot.csv') && !r.includes('alt=media'));
      expect(statRequests).toHaveLength(2);
      expect(ms).toBeGreaterThanOrEqual(2 * 1000 + 2000 - 50);
      expect(ms).toBeLessThan(2 * 1000 + 3000 + SLACK_MS);

      proxy.set({ mode: 'forward' });
      expect(await s.stat('snapshot.csv')).toMatchObject({ size: 4, md5: md5(Buffer.from('a,b\n')) });
      expect((await s.readBuffer('snapshot.csv')).toString()).toBe('a,b\n');
    } finally {
      await proxy.stop();
    }
  });

  it('bounds every call with a small answer the same way: reads, lists, deletes, simple and conditional uploads', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `small/t${++n}`;
      const direct = store(gcs.endpoint, prefix);
      const pointer = await direct.writeIfGeneration('pointer.json', '{"v":1}', ABSENT_GENERATION);
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 500, maxRetries: 0 });
      proxy.set({ mode: 'silent' });
      const uri = (key: string): string => `gs://${BUCKET}/${prefix}/${key}`;
      const calls: Array<[action: string, key: string, call: () => Promise<unknown>]> = [
        ['read', 'pointer.json', () => s.readBuffer('pointer.json')],
        ['read', 'pointer.json', () => s.openRead('pointer.json')],
        ['stat', 'pointer.json', () => s.md5Of('pointer.json')],
        ['write', 'small.bin', () => s.write('small.bin', 'tiny')],
        ['write', 'pointer.json', () => s.writeIfGeneration('pointer.json', '{"v":2}', pointer.generation)],
        ['delete', 'pointer.json', () => s.delete('pointer.json')],
      ];
      const t0 = performance.now();
      const errors = await Promise.all(calls.map(([, , call]) => rejectionOf(call(), StorageError)));
      const listErr = await rejectionOf(
        (async () => {
          for await (const info of s.list()) void info;
        })(),
        StorageError,
      );
      // Seven calls of one 0.5 s attempt each, six of them at once; the conditional write then
      // stats the object for its own write (below) for another 0.5 s.
      expect(performance.now() - t0).toBeLessThan(2 * 500 + SLACK_MS);
      calls.forEach(([action, key], i) => {
        expect(errors[i]!.code).toBe('unavailable');
        expect(errors[i]!.message).toBe(`cannot ${action} ${uri(key)}: storage did not answer within 0.5 s (the deadline of one request, TTSYNC_GCS_REQUEST_TIMEOUT)`);
      });
      expect(listErr.code).toBe('unavailable');
      expect(listErr.message).toBe(`cannot list gs://${BUCKET}/${prefix}/: storage did not answer within 0.5 s (the deadline of one request, TTSYNC_GCS_REQUEST_TIMEOUT)`);
      // Nothing the silent server received was applied: the pointer is as it was.
      expect((await direct.stat('pointer.json')).generation).toBe(pointer.generation);
    } finally {
      await proxy.stop();
    }
  });

  it('recognises its own conditional write that landed while its answer missed the deadline, and still fails when it did not land', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `cas-lost/t${++n}`;
      const direct = store(gcs.endpoint, prefix);
      const g1 = await direct.writeIfGeneration('pointer.json', '{"v":1}', ABSENT_GENERATION);
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 500, maxRetries: 0 });
      const isUpload = (line: string): boolean => line.startsWith('POST ') && line.includes('uploadType=multipart');
      proxy.set({ mode: 'answer-lost' }, isUpload);
      const w = await s.writeIfGeneration('pointer.json', '{"v":2}', g1.generation);
      expect(w).toMatchObject({ size: 7, md5: md5(Buffer.from('{"v":2}')) });
      expect((await direct.stat('pointer.json')).generation).toBe(w.generation);
      expect((await direct.readBuffer('pointer.json')).toString()).toBe('{"v":2}');

      // Not applied at all: still the deadline's unavailable, and the pointer unchanged.
      proxy.set({ mode: 'silent' }, isUpload);
      const err = await rejectionOf(s.writeIfGeneration('pointer.json', '{"v":3}', w.generation), StorageError);
      expect(err.code).toBe('unavailable');
      expect(err.message).toBe(`cannot write gs://${BUCKET}/${prefix}/pointer.json: storage did not answer within 0.5 s (the deadline of one request, TTSYNC_GCS_REQUEST_TIMEOUT)`);
      expect((await direct.readBuffer('pointer.json')).toString()).toBe('{"v":2}');
    } finally {
      await proxy.stop();
    }
  });
});

describe('GCS stream stall limit', () => {
  it('fails a read whose body stops mid-way as unavailable, naming the URI and the limit', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `read-stall/t${++n}`;
      const data = randomBytes(2 * MiB);
      await store(gcs.endpoint, prefix).write('big.bin', data);
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 5000, stallTimeoutMs: 1000 });
      proxy.set({ mode: 'cut-body', bytes: 300 * KiB }, (line) => line.includes('alt=media'));
      const stream = await s.openRead('big.bin');
      let received = 0;
      const { value: err, ms } = await timed(
        rejectionOf(
          (async () => {
            for await (const c of stream as AsyncIterable<Buffer>) received += c.length;
          })(),
          StorageError,
        ),
      );
      expect(err.code).toBe('unavailable');
      expect(err.message).toBe(`cannot read gs://${BUCKET}/${prefix}/big.bin: the transfer stalled, no bytes moved for 1 s (TTSYNC_GCS_STALL_TIMEOUT)`);
      expect(received).toBe(300 * KiB);
      // About the limit after the last byte, well before the request deadline.
      expect(ms).toBeGreaterThanOrEqual(1000 - 50);
      expect(ms).toBeLessThan(2 * 1000 + SLACK_MS);

      // readBuffer (small objects) stalls out at the tighter of the two limits.
      const tight = store(proxy.endpoint, prefix, { requestTimeoutMs: 700, stallTimeoutMs: 5000 });
      const small = await timed(rejectionOf(tight.readBuffer('big.bin'), StorageError));
      expect(small.value.message).toBe(`cannot read gs://${BUCKET}/${prefix}/big.bin: the transfer stalled, no bytes moved for 0.7 s (TTSYNC_GCS_STALL_TIMEOUT)`);
      expect(small.ms).toBeLessThan(2 * 700 + SLACK_MS);

      proxy.set({ mode: 'forward' });
      expect(md5(await readAll(await s.openRead('big.bin')))).toBe(md5(data));
    } finally {
      await proxy.stop();
    }
  });

  it('lets a large read that keeps moving run far past both limits, and does not count time its reader spends paused', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `read-slow/t${++n}`;
      const data = randomBytes(6 * MiB);
      await store(gcs.endpoint, prefix).write('big.bin', data);
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 1000, stallTimeoutMs: 1000 });
      // 64 KiB every 20 ms: about 2 s for the object, each gap far below the limit.
      proxy.set({ mode: 'trickle', bytes: 64 * KiB, everyMs: 20 }, (line) => line.includes('alt=media'));
      const slow = await timed(readAll(await s.openRead('big.bin')));
      expect(md5(slow.value)).toBe(md5(data));
      expect(slow.ms).toBeGreaterThan(1.5 * 1000);

      // A reader that stops for longer than the limit and then carries on.
      proxy.set({ mode: 'forward' });
      const stream = await s.openRead('big.bin');
      const chunks: Buffer[] = [];
      let paused = false;
      for await (const c of stream as AsyncIterable<Buffer>) {
        chunks.push(c);
        if (!paused && chunks.length === 3) {
          paused = true;
          await sleep(2500);
        }
      }
      expect(md5(Buffer.concat(chunks))).toBe(md5(data));
    } finally {
      await proxy.stop();
    }
  });

  it('lets a resumable upload whose producer pauses longer than the limit complete: only waiting on storage counts', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `upload-slow/t${++n}`;
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 1000, stallTimeoutMs: 1000, resumableThresholdBytes: 256 * KiB, resumableChunkBytes: 256 * KiB });
      const parts = Array.from({ length: 8 }, () => randomBytes(128 * KiB));
      async function* slowly(): AsyncGenerator<Buffer> {
        for (const [i, part] of parts.entries()) {
          // Mid-chunk (after 5 parts: 2.5 chunks of 256 KiB) and at the end, as a producer still computing.
          if (i === 5) await sleep(1800);
          yield part;
        }
        await sleep(1800);
      }
      const w = await timed(s.write('slow.bin', Readable.from(slowly())));
      expect(w.value).toMatchObject({ size: 8 * 128 * KiB, md5: md5(Buffer.concat(parts)) });
      expect(w.ms).toBeGreaterThan(2 * 1800);
      expect(proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('upload_id=')).length).toBeGreaterThanOrEqual(4);
      expect(md5(await store(gcs.endpoint, prefix).readBuffer('slow.bin'))).toBe(w.value.md5);
    } finally {
      await proxy.stop();
    }
  });

  it('fails a resumable upload whose chunk or session the server never answers as unavailable; the same store uploads once it answers', async () => {
    const proxy = await startStallingProxy(gcs.endpoint);
    try {
      const prefix = `upload-stall/t${++n}`;
      const s = store(proxy.endpoint, prefix, { requestTimeoutMs: 5000, stallTimeoutMs: 1000, resumableThresholdBytes: 256 * KiB, resumableChunkBytes: 256 * KiB });
      const parts = Array.from({ length: 8 }, () => randomBytes(128 * KiB));
      proxy.set({ mode: 'silent' }, (line) => line.startsWith('PUT ') && line.includes('upload_id='));
      const { value: err, ms } = await timed(rejectionOf(s.write('big.bin', Readable.from(parts)), StorageError));
      expect(err.code).toBe('unavailable');
      expect(err.message).toBe(`cannot write gs://${BUCKET}/${prefix}/big.bin: the transfer stalled, no bytes moved for 1 s (TTSYNC_GCS_STALL_TIMEOUT)`);
      expect(ms).toBeLessThan(2 * 1000 + SLACK_MS);
      // The session was opened through the proxy and its first chunk reached it.
      expect(proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('upload_id='))).toHaveLength(1);
      expect(await store(gcs.endpoint, prefix).exists('big.bin')).toBe(false);

      // A session that is never opened: the library holds the bytes it was given and sends none.
      proxy.set({ mode: 'silent' }, (line) => line.startsWith('POST ') && line.includes('uploadType=resumable'));
      const opening = await timed(rejectionOf(s.write('big.bin', Readable.from(parts)), StorageError));
      expect(opening.value.message).toBe(`cannot write gs://${BUCKET}/${prefix}/big.bin: the transfer stalled, no bytes moved for 1 s (TTSYNC_GCS_STALL_TIMEOUT)`);
      expect(opening.ms).toBeLessThan(2 * 1000 + SLACK_MS);

      proxy.set({ mode: 'forward' });
      const w = await s.write('big.bin', Readable.from(parts));
      expect(w).toMatchObject({ size: 8 * 128 * KiB, md5: md5(Buffer.concat(parts)) });
      expect(md5(await store(gcs.endpoint, prefix).readBuffer('big.bin'))).toBe(w.md5);
    } finally {
      await proxy.stop();
    }
  });
});
