import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { columnMappingOf } from '../../../src/audience-sync/config';
import { DEFAULT_PREPARE_TUNING, prepareSet, type PrepareTap, type SetResult } from '../../../src/audience-sync/prepare';
import type { IdentifierType } from '../../../src/identifiers/schema';
import type { RejectRecord } from '../../../src/snapshot';
import { openBlobStore, type BlobStore } from '../../../src/storage';
import { testTempDir } from '../../helpers/tempDir';
import { destination } from './prepareHelper';

/** About 2.5 MB of CSV: three of prepare's 1 MiB reads, with a line cut by each read's end. */
function snapshot(): Buffer {
  const lines = ['email,phone'];
  for (let i = 0; i < 60_000; i++) lines.push(`person.${i}@example.com,+1 415 555 ${String(i % 10_000).padStart(4, '0')}`);
  return Buffer.from(lines.join('\n') + '\n');
}

/** The source store, with the reads prepare opens and the buffers it reads into counted. */
function watched(store: BlobStore, withReader: boolean) {
  const seen = { openRead: 0, openReader: 0, readInto: new Set<ArrayBufferLike>() };
  const s: BlobStore = Object.create(store) as BlobStore;
  s.openRead = (key, range) => (seen.openRead++, store.openRead(key, range));
  // A store without openReader (as GCS) is read through its stream.
  (s as { openReader?: BlobStore['openReader'] }).openReader = withReader
    ? async (key, start) => {
        seen.openReader++;
        const r = await store.openReader!(key, start);
        return { ...r, read: (into, offset) => (seen.readInto.add(into.buffer), r.read(into, offset)), close: () => r.close() };
      }
    : undefined;
  return { store: s, seen };
}

/** A tap that either keeps the chunks it is given (as the lines copy does) or copies them at once. */
function tapOf(keepsChunks: boolean) {
  const kept: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const tap: PrepareTap = {
    keepsChunks,
    push: (chunk) => {
      buffers.add(chunk.buffer);
      kept.push(keepsChunks ? chunk : Buffer.from(chunk));
      return undefined;
    },
    rejects: (_: readonly RejectRecord[]) => undefined,
  };
  return { tap, kept, buffers };
}

async function prepare(dir: string, source: BlobStore, runId: string, tap?: PrepareTap): Promise<{ result: SetResult; spill: string }> {
  const config = destination();
  const mapping = columnMappingOf(config);
  const types = [...new Set(mapping.identifiers.map((i) => i.type))].sort() as IdentifierType[];
  const work = openBlobStore(join(dir, 'work'));
  const result = await prepareSet(
    work,
    runId,
    'snapshot',
    { store: source, key: 'snapshot.csv', createdAt: '2026-12-01T00:00:00.000Z' },
    { format: 'csv', mapping, normalization: { context: 'audience', phoneFormat: config.phoneFormat, defaultCountry: 'US' } },
    types,
    DEFAULT_PREPARE_TUNING,
    { checkpoint: async () => undefined },
    undefined,
    'raw',
    tap,
  );
  // What the diff reads: every spill part's bytes, in order.
  const spill = createHash('sha256');
  for (const part of result.parts) spill.update(await work.readBuffer(part.key));
  return { result, spill: spill.digest('hex') };
}

describe('prepare reads a snapshot into one recycled buffer where it can', () => {
  it('a local folder: openReader and one buffer for every read; a tap that keeps chunks gets memory of its own; a store without a reader is streamed; all three prepare the same', async () => {
    const dir = testTempDir('ttsync-prepare-reads-');
    const bytes = snapshot();
    const local = openBlobStore(join(dir, 'source'));
    await local.write('snapshot.csv', bytes);

    // No tap, and a tap that copies what it sees: the reads recycle one buffer.
    const a = watched(local, true);
    const copying = tapOf(false);
    const recycled = await prepare(dir, a.store, 'run-recycled', copying.tap);
    expect(a.seen).toMatchObject({ openRead: 0, openReader: 1 });
    expect(a.seen.readInto.size).toBe(1);
    expect(copying.kept.length).toBe(3);
    expect(copying.buffers.size).toBe(1);
    expect(Buffer.concat(copying.kept).equals(bytes)).toBe(true);

    // A tap that keeps chunks (the row index copying the lines): each chunk is its own memory,
    // so what it kept is still the snapshot once the read is over.
    const b = watched(local, true);
    const keeping = tapOf(true);
    const own = await prepare(dir, b.store, 'run-own', keeping.tap);
    expect(b.seen).toMatchObject({ openRead: 1, openReader: 0 });
    expect(keeping.kept.length).toBe(3);
    expect(keeping.buffers.size).toBe(3);
    expect(Buffer.concat(keeping.kept).equals(bytes)).toBe(true);

    // A store without openReader (GCS): its stream.
    const c = watched(local, false);
    const streamed = await prepare(dir, c.store, 'run-streamed');
    expect(c.seen).toMatchObject({ openRead: 1, openReader: 0 });

    expect(recycled.result.counts.rows).toBe(60_000);
    for (const other of [own, streamed]) {
      expect(other.result.counts).toEqual(recycled.result.counts);
      expect(other.result.parts.map((p) => [p.ids, p.offsets])).toEqual(recycled.result.parts.map((p) => [p.ids, p.offsets]));
      expect(other.spill).toBe(recycled.spill);
    }
  });
});
