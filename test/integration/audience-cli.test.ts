import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AudienceSyncNotFoundError,
  getAudienceStatus,
  requestAudienceSync,
  waitForAudienceCycle,
} from '../../src/audience/control';
import type { DestinationConfigInput } from '../../src/config/destination';
import type { RunningEmulator } from '../../src/emulator';
import { openBlobStore } from '../../src/storage';
import { createWorkers, type RunningWorkers } from '../../src/worker';
import { audienceSyncWorkflowId } from '../../workflows/audienceSyncPlan';
import type { AudienceSyncStatus } from '../../workflows';
import { runCli } from '../helpers/cli';
import { testClient, testEnv, uniqueId } from '../helpers/temporal';
import { emulatorControl, emulatorFor } from './tiktok-helpers';

/*
 * The client side of audience sync (src/audience/control.ts) and the `ttsync audience`
 * commands, as a user runs them: the CLI is a separate process talking to the real dev
 * server; the workers run here (control, data, TikTok on unique queues) and call the TikTok
 * emulator over HTTP. The token lives only in this process's environment, where the
 * activities resolve the config's secret reference.
 */

const TOKEN_VAR = 'TTSYNC_TEST_AUDIENCE_CLI_TOKEN';
let emu: RunningEmulator;
let dir: string;
let client: Client;
let workers: RunningWorkers | undefined;
let native: NativeConnection | undefined;
const taskQueue = uniqueId('test-control');
const queues = { data: uniqueId('test-data'), tiktok: uniqueId('test-tiktok') };
const timing = { cadence: '1h', pollInitial: '100ms', pollMax: '1s' };
const workflowIds: string[] = [];

const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const newAdvertiser = (): string => `72${String(randomBytes(6).readUIntBE(0, 6)).padStart(16, '0')}`;

/** A CSV of people `ids` (email + US phone) plus two bad rows; returns its file:// URI. */
function writeSnapshot(name: string, ids: number[]): string {
  const lines = ['email,phone', ...ids.map((i) => ` User${i}@Example.com ,(212) 201-${String(i).padStart(4, '0')}`), 'not-an-email,', ',123'];
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return `file://${path}`;
}

const expectedDigests = (ids: number[]): string[] => ids.flatMap((i) => [sha(`user${i}@example.com`), sha(`1212201${String(i).padStart(4, '0')}`)]).sort();

async function issueToken(advertiserId: string): Promise<void> {
  const { access_token } = await emulatorControl<{ access_token: string }>(emu, 'POST', 'tokens', { advertiser_ids: [advertiserId] });
  process.env[TOKEN_VAR] = access_token;
}

const audienceIds = async (id: string): Promise<string[]> => (await emulatorControl<{ ids: string[] }>(emu, 'GET', `audiences/${id}`)).ids.sort();

function destination(advertiserId: string, extra: Partial<DestinationConfigInput> = {}): DestinationConfigInput {
  const destinationId = uniqueId('cli').toLowerCase();
  workflowIds.push(audienceSyncWorkflowId(destinationId));
  return {
    destinationId,
    advertiserId,
    audienceName: `ttsync cli test ${destinationId}`,
    action: 'create',
    identifiers: { email: 'email', phone: 'phone' },
    defaultCountry: 'US',
    accessToken: `env:${TOKEN_VAR}`,
    sourceSegmentId: `segment-${destinationId}`,
    maxProcessingWait: '1m',
    storage: { workdir: join(dir, destinationId, 'work') },
    ...extra,
  };
}

function writeConfig(config: DestinationConfigInput, name = `${config.destinationId}.json`): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** The CLI against this file's dev server and queues. */
const cliEnv = (): NodeJS.ProcessEnv => ({ TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: testEnv().TEMPORAL_NAMESPACE });
const queueFlags = (): string[] => ['--task-queue', taskQueue, '--data-queue', queues.data, '--tiktok-queue', queues.tiktok, '--poll-initial', '100ms', '--poll-max', '1s'];

beforeAll(async () => {
  emu = await emulatorFor({ processingDelay: 300, matchRate: 0.7 });
  dir = mkdtempSync(join(tmpdir(), 'ttsync-audience-cli-'));
  client = await testClient();
  const env = testEnv();
  native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  workers = await createWorkers({
    roles: ['control', 'data', 'tiktok'],
    env,
    connection: native,
    taskQueues: { control: taskQueue, ...queues },
    shutdownGraceTime: '1s',
    activityDeps: {
      audienceData: { openStore: (uri: string) => openBlobStore(uri), defaultWorkdir: join(dir, 'default-work') },
      tiktokAudience: { tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_MAX_ATTEMPTS: 2, TIKTOK_TIMEOUT_MS: 5000 } },
    },
  });
});

afterAll(async () => {
  for (const id of workflowIds) await client?.workflow.getHandle(id).terminate('test done').catch(() => undefined);
  workers?.shutdown();
  await workers?.done;
  await native?.close();
  await client?.connection.close();
  await emu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env[TOKEN_VAR];
});

describe('audience sync control: request, wait, status', { timeout: 120_000 }, () => {
  it('requestAudienceSync starts the one workflow, then signals it; waitForAudienceCycle returns each requested cycle', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    await expect(getAudienceStatus(client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);

    const first = range(0, 1200);
    const r1 = await requestAudienceSync(client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, first) }, taskQueue, queues, timing });
    expect(r1).toEqual({ workflowId: audienceSyncWorkflowId(config.destinationId), started: true, cyclesBefore: 0 });
    const seen: AudienceSyncStatus[] = [];
    const s1 = await waitForAudienceCycle(client, config.destinationId, r1.cyclesBefore, { pollMs: 50, onStatus: (s) => seen.push(s) });
    expect(s1.phase).toBe('synced');
    expect(s1.cycles).toBe(1);
    expect(s1.lastSync).toMatchObject({ added: 2400, removed: 0, rejected: { invalid_email: 1, invalid_phone: 1 } });
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));
    // The waiter saw the cycle's phases on the way.
    expect(seen.map((s) => s.phase)).toEqual(expect.arrayContaining(['preparing', 'synced']));

    const second = range(100, 1300);
    const r2 = await requestAudienceSync(client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) }, taskQueue, queues, timing });
    expect(r2).toEqual({ workflowId: r1.workflowId, started: false, cyclesBefore: 1 });
    const s2 = await waitForAudienceCycle(client, config.destinationId, r2.cyclesBefore, { pollMs: 50 });
    expect(s2).toMatchObject({ phase: 'synced', cycles: 2, audienceId: s1.audienceId });
    expect(s2.lastSync).toMatchObject({ added: 200, removed: 200 });
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    expect(await getAudienceStatus(client, config.destinationId)).toMatchObject({ phase: 'synced', cycles: 2 });

    // No snapshot and no storage.snapshot: refused before anything is signalled.
    await expect(requestAudienceSync(client, { config, taskQueue, queues, timing })).rejects.toThrow(/nothing to sync .*--snapshot/);
  });
});
