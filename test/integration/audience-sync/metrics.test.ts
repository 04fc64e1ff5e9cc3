import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { freePort } from '../../../src/temporal/devServer';
import { defaultWorkflowBundlePath } from '../../../src/worker';
import type { EmulatorCall } from '../../helpers/audienceHarness';
import { cliAgainstTestServer, exitOf, spawnCli, waitForOutput, type SpawnedCli } from '../../helpers/cli';
import { freshNamespace } from '../../helpers/namespace';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { testClient, testEnv, uniqueId } from '../../helpers/temporal';
import { emulatorControl, emulatorFor } from '../tiktok/helpers';

/*
 * `ttsync worker --metrics` as an operator runs it (a child process, every role, the prebuilt
 * bundle) serves one Prometheus endpoint with the SDK's runtime metrics and ttsync's own. An
 * audience sync against the emulator (which throttles some calls, as TikTok does) must show on
 * it exactly: the ids the snapshot adds, its rejects by reason, and every TikTok request the
 * emulator logged, by endpoint and code. The worker polls the default queues of a namespace of
 * its own, so no other file's worker takes its tasks.
 */

const PEOPLE = range(0, 1500);
/** One bad row per reason: written below, counted here independently of ttsync. */
const BAD_ROWS = { 'not-an-email,': 'invalid_email', '"broken"x,': 'malformed_row', ',123': 'invalid_phone' } as const;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, as far as this test reads it: `name{k="v",…} value` lines. */
function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const sumOf = (samples: Sample[], name: string, match: Record<string, string> = {}): number =>
  samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

/** Request counts by `endpoint code`, from the endpoint's samples or from the emulator's log. */
function byEndpointAndCode(entries: Array<{ endpoint: string; code: string; n: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) if (e.n) out[`${e.endpoint} ${e.code}`] = (out[`${e.endpoint} ${e.code}`] ?? 0) + e.n;
  return out;
}

let client: Client;
let namespace: string;
let emu: RunningEmulator;
let dir: string;
let metricsUrl: string;
let worker: SpawnedCli;

const control = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(emu, method, path, body);

