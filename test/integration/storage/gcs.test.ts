import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, GcsBlobStore, StorageError, openBlob, openBlobStore, readAll, type BlobStore } from '../../../src/storage';
import { fakeGcsWithBucket, startRecordingProxy } from '../../helpers/fakeGcs';
import { blobStoreContract } from '../../unit/storage/blobStoreContract';
import { rejectionOf } from '../../helpers/rejection';

const BUCKET = 'ttsync-contract';
const gcs = fakeGcsWithBucket(BUCKET);
const KiB = 1024;
let n = 0;


const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

function gcsStore(prefix: string, extra: Record<string, unknown> = {}): BlobStore {
  return openBlobStore(`gs://${BUCKET}/${prefix}`, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test', ...extra } });
}

// Each test gets its own prefix in one bucket: isolation without a bucket per test.
blobStoreContract('GCS via fake-gcs-server', async () => gcsStore(`contract/t${++n}`));

describe('GCS adapter specifics', () => {
  it('is selected by gs:// URIs and keeps objects under the prefix', async () => {
    const store = gcsStore('nested/prefix');
    expect(store).toBeInstanceOf(GcsBlobStore);
    expect(store.uri).toBe(`gs://${BUCKET}/nested/prefix/`);
    await store.write('x.csv', 'data');
    const whole = gcsStore('');
    expect((await whole.readBuffer('nested/prefix/x.csv')).toString()).toBe('data');
    const { store: parent, key } = openBlob(`gs://${BUCKET}/nested/prefix/x.csv`, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' } });
    expect(key).toBe('x.csv');
    expect(await parent.md5Of(key)).toBe(md5(Buffer.from('data')));
  });

  it('uses a simple upload for small objects and a RESUMABLE upload above the threshold', async () => {
    const proxy = await startRecordingProxy(gcs.endpoint);
    try {
      const store = gcsStore(`resumable/t${++n}`, { apiEndpoint: proxy.endpoint, resumableThresholdBytes: 512 * KiB, resumableChunkBytes: 256 * KiB });
      const small = randomBytes(100 * KiB);
      await store.write('small.bin', small);
      const big = randomBytes(1536 * KiB + 123); // 6+ chunks of 256 KiB
      const w = await store.write('big.bin', big);
      expect(w.size).toBe(big.length);
      expect(w.md5).toBe(md5(big));
      const uploads = proxy.requests.filter((r) => r.includes('uploadType='));
      expect(uploads.filter((r) => r.includes('small.bin'))).toEqual([expect.stringContaining('uploadType=multipart')]);
      expect(uploads.filter((r) => r.includes('big.bin'))).toEqual([expect.stringContaining('uploadType=resumable')]);
      const st = await store.stat('big.bin');
      expect(st).toMatchObject({ size: big.length, md5: md5(big), generation: w.generation });
      expect(md5(await store.readBuffer('big.bin'))).toBe(md5(big)); // toEqual on MBs is slow
      // Resume-style read of the tail from an offset.
      expect(md5(await readAll(await store.openRead('big.bin', { start: 1_000_000 })))).toBe(md5(big.subarray(1_000_000)));

      // A stream of unknown length: small ones stay simple, large ones switch to resumable.
      proxy.requests.length = 0;
      await store.write('small-stream.bin', Readable.from([small.subarray(0, 1000), small.subarray(1000)]));
      const bigChunks = Array.from({ length: 12 }, () => randomBytes(100 * KiB));
      const ws = await store.write('big-stream.bin', Readable.from(bigChunks));
      expect(ws.md5).toBe(md5(Buffer.concat(bigChunks)));
      const streamUploads = proxy.requests.filter((r) => r.includes('uploadType='));
      expect(streamUploads.filter((r) => r.includes('small-stream.bin'))).toEqual([expect.stringContaining('uploadType=multipart')]);
      expect(streamUploads.filter((r) => r.includes('big-stream.bin'))).toEqual([expect.stringContaining('uploadType=resumable')]);
      expect(md5(await store.readBuffer('big-stream.bin'))).toBe(ws.md5);

      // resumable: true forces it even for a tiny object.
      proxy.requests.length = 0;
      await store.write('forced.bin', Buffer.from('tiny'), { resumable: true });
      expect(proxy.requests.filter((r) => r.includes('uploadType='))).toEqual([expect.stringContaining('uploadType=resumable')]);
      expect((await store.readBuffer('forced.bin')).toString()).toBe('tiny');
    } finally {
      await proxy.stop();
    }
  });

  it('fails a compare-and-swap with precondition_failed when the generation moved (ifGenerationMatch → 412)', async () => {
    const store = gcsStore(`cas/t${++n}`);
    const g1 = await store.writeIfGeneration('applied/pointer.json', '{"version":1}', ABSENT_GENERATION);
    const g2 = await store.writeIfGeneration('applied/pointer.json', '{"version":2}', g1.generation);
    const err = await rejectionOf(store.writeIfGeneration('applied/pointer.json', '{"version":"late"}', g1.generation), StorageError);
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toBe(`gs://${BUCKET}/cas/t${n}/applied/pointer.json changed: it is now at generation ${g2.generation}`);
    expect((await store.readBuffer('applied/pointer.json')).toString()).toBe('{"version":2}');
  });

  it('streams a compare-and-swap beyond the resumable threshold as a resumable upload whose session carries ifGenerationMatch', async () => {
    // fake-gcs-server 1.54 ignores preconditions on resumable sessions, so the proxy checks
    // what is sent, and answers a session for a stale generation with 412 as GCS does.
    const stale = new Set<string>();
    const proxy = await startRecordingProxy(gcs.endpoint, {
      answer: (line) => ([...stale].some((g) => line.includes('uploadType=resumable') && line.includes(`ifGenerationMatch=${g}`)) ? { status: 412, body: { error: { code: 412, message: 'Precondition Failed' } } } : undefined),
    });
    try {
      const store = gcsStore(`cas-stream/t${++n}`, { apiEndpoint: proxy.endpoint, resumableThresholdBytes: 256 * KiB, resumableChunkBytes: 256 * KiB, maxRetries: 0 });
      const g1 = await store.writeIfGeneration('big.bin', 'old', ABSENT_GENERATION);
      const parts = Array.from({ length: 12 }, () => randomBytes(100 * KiB));
      proxy.requests.length = 0;
      const w = await store.writeIfGeneration('big.bin', Readable.from(parts), g1.generation);
      const sessions = proxy.requests.filter((r) => r.includes('uploadType='));
      expect(sessions).toEqual([expect.stringMatching(new RegExp(`^POST .*uploadType=resumable.*ifGenerationMatch=${g1.generation}`))]);
      expect(w).toMatchObject({ size: 1200 * KiB, md5: md5(Buffer.concat(parts)) });
      expect((await store.stat('big.bin')).generation).toBe(w.generation);
      expect(md5(await store.readBuffer('big.bin'))).toBe(w.md5);

      // A writer still holding g1 is refused by the session's precondition and changes nothing.
      stale.add(g1.generation);
      const err = await rejectionOf(store.writeIfGeneration('big.bin', Readable.from(parts.map((p) => Buffer.from(p).fill(1))), g1.generation), StorageError);
      expect(err.code).toBe('precondition_failed');
      expect(err.message).toContain(`it is now at generation ${w.generation}`);
      expect(md5(await store.readBuffer('big.bin'))).toBe(w.md5);
    } finally {
      await proxy.stop();
    }
  });

  it('recognises its own compare-and-swap when the response was lost and the library retried (no false 412)', async () => {
    const proxy = await startRecordingProxy(gcs.endpoint, { loseResponseOnce: (line) => line.startsWith('POST') && line.includes('uploadType=multipart') && line.includes('ifGenerationMatch') });
    try {
      const store = gcsStore(`lost/t${++n}`, { apiEndpoint: proxy.endpoint });
      const g1 = await store.writeIfGeneration('pointer', 'v1', ABSENT_GENERATION);
      const uploads = proxy.requests.filter((r) => r.includes('uploadType=multipart'));
      expect(uploads).toHaveLength(2); // the first was applied, its answer lost; the retry met 412
      expect((await store.readBuffer('pointer')).toString()).toBe('v1');
      expect((await store.stat('pointer')).generation).toBe(g1.generation);
      // A different writer with the same bytes from the same generation is still refused.
      expect((await rejectionOf(gcsStore(`lost/t${n}`).writeIfGeneration('pointer', 'v1', ABSENT_GENERATION), StorageError)).code).toBe('precondition_failed');
    } finally {
      await proxy.stop();
    }
  });

  it('lists across pages', async () => {
    const store = gcsStore(`pages/t${++n}`, { listPageSize: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    for (const k of keys) await store.write(k, k);
    const listed: string[] = [];
    for await (const info of store.list()) listed.push(info.key);
    expect(listed).toEqual(keys);
  });

  it('names a missing bucket as such, on reads, writes and listings', async () => {
    const store = openBlobStore('gs://no-such-bucket-here/x', { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' } });
    const calls = [() => store.stat('a'), () => store.openRead('a'), () => store.write('a', 'x'), async () => {
      for await (const _ of store.list()) void _;
    }];
    for (const call of calls) {
      const err = await rejectionOf(call(), StorageError);
      expect(err.code).toBe('bucket_not_found');
      expect(err.message).toContain('the bucket gs://no-such-bucket-here does not exist');
    }
  });

  it('reports an unreachable endpoint as unavailable (retryable)', async () => {
    const store = openBlobStore(`gs://${BUCKET}/x`, { gcs: { apiEndpoint: 'http://127.0.0.1:9', projectId: 'test', maxRetries: 0 } });
    const err = await rejectionOf(store.stat('a'), StorageError);
    expect(err.code).toBe('unavailable');
    expect(err.retryable).toBe(true);
  });

  it('maps 401/403 to permission and 503 to unavailable, with the HTTP detail', async () => {
    const gcsError = (code: number, message: string) => ({ error: { code, message, errors: [{ message, domain: 'global', reason: 'x' }] } });
    const proxy = await startRecordingProxy(gcs.endpoint, {
      answer: (line) =>
        line.includes('denied') ? { status: 403, body: gcsError(403, 'caller does not have storage.objects.get access') }
        : line.includes('nokey') ? { status: 401, body: gcsError(401, 'Anonymous caller') }
        : line.includes('busy') ? { status: 503, body: gcsError(503, 'Backend Error') }
        : undefined,
    });
    try {
      const store = gcsStore(`errors/t${++n}`, { apiEndpoint: proxy.endpoint, maxRetries: 0 });
      const denied = await rejectionOf(store.stat('denied'), StorageError);
      expect(denied.code).toBe('permission');
      expect(denied.message).toContain(`not allowed to stat gs://${BUCKET}/errors/t${n}/denied (HTTP 403: caller does not have storage.objects.get access)`);
      expect(denied.retryable).toBe(false);
      expect((await rejectionOf(store.stat('nokey'), StorageError)).code).toBe('permission');
      const busy = await rejectionOf(store.stat('busy'), StorageError);
      expect(busy.code).toBe('unavailable');
      expect(busy.retryable).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('honours STORAGE_EMULATOR_HOST when no apiEndpoint is given', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    try {
      const store = openBlobStore(`gs://${BUCKET}/env-endpoint`, { gcs: { projectId: 'test' } });
      await store.write('k', 'via env');
      expect((await store.readBuffer('k')).toString()).toBe('via env');
      expect(await store.exists('k')).toBe(true);
      // The same value with the JSON API path, as some tools write it.
      process.env.STORAGE_EMULATOR_HOST = `${gcs.endpoint}/storage/v1/`;
      const store2 = openBlobStore(`gs://${BUCKET}/env-endpoint`, { gcs: { projectId: 'test' } });
      expect((await store2.stat('k')).size).toBe(7);
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
    expect((await gcsStore('env-endpoint').readBuffer('k')).toString()).toBe('via env');
  });

  it('lets an explicit apiEndpoint win over STORAGE_EMULATOR_HOST', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:9';
    try {
      const store = gcsStore('explicit-wins');
      await store.write('k', 'explicit');
      expect((await store.readBuffer('k')).toString()).toBe('explicit');
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });
});
