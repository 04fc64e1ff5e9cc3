import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsClient } from '../../../src/storage';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { startFakeGcs, type FakeGcs } from '../../helpers/fakeGcs';
import { pad, range, sortedDigests } from '../../helpers/syntheticPeople';

/*
 * The whole audience sync with GCS as its storage: the export and the work folder live in a
 * bucket of a real fake-gcs-server, reached by the workers' default storage adapters through
 * STORAGE_EMULATOR_HOST (as a deployment on GCS would, minus credentials); TikTok is the
 * emulator over HTTP. Expected digests are computed here with node:crypto.
 */

const BUCKET = 'ttsync-sync-test';
let gcs: FakeGcs;
const saved = { host: process.env.STORAGE_EMULATOR_HOST, project: process.env.GCLOUD_PROJECT };

// The bucket exists and STORAGE_EMULATOR_HOST points at it before the harness starts the
// workers; stopped after the harness stops them (after hooks run in reverse order).
beforeAll(async () => {
  gcs = await startFakeGcs();
  process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
  process.env.GCLOUD_PROJECT = 'test';
  await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
});
afterAll(async () => {
  await gcs?.stop();
  for (const [k, v] of [
    ['STORAGE_EMULATOR_HOST', saved.host],
    ['GCLOUD_PROJECT', saved.project],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

// The workers use the default storage adapters, no options: gs:// goes to STORAGE_EMULATOR_HOST.
const harness = useAudienceHarness({
  name: 'gcs',
  emulator: { processingDelay: 200, matchRate: 0.7 },
  tokenVar: 'TTSYNC_TEST_GCS_SYNC_TOKEN',
  advertiserPrefix: '73',
  destinations: { workdir: (destinationId) => `gs://${BUCKET}/work/${destinationId}` },
});
const { issueToken, newAdvertiser, destination, start, audienceIds } = harness;

const expected = (ids: number[]): string[] => sortedDigests(ids.flatMap((i) => [`buyer${i}@example.net`, `1415555${pad(i, 4)}`]));

const bucket = () => createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).bucket(BUCKET);

async function writeExport(name: string, ids: number[]): Promise<string> {
  const lines = ['email,phone', ...ids.map((i) => `Buyer${i}@Example.NET,+1 415 555 ${pad(i, 4)}`), 'no-at-sign,'];
  await bucket().file(`exports/${name}`).save(lines.join('\n') + '\n');
  return `gs://${BUCKET}/exports/${name}`;
}

describe('audience sync with its export and work folder in GCS (fake-gcs-server)', { timeout: 120_000 }, () => {
  it('a first and a second snapshot from gs:// end with exactly the expected audience; files, rejects and the applied state live in the bucket', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const { destinationId } = config;
    const first = range(0, 1200);
    const h = await start({ config, snapshot: { uri: await writeExport('day-1.csv', first) } });
    try {
      const s1 = await waitForStatus(h, cycleDone(1));
      expect(s1.lastError).toBeNull();
      expect(s1.phase).toBe('synced');
      expect(s1.lastSync).toMatchObject({ kind: 'snapshot', added: 2400, removed: 0, rejected: { invalid_email: 1 } });
      const ids1 = await audienceIds(s1.audienceId!);
      expect(ids1).toEqual(expected(first));
      // Rejects and customer files were written to the bucket, not to a local folder.
      expect(s1.lastSync!.rejectsUris[0]).toMatch(new RegExp(`^gs://${BUCKET}/work/${destinationId}/`));
      const [objects] = await bucket().getFiles({ prefix: `work/${destinationId}/` });
      const names = objects.map((o) => o.name);
      expect(names.some((n) => n.includes('/files/'))).toBe(true);
      expect(names.some((n) => n.includes(`/audiences/${destinationId}/manifests/`))).toBe(true);
      const [rejects] = await bucket()
        .file(s1.lastSync!.rejectsUris[0]!.slice(`gs://${BUCKET}/`.length))
        .download();
      expect(rejects.toString('utf8')).toContain('invalid_email');

      // Second export: 100 leave, 150 enter; only those are sent.
      const second = range(100, 1350);
      await h.signal(snapshotLandedSignal, { snapshot: { uri: await writeExport('day-2.csv', second) } });
      const s2 = await waitForStatus(h, cycleDone(2));
      expect(s2.phase).toBe('synced');
      expect(s2.audienceId).toBe(s1.audienceId);
      expect(s2.lastSync).toMatchObject({ kind: 'snapshot', added: 300, removed: 200 });
      const ids2 = await audienceIds(s2.audienceId!);
      expect(ids2).toEqual(expected(second));
    } finally {
      await h.terminate('test done');
    }
  });
});
