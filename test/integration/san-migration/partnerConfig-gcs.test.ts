import { openBlobStore } from '../../../src/storage';
import { BlobPartnerConfigStore } from '../../../src/san-migration/partnerConfig';
import { fakeGcsWithBucket } from '../../helpers/fakeGcs';
import { partnerConfigContract } from '../../unit/san-migration/partnerConfigContract';

const BUCKET = 'ttsync-partner-config';
const gcs = fakeGcsWithBucket(BUCKET);
let n = 0;


// The same contract as the local folder, on GCS generations (ifGenerationMatch).
partnerConfigContract('JSON documents in GCS via fake-gcs-server', async () =>
  new BlobPartnerConfigStore(openBlobStore(`gs://${BUCKET}/t${++n}`, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' } })),
);