beforeAll(async () => {
  client = await testClient();
  namespace = await freshNamespace(client, 'metrics-ns');
  // Processing lasts until the test ends it, so the scrape during the wait races nothing.
  emu = await emulatorFor({ processingDelay: 600_000 });
  // TikTok's rate limits, now and then: each throttled request is counted, and retried.
  await control('POST', 'faults', { throttle: 0.15, seed: 11 });
  dir = mkdtempSync(join(tmpdir(), 'ttsync-metrics-'));
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  worker = spawnCli(['worker', '--metrics', `127.0.0.1:${port}`, '--shutdown-grace', '1s'], {
    TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: namespace,
    TTSYNC_WORKFLOW_BUNDLE: defaultWorkflowBundlePath(),
    TIKTOK_API_BASE_URL: emu.apiBaseUrl,
    TIKTOK_QPS: '1000',
    TTSYNC_SEGMENT_REGISTRY: join(dir, 'registry'),
  });
  await waitForOutput(worker, /ttsync worker: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\n/);
  // Every role, and the events queue that the tiktok role polls too.
  await waitForOutput(worker, /polling ttsync-control, ttsync-data, ttsync-tiktok, ttsync-events on /);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await exitOf(worker);
  }
  await emu?.close();
  await client?.connection.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('worker metrics on Prometheus', { timeout: 180_000 }, () => {
  it("serve the SDK's runtime metrics and ttsync's, whose counts match the sync's summary and the emulator's call log", async () => {
    const advertiserId = `73${String(randomBytes(6).readUIntBE(0, 6)).padStart(16, '0')}`;
    const token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiserId] })).access_token;
    const destinationId = uniqueId('metrics').toLowerCase();
    // The worker started before this token existed: it reads the secret from a file, as in production.
    const tokenFile = join(dir, `${destinationId}.token`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const configPath = join(dir, `${destinationId}.json`);
    writeFileSync(
      configPath,
      JSON.stringify({
        destinationId,
        advertiserId,
        audienceName: `ttsync metrics ${destinationId}`,
        action: 'create',
        identifiers: { email: 'email', phone: 'phone' },
        defaultCountry: 'US',
        accessToken: `file:${tokenFile}`,
        sourceSegmentId: `segment-${destinationId}`,
        maxProcessingWait: '1m',
        storage: { workdir: join(dir, destinationId, 'work') },
      }),
    );
    const rows = PEOPLE.map((i) => `${person(i).raw.email},${person(i).raw.phone}`);
    rows.splice(7, 0, ...Object.keys(BAD_ROWS));
    const snapshot = join(dir, `${destinationId}.csv`);
    writeFileSync(snapshot, ['email,phone', ...rows].join('\n') + '\n');
    const callsBefore = (await control<{ calls: EmulatorCall[] }>('GET', 'calls')).calls.length;
    expect(callsBefore).toBe(0);

    const syncing = cliAgainstTestServer(
      ['audience', 'sync', '--config', configPath, '--snapshot', snapshot, '--wait', '--json', '--poll-initial', '100ms', '--poll-max', '1s', '--timeout', '2m'],
      { env: { TEMPORAL_NAMESPACE: namespace }, timeoutMs: 150_000 },
    );

    // During the sync: the audience is created and TikTok is processing it. The endpoint shows
    // the phase now, the create, and no ids yet (a cycle's counts are recorded when it ends).
    const dest = { destination_id: destinationId, lifecycle: 'audience_sync' };
    let during: Sample[] = [];
    for (const deadline = Date.now() + 120_000; ; ) {
      during = parsePrometheus(await (await fetch(metricsUrl)).text());
      if (sumOf(during, 'ttsync_lifecycle_phase', { ...dest, phase: 'waiting_for_processing' }) === 1) break;
      if (Date.now() > deadline) throw new Error(`the phase never showed waiting_for_processing; ttsync samples: ${JSON.stringify(during.filter((x) => x.name.startsWith('ttsync_lifecycle')))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sumOf(during, 'ttsync_tiktok_requests', { endpoint: 'dmp/custom_audience/create/', code: '0' })).toBe(1);
    expect(sumOf(during, 'ttsync_ids_synced', dest)).toBe(0);
    expect(sumOf(during, 'ttsync_lifecycle_phase', { ...dest, phase: 'creating' })).toBe(0);
    const created = (await control<{ audiences: { audience_id: string; advertiser_id: string }[] }>('GET', 'state')).audiences.filter((a) => a.advertiser_id === advertiserId);
    expect(created).toHaveLength(1);
    await control('POST', `audiences/${created[0]!.audience_id}/finish-processing`);

    const sync = await syncing;
    expect(sync.code, sync.stderr).toBe(0);
    const summary = JSON.parse(sync.stdout) as { phase: string; audienceId: string; added: number; removed: number; rejected: Record<string, number> };
    expect(summary.phase).toBe('synced');
    // The summary itself is what the snapshot holds (two ids a person, one reject per bad row).
    expect(summary.added).toBe(PEOPLE.length * 2);
    expect(summary.rejected).toEqual(Object.fromEntries(Object.values(BAD_ROWS).map((r) => [r, 1])));
    expect((await control<{ ids: string[] }>('GET', `audiences/${summary.audienceId}`)).ids.sort()).toEqual(expectedDigests(PEOPLE));

    const calls = (await control<{ calls: EmulatorCall[] }>('GET', 'calls')).calls;
    const logged = byEndpointAndCode(calls.map((c) => ({ endpoint: c.path.replace(/^\/?open_api\/v1\.3\//, ''), code: c.code !== null ? String(c.code) : `http_${c.httpStatus}`, n: 1 })));
    const throttled = calls.filter((c) => c.code === 40100).length;

    // The workflow's counters reach the exporter when its activation completes; the status the
    // CLI read came after, but the scrape waits for the numbers rather than assuming it.
    let samples: Sample[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      samples = parsePrometheus(await (await fetch(metricsUrl)).text());
      const requests = sumOf(samples, 'ttsync_tiktok_requests');
      if ((sumOf(samples, 'ttsync_ids_synced', { ...dest, direction: 'added' }) > 0 && requests >= calls.length) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    // ttsync's own: ids and rejects as the summary says.
    expect(sumOf(samples, 'ttsync_ids_synced', { ...dest, direction: 'added' })).toBe(summary.added);
    expect(sumOf(samples, 'ttsync_ids_synced', { ...dest, direction: 'removed' })).toBe(0);
    for (const reason of Object.values(BAD_ROWS)) expect(sumOf(samples, 'ttsync_rejects', { ...dest, reason }), reason).toBe(1);
    expect(samples.filter((s) => s.name === 'ttsync_rejects').map((s) => s.labels.reason).sort()).toEqual(Object.values(BAD_ROWS).sort());

    // Every request the emulator logged, by endpoint and code, and nothing more; each has a latency.
    const requestSamples = samples.filter((s) => s.name === 'ttsync_tiktok_requests');
    expect(byEndpointAndCode(requestSamples.map((s) => ({ endpoint: s.labels.endpoint!, code: s.labels.code!, n: s.value })))).toEqual(logged);
    expect(sumOf(samples, 'ttsync_tiktok_request_latency_count')).toBe(calls.length);
    expect(sumOf(samples, 'ttsync_tiktok_rate_limit_wait_count')).toBe(calls.length);
    expect(throttled).toBeGreaterThan(0);
    expect(sumOf(samples, 'ttsync_tiktok_throttles')).toBe(throttled);
    expect(sumOf(samples, 'ttsync_tiktok_requests', { code: '40100', outcome: 'Throttled' })).toBe(throttled);
    expect(logged['dmp/custom_audience/create/ 0']).toBe(1);

    // One processing wait (a new audience created with every file: no edit, only the final
    // check); and the phase: synced now, the phases it went through left at 0.
    expect(sumOf(samples, 'ttsync_processing_wait_count', dest)).toBe(1);
    const phases = Object.fromEntries(samples.filter((s) => s.name === 'ttsync_lifecycle_phase' && s.labels.destination_id === destinationId).map((s) => [s.labels.phase, s.value]));
    expect(phases).toMatchObject({ synced: 1, inspecting: 0, preparing: 0, uploading: 0, committing: 0 });
    expect(Object.values(phases).filter((v) => v === 1)).toHaveLength(1);

    // The SDK's runtime metrics on the same endpoint, for the same worker.
    // One SDK worker per task queue the child polls: its three roles and the events queue.
    expect(sumOf(samples, 'temporal_worker_start', { namespace })).toBe(4);
    // The cycle ended by continuing as new, and its activities ran on this worker.
    expect(sumOf(samples, 'temporal_workflow_continue_as_new', { namespace, workflow_type: 'audienceSync' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'temporal_activity_execution_latency_count', { namespace, activity_type: 'uploadCustomerFiles' })).toBeGreaterThanOrEqual(1);
    // The SDK tags what it records on its meters: the workflow's (camelCase, the TypeScript SDK's
    // spelling) and the activity's.
    expect(samples.find((s) => s.name === 'ttsync_ids_synced')?.labels).toMatchObject({ namespace, taskQueue: 'ttsync-control', workflowType: 'audienceSync' });
    expect(samples.find((s) => s.name === 'ttsync_tiktok_requests' && s.labels.endpoint === 'dmp/custom_audience/create/')?.labels).toMatchObject({
      namespace,
      taskQueue: 'ttsync-tiktok',
      activityType: 'createCustomAudience',
    });
  });

  it('TTSYNC_METRICS_ADDRESS does what the flag does; a bad or taken address stops the worker with a clear message', async () => {
    const port = await freePort();
    const env = { TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: namespace, TTSYNC_WORKFLOW_BUNDLE: defaultWorkflowBundlePath() };
    const viaEnv = spawnCli(['worker', '--roles', 'data', '--shutdown-grace', '1s'], { ...env, TTSYNC_METRICS_ADDRESS: `127.0.0.1:${port}` });
    try {
      await waitForOutput(viaEnv, /polling ttsync-data on /);
      const samples = parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(sumOf(samples, 'temporal_worker_start', { namespace, task_queue: 'ttsync-data' })).toBe(1);

      // The same port again: Core cannot bind it, and says so with the address.
      const taken = spawnCli(['worker', '--roles', 'data', '--metrics', `127.0.0.1:${port}`], env);
      expect(await exitOf(taken)).toBe(1);
      expect(taken.output()).toMatch(new RegExp(`ttsync: cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*[Aa]ddress already in use`));
    } finally {
      viaEnv.kill('SIGTERM');
      await exitOf(viaEnv);
    }
    const badFlag = spawnCli(['worker', '--metrics', '9464'], env);
    expect(await exitOf(badFlag)).toBe(2);
    expect(badFlag.output()).toContain('must be host:port, e.g. 127.0.0.1:9464 (got "9464")');
    const badEnv = spawnCli(['worker'], { ...env, TTSYNC_METRICS_ADDRESS: 'localhost' });
    expect(await exitOf(badEnv)).toBe(2);
    expect(badEnv.output()).toContain('ttsync: TTSYNC_METRICS_ADDRESS must be host:port, e.g. 127.0.0.1:9464 (got "localhost")');
  });
});
