import { SnapshotReader, type RejectRecord, type SnapshotCounts, type SnapshotPosition, type SnapshotReadOptions } from '../../../src/snapshot';
import type { SnapshotReaderLimits } from '../../../src/snapshot';

export const H = {
  a: '478abec7430569163161dfea8513b8ce89d05f559456a26e945c66e1fe55a29d', // a@x.com
  b: '48232851fed9ddb94545c01e2d440a96399066d00e0f7810ecc954dec9991301', // b@y.com
  c: '115625206df0090de08bd4802032d7593444282e99ed255a2c4eb4e8824eb3ff', // c@z.com
  quote: '98a016588095305f07e8688608e0d209bd07dacb64541f8759ac3fabd65e387d', // quo"te@x.com
  us: '1f81adb30e11317806be982cc82769fbf8627833a89dd87cb24d282f71828830', // 12133734253
  de: 'ac75546db905289f50bd750fd5648fec0719074ce391521b2372abeae9110668', // 4930123456
  gb: '40b5c38342a9c584ec707e8679b003f8c779c6aaa138c976ef94e049cc05208f', // 447911123456
  maid1: '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd', // 5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25
  maid2: '08f1f8e9e433f685c514154e1a5b0dfe1885c6f140a7e3eff08a037bda13dcc1', // 7a3cbea0-bdf5-11e4-8dfc-aa07a5b093db
};

export const MAPPING3: SnapshotReadOptions['mapping'] = {
  identifiers: [
    { column: 'email', type: 'EMAIL_SHA256' },
    { column: 'phone', type: 'PHONE_SHA256' },
    { column: 'idfa', type: 'IDFA_SHA256' },
  ],
};

export function csvOptions(extra: Partial<SnapshotReadOptions> = {}): SnapshotReadOptions {
  return { format: 'csv', mapping: MAPPING3, normalization: { context: 'audience', defaultCountry: 'US' }, ...extra };
}

export async function* chunked(data: Buffer | string, size: number): AsyncGenerator<Buffer> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

export interface ReadResult {
  digests: Record<string, string[]>;
  rejects: RejectRecord[];
  counts: SnapshotCounts;
  positions: SnapshotPosition[];
}

export async function readAll(
  data: Buffer | string,
  options: SnapshotReadOptions,
  chunkSize = 1 << 16,
  source = 'snap.csv',
  resume?: SnapshotPosition,
  limits?: SnapshotReaderLimits,
): Promise<ReadResult> {
  const reader = new SnapshotReader(source, options, resume, limits);
  const digests: Record<string, string[]> = {};
  const rejects: RejectRecord[] = [];
  const positions: SnapshotPosition[] = [];
  for await (const batch of reader.read(chunked(data, chunkSize))) {
    for (const t of batch.digests) (digests[t.type] ??= []).push(...t.digests);
    rejects.push(...batch.rejects);
    positions.push(batch.position);
  }
  return { digests, rejects, counts: reader.counts, positions };
}
