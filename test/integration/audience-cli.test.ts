import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { BIN, ROOT } from '../helpers/cli';
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
/**
 * Runs the compiled CLI without blocking this process: the workers it talks to run here
 * (runCli's spawnSync would freeze them).
 */
function cli(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...cliEnv() } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

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
    expect(r1).toEqual({ workflowId: audienceSyncWorkflowId(config.destinationId), started: true, cyclesBefore: 0, signalled: true });
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
    expect(r2).toEqual({ workflowId: r1.workflowId, started: false, cyclesBefore: 1, signalled: true });
    const s2 = await waitForAudienceCycle(client, config.destinationId, r2.cyclesBefore, { pollMs: 50 });
    expect(s2).toMatchObject({ phase: 'synced', cycles: 2, audienceId: s1.audienceId });
    expect(s2.lastSync).toMatchObject({ added: 200, removed: 200 });
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    expect(await getAudienceStatus(client, config.destinationId)).toMatchObject({ phase: 'synced', cycles: 2 });

    // No snapshot and no storage.snapshot: refused before anything is signalled.
    await expect(requestAudienceSync(client, { config, taskQueue, queues, timing })).rejects.toThrow(/nothing to sync .*--snapshot/);
  });
});

describe('ttsync audience sync|status (CLI process)', { timeout: 120_000 }, () => {
  it('sync --wait --json: exits 0 with the summary of exactly this cycle; status shows it; without --wait it prints how to follow', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const file = writeConfig(config);
    const first = range(0, 1100);
    const r = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-1.csv`, first), '--wait', '--json', ...queueFlags()]);
    expect(r.stderr).not.toMatch(/ttsync:/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      destinationId: config.destinationId,
      ok: true,
      phase: 'synced',
      cycle: 1,
      added: 2200,
      removed: 0,
      rejected: { invalid_email: 1, invalid_phone: 1 },
      files: 2,
      isValid: true,
    });
    expect(summary.coverNum).toBeGreaterThanOrEqual(1000);
    expect(summary.bytes).toBeGreaterThan(0);
    const audienceId = summary.audienceId as string;
    expect(await audienceIds(audienceId)).toEqual(expectedDigests(first));
    // The rejects file the summary names lists both bad rows.
    const rejectsUri = (summary.rejectsUris as string[])[0]!;
    expect(readFileSync(new URL(rejectsUri), 'utf8')).toMatch(/invalid_email[\s\S]*invalid_phone/);
    // Not a TTY: one progress line per phase on stderr, the phases of the cycle in order.
    const bars = r.stderr.split('\n').flatMap((l) => /^\[([#.]+)\] (\w+)/.exec(l) ?? []);
    const phases = r.stderr.split('\n').flatMap((l) => /^\[[#.]{20}\] (\w+)/.exec(l)?.[1] ?? []);
    expect(phases.length).toBeGreaterThanOrEqual(2);
    expect(new Set(phases).size).toBe(phases.length);
    expect(phases.at(-1)).toBe('synced');
    // The bar only moves forward through a cycle and is full at the end.
    const filled = r.stderr.split('\n').flatMap((l) => /^\[(#*)\.*\]/.exec(l)?.[1]?.length ?? []);
    expect([...filled].sort((a, b) => a - b)).toEqual(filled);
    expect(filled.at(-1)).toBe(20);
    expect(bars.length).toBeGreaterThan(0);

    const st = await cli(['audience', 'status', config.destinationId]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/^phase\s+synced$/m);
    expect(st.stdout).toMatch(new RegExp(`^audience_id\\s+${audienceId}$`, 'm'));
    expect(st.stdout).toMatch(/^last_sync\s+snapshot .*added 2200, removed 0, rejected invalid_email 1, invalid_phone 1/m);
    const stJson = await cli(['audience', 'status', config.destinationId, '--json']);
    expect(JSON.parse(stJson.stdout)).toMatchObject({ phase: 'synced', cycles: 1, audienceId });

    // Without --wait: signalled, the next cycle runs; the output says how to follow it.
    const second = range(50, 1100);
    const nw = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-2.csv`, second), ...queueFlags()]);
    expect(nw.code).toBe(0);
    expect(nw.stdout).toContain(`signalled ${audienceSyncWorkflowId(config.destinationId)}`);
    expect(nw.stdout).toContain(`ttsync audience status ${config.destinationId}`);
    const s2 = await waitForAudienceCycle(client, config.destinationId, 1, { pollMs: 100, timeoutMs: 60_000 });
    expect(s2.lastSync).toMatchObject({ added: 0, removed: 100 });
    expect(await audienceIds(audienceId)).toEqual(expectedDigests(second));
  });

  it('too few matched users: exits 0 with the advice; a stale snapshot: exits 1 with the error, nothing sent to TikTok', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId, { readinessWindow: '1h' });
    const file = writeConfig(config);
    const small = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-small.csv`, range(0, 20)), '--wait', ...queueFlags()]);
    expect(small.code).toBe(0);
    expect(small.stdout).toMatch(/^result\s+too_small_to_target$/m);
    expect(small.stdout).toMatch(/^added\s+40$/m);
    expect(small.stdout).toMatch(/^advice\s+audience \d+ matches \d+ TikTok users, fewer than 1000, so it cannot be targeted: send at least 5,000 phones or 10,000 emails$/m);

    const seq = Math.max(0, ...(await emulatorControl<{ calls: { seq: number }[] }>(emu, 'GET', 'calls')).calls.map((c) => c.seq));
    const uri = writeSnapshot(`${config.destinationId}-old.csv`, range(0, 30));
    const createdAt = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const r = await cli(['audience', 'sync', '--config', file, '--snapshot', uri, '--created-at', createdAt, '--wait', ...queueFlags()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^result\s+stale_snapshot$/m);
    expect(r.stdout).toMatch(/^added\s+-$/m);
    expect(r.stderr).toMatch(/ttsync: sync ended in stale_snapshot: snapshot .* older than the readiness window \(1h\); nothing was sent to TikTok/);
    const calls = (await emulatorControl<{ calls: { seq: number; path: string }[] }>(emu, 'GET', `calls?since=${seq}`)).calls;
    expect(calls.filter((c) => c.path.includes('custom_audience'))).toEqual([]);
  });

  it('bad usage exits 2 with a readable error and starts nothing', async () => {
    const advertiserId = newAdvertiser();
    const config = destination(advertiserId);
    const bad = writeConfig({ ...config, advertiserId: '12ab', identifiers: { email: 'emial' } } as unknown as DestinationConfigInput, 'bad.json');
    const r = await cli(['audience', 'sync', '--config', bad, '--snapshot', '/tmp/x.csv', ...queueFlags()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ttsync: invalid destination config ${bad}:`);
    expect(r.stderr).toMatch(/^ {2}\$\.advertiserId: advertiserId must be digits only$/m);
    expect(r.stderr).toMatch(/^ {2}\$\.identifiers\.email: /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expect(getAudienceStatus(client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);

    const missing = await cli(['audience', 'sync', '--config', join(dir, 'nope.json'), ...queueFlags()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json:\n {2}\$: the file does not exist/);
    // No snapshot anywhere: refused before anything reaches Temporal.
    const none = await cli(['audience', 'sync', '--config', writeConfig(config), ...queueFlags()]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to sync for destination .*--snapshot/);
    await expect(getAudienceStatus(client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);
    expect((await cli(['audience', 'sync', '--config', writeConfig(config), '--json', ...queueFlags()])).code).toBe(2);
    expect((await cli(['audience', 'sync', '--config', writeConfig(config), '--snapshot', 'http://example.com/x.csv'])).code).toBe(2);

    const st = await cli(['audience', 'status', config.destinationId]);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain(`no audience sync workflow for destination "${config.destinationId}"`);
  });
});
