import { join } from 'node:path';
import { columnMappingOf, parseDestinationConfig, type DestinationConfig } from '../../../src/audience-sync/config';
import { DEFAULT_PREPARE_TUNING, prepareSet, type SetResult } from '../../../src/audience-sync/prepare';
import { openBlobStore } from '../../../src/storage';
import type { RejectValueMode } from '../../../src/snapshot';
import type { IdentifierType } from '../../../src/identifiers/schema';
import { testTempDir } from '../../helpers/tempDir';

/** A destination with an email and a phone column, as the prepare step of a cycle reads it. */
export function destination(over: Record<string, unknown> = {}): DestinationConfig {
  return parseDestinationConfig({
    destinationId: 'fuzz',
    advertiserId: '111',
    audienceName: 'Fuzzed audience',
    action: 'create',
    identifiers: { email: 'email', phone: 'phone' },
    defaultCountry: 'US',
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: 'seg-1',
    ...over,
  });
}

/** Runs the audience sync's prepare path (SnapshotReader → spill parts + rejects) on `bytes` in a fresh folder, removed when the test ends. */
export async function prepareBytes(
  bytes: Buffer | string,
  opts: { config?: DestinationConfig; rejectValues?: RejectValueMode; dir?: string; format?: 'csv' | 'ndjson' } = {},
): Promise<{ result: SetResult; rejectsCsv: string; dir: string }> {
  const config = opts.config ?? destination();
  const dir = opts.dir ?? testTempDir('ttsync-prepare-');
  const source = openBlobStore(join(dir, 'source'));
  const work = openBlobStore(join(dir, 'work'));
  const key = opts.format === 'ndjson' ? 'snapshot.ndjson' : 'snapshot.csv';
  await source.write(key, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  const mapping = columnMappingOf(config);
  const types = [...new Set(mapping.identifiers.map((i) => i.type))].sort() as IdentifierType[];
  const result = await prepareSet(
    work,
    'fuzz.000001.0123456789abcdef',
    'snapshot',
    { store: source, key, createdAt: '2026-12-01T00:00:00.000Z' },
    { format: opts.format ?? 'csv', mapping, normalization: { context: 'audience', phoneFormat: config.phoneFormat, ...(config.defaultCountry ? { defaultCountry: config.defaultCountry } : {}) } },
    types,
    DEFAULT_PREPARE_TUNING,
    { checkpoint: async () => undefined },
    undefined,
    opts.rejectValues ?? 'raw',
  );
  const rejectsCsv = (await work.readBuffer(result.rejectsUri.replace(work.uri, '').split('/').map(decodeURIComponent).join('/'))).toString('utf8');
  return { result, rejectsCsv, dir };
}
