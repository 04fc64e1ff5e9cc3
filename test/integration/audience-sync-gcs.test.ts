import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../src/config/destination';
import type { RunningEmulator } from '../../src/emulator';
import { createGcsClient, openBlobStore } from '../../src/storage';
import { createWorkers, type RunningWorkers } from '../../src/worker';
import { audienceSync, audienceSyncStatusQuery, type AudienceSyncStatus } from '../../workflows';
import { audienceSyncWorkflowId } from '../../workflows/audienceSyncPlan';
import { startFakeGcs, type FakeGcs } from '../helpers/fakeGcs';
import { testClient, testEnv, uniqueId } from '../helpers/temporal';
import { emulatorControl, emulatorFor } from './tiktok-helpers';

/*
 * The whole audience sync with GCS as its storage: the export and the work folder live in a
 * bucket of a real fake-gcs-server, reached by the workers' default storage adapters through
 * STORAGE_EMULATOR_HOST (as a deployment on GCS would, minus credentials); TikTok is the
 * emulator over HTTP. Expected digests are computed here with node:crypto.
 */

const TOKEN_VAR = 'TTSYNC_TEST_GCS_SYNC_TOKEN';
const BUCKET = 'ttsync-sync-test';
let gcs: FakeGcs;
let emu: RunningEmulator;
let dir: string;
let client: Client;
let workers: RunningWorkers | undefined;
let native: NativeConnection | undefined;
const taskQueue = uniqueId('test-gcs-control');
const queues = { data: uniqueId('test-gcs-data'), tiktok: uniqueId('test-gcs-tiktok') };
const saved = { host: process.env.STORAGE_EMULATOR_HOST, project: process.env.GCLOUD_PROJECT };

const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const pad = (n: number): string => String(n).padStart(4, '0');
const expected = (ids: number[]): string[] => ids.flatMap((i) => [sha(`buyer${i}@example.net`), sha(`1415555${pad(i)}`)]).sort();

const bucket = () => createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).bucket(BUCKET);

async function writeExport(name: string, ids: number[]): Promise<string> {
  const lines = ['email,phone', ...ids.map((i) => `Buyer${i}@Example.NET,+1 415 555 ${pad(i)}`), 'no-at-sign,'];
  await bucket().file(`exports/${name}`).save(lines.join('\n') + '\n');
  return `gs://${BUCKET}/exports/${name}`;
}

async function waitForCycle(workflowId: string, n: number): Promise<AudienceSyncStatus> {
  const h = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + 60_000;
  let last: AudienceSyncStatus | undefined;
  for (;;) {
    try {
      last = await h.query(audienceSyncStatusQuery);
      if (last.cycles >= n && last.currentRunId === null) return last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`cycle ${n} did not end; last status: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  gcs = await startFakeGcs();
  process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
  process.env.GCLOUD_PROJECT = 'test';
  await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
  emu = await emulatorFor({ processingDelay: 200, matchRate: 0.7 });
  dir = mkdtempSync(join(tmpdir(), 'ttsync-gcs-sync-'));
  client = await testClient();
  const env = testEnv();
  native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  workers = await createWorkers({
    env,
    connection: native,
    roles: ['control', 'data', 'tiktok'],
    taskQueues: { control: taskQueue, ...queues },
    shutdownGraceTime: '1s',
    activityDeps: {
      // The default storage adapters, no options: gs:// goes to STORAGE_EMULATOR_HOST.
      audienceData: { openStore: (uri: string) => openBlobStore(uri), defaultWorkdir: join(dir, 'default-work') },
      tiktokAudience: { tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_MAX_ATTEMPTS: 2, TIKTOK_TIMEOUT_MS: 5000 } },
    },
  });
});

afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await native?.close();
  await client?.connection.close();
  await emu?.close();
  await gcs?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of [
    ['STORAGE_EMULATOR_HOST', saved.host],
    ['GCLOUD_PROJECT', saved.project],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  delete process.env[TOKEN_VAR];
});

describe('audience sync with its export and work folder in GCS (fake-gcs-server)', { timeout: 120_000 }, () => {
  it('a first and a second snapshot from gs:// end with exactly the expected audience; files, rejects and the applied state live in the bucket', async () => {
    const advertiserId = `73${String(randomBytes(6).readUIntBE(0, 6)).padStart(16, '0')}`;
    const { access_token } = await emulatorControl<{ access_token: string }>(emu, 'POST', 'tokens', { advertiser_ids: [advertiserId] });
    process.env[TOKEN_VAR] = access_token;
    const destinationId = uniqueId('gcs').toLowerCase();
    const config: DestinationConfigInput = {
      destinationId,
      advertiserId,
      audienceName: `ttsync gcs ${destinationId}`,
      action: 'create',
      identifiers: { email: 'email', phone: 'phone' },
      defaultCountry: 'US',
      accessToken: `env:${TOKEN_VAR}`,
      sourceSegmentId: `segment-${destinationId}`,
      maxProcessingWait: '1m',
      storage: { workdir: `gs://${BUCKET}/work/${destinationId}` },
    };
    const workflowId = audienceSyncWorkflowId(destinationId);
    const first = range(0, 1200);
    await client.workflow.start(audienceSync, {
      taskQueue,
      workflowId,
      args: [{ config, snapshot: { uri: await writeExport('day-1.csv', first) }, queues, timing: { cadence: '1h', pollInitial: '100ms', pollMax: '1s' } }],
    });
    try {
      const s1 = await waitForCycle(workflowId, 1);
      expect(s1.lastError).toBeNull();
      expect(s1.phase).toBe('synced');
      expect(s1.lastSync).toMatchObject({ kind: 'snapshot', added: 2400, removed: 0, rejected: { invalid_email: 1 } });
      const ids1 = (await emulatorControl<{ ids: string[] }>(emu, 'GET', `audiences/${s1.audienceId}`)).ids.sort();
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
      await client.workflow.getHandle(workflowId).signal('snapshotLanded', { snapshot: { uri: await writeExport('day-2.csv', second) } });
      const s2 = await waitForCycle(workflowId, 2);
      expect(s2.phase).toBe('synced');
      expect(s2.audienceId).toBe(s1.audienceId);
      expect(s2.lastSync).toMatchObject({ kind: 'snapshot', added: 300, removed: 200 });
      const ids2 = (await emulatorControl<{ ids: string[] }>(emu, 'GET', `audiences/${s2.audienceId}`)).ids.sort();
      expect(ids2).toEqual(expected(second));
    } finally {
      await client.workflow.getHandle(workflowId).terminate('test done');
    }
  });
});
