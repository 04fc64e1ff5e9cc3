import { afterAll, beforeAll } from 'vitest';
import { createGcsClient, openBlobStore } from '../../../src/storage';
import { BlobPartnerConfigStore } from '../../../src/san-migration/partnerConfig';
import { startFakeGcs, type FakeGcs } from '../../helpers/fakeGcs';
import { partnerConfigContract } from '../../unit/san-migration/partnerConfigContract';

let gcs: FakeGcs;
const BUCKET = 'ttsync-partner-config';
let n = 0;

beforeAll(async () => {
  gcs = await startFakeGcs();
  await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
});
afterAll(async () => {
  await gcs?.stop();
});

// The same contract as the local folder, on GCS generations (ifGenerationMatch).
partnerConfigContract('JSON documents in GCS via fake-gcs-server', async () =>
  new BlobPartnerConfigStore(openBlobStore(`gs://${BUCKET}/t${++n}`, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' } })),
);
