import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { TaskQueues } from '../../../src/temporal/taskQueues';
import type { TopologyState } from '../../../src/cli/topology/cluster';
import { audienceSync } from '../../../workflows/index';
import { DEFAULT_TIMING } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { runCli } from '../../helpers/cli';
import { alive } from '../../../src/cli/topology/daemon';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { runHistories } from '../../helpers/workflowHistory';

/*
 * The production topology, for real: `ttsync cluster up --workers 3` starts PostgreSQL
 * (initdb/pg_ctl), the Temporal server built from its Go module on it, fake-gcs-server, the
 * TikTok emulator and three worker processes with data dirs of their own; audience syncs run
 * through it, and `down` stops every process. One topology for the whole file keeps CI's cost
 * to one start (about 10 s).
 *   - Spread: each worker runs one activity per queue at a time (--max-activities 1), so the
 *     four parallel diff shard groups cannot all land on one process; which worker ran which
 *     activity is read from the history's ActivityTaskStarted identities. The destination
 *     names no workdir: the topology's default (the bucket) is used, and the workers' own
 *     folders stay empty of sync data.
 *   - One TikTok limit: the app's QPS (--tiktok-qps 5) is both the workers' TIKTOK_QPS, which
 *     they share by the live worker count (TIKTOK_QPS_WORKERS=auto), and the emulator's limit.
 *     Six destinations of one app sync at once; the emulator's call log (its receive times)
 *     never holds more than 5 requests in any second, and it refused none.
 * Expected digests come from node:crypto.
 */

const QPS = 5;
let dir: string;
let state: TopologyState;
let client: Client;

const cli = (args: string[], timeoutMs = 240_000) => runCli(['cluster', ...args, '--dir', dir], { timeoutMs });

beforeAll(async () => {
  // Searchable by others: PostgreSQL runs as its own user below it when the tests run as root.
  dir = mkdtempSync(join(tmpdir(), 'ttsync-topology-'));
  chmodSync(dir, 0o711);
  const up = cli(['up', '--workers', '3', '--port', '0', '--emulator-port', '0', '--max-activities', '1', '--tiktok-qps', String(QPS)]);
  if (up.code !== 0) throw new Error(`cluster up failed (${up.code}):\n${up.stderr}\n${up.stdout}`);
  const status = cli(['status', '--json']);
  expect(status.code, status.stderr).toBe(0);
  state = (JSON.parse(status.stdout) as { state: TopologyState }).state;
  client = new Client({ connection: await Connection.connect({ address: state.temporal.address }), namespace: state.temporal.namespace });
}, 300_000);

afterAll(async () => {
  await client?.connection.close();
  if (dir) {
    const down = cli(['down'], 120_000);
    if (down.code !== 0) process.stderr.write(`cluster down: ${down.stderr}\n`);
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

async function emulator<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${state.emulator!.url}/_emulator/${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`emulator ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function putObject(name: string, text: string): Promise<string> {
  const url = `${state.gcs.endpoint}/upload/storage/v1/b/${state.gcs.bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: text });
  if (!res.ok) throw new Error(`upload ${name}: HTTP ${res.status} ${await res.text()}`);
  return `gs://${state.gcs.bucket}/${name}`;
}

async function listObjects(prefix: string): Promise<string[]> {
  const res = await fetch(`${state.gcs.endpoint}/storage/v1/b/${state.gcs.bucket}/o?prefix=${encodeURIComponent(prefix)}`);
  return (((await res.json()) as { items?: { name: string }[] }).items ?? []).map((o) => o.name);
}

const filesUnder = (d: string): string[] =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(d, e.name)) : [join(d, e.name)]));

/** activity type → the worker identities that started it, from every run's history (only `queue`'s activities when given). */
function activityWorkers(histories: temporal.api.history.v1.IHistory[], queue?: string): Map<string, Set<string>> {
  const byType = new Map<string, Set<string>>();
  for (const h of histories) {
    const scheduled = new Map<string, string>();
    for (const e of h.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s && (!queue || s.taskQueue?.name === queue)) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started && scheduled.has(String(started.scheduledEventId))) {
        const type = scheduled.get(String(started.scheduledEventId))!;
        const set = byType.get(type) ?? new Set<string>();
        set.add(started.identity ?? '?');
        byType.set(type, set);
      }
    }
  }
  return byType;
}

let tokenSeq = 0;
/** A token for the advertiser in a file: the workers started before it existed, a file reference reaches them all. */
async function tokenFileFor(advertiserId: string): Promise<string> {
  const { access_token } = await emulator<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiserId] });
  const file = join(dir, 'secrets', `tiktok-token-${++tokenSeq}`);
  writeFileSync(file, access_token, { mode: 0o600 });
  return file;
}

const csvOf = (ids: number[]): string => ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`)].join('\n') + '\n';

/** A destination with no workdir: the topology's default, the bucket. */
function destination(name: string, advertiserId: string, tokenFile: string): DestinationConfigInput {
  const destinationId = `${name}-${Date.now()}`;
  return {
    destinationId,
    advertiserId,
    audienceName: `ttsync topology ${destinationId}`,
    action: 'create',
    identifiers: { email: 'email', phone: 'phone' },
    defaultCountry: 'US',
    accessToken: `file:${tokenFile}`,
    sourceSegmentId: `segment-${destinationId}`,
    maxProcessingWait: '2m',
  };
}

async function startSync(config: DestinationConfigInput, snapshotUri: string) {
  const workflowId = WorkflowIds.audienceSync(config.destinationId);
  const first = await client.workflow.start(audienceSync, { taskQueue: TaskQueues.control, workflowId, args: [{ config, snapshot: { uri: snapshotUri }, timing: DEFAULT_TIMING }] });
  return { workflowId, firstRunId: first.firstExecutionRunId, h: client.workflow.getHandle<typeof audienceSync>(workflowId) };
}

describe('the production topology (PostgreSQL, Temporal server, fake-gcs-server, 3 worker processes)', { timeout: 300_000 }, () => {
  it('runs an audience sync exactly, spreads its activities over the workers, and keeps nothing in their own folders', async () => {
    expect(state.workers.map((w) => w.identity)).toHaveLength(3);
    expect(state.temporal.version).toBe('1.29.1');

    const advertiserId = '7400000000000000001';
    const ids = range(0, 3000);
    const config = destination('topology', advertiserId, await tokenFileFor(advertiserId));
    const { destinationId } = config;
    const { workflowId, firstRunId, h } = await startSync(config, await putObject('exports/day-1.csv', csvOf(ids)));
    try {
      const s = await waitForStatus(h, cycleDone(1), 240_000);
      expect(s.lastError).toBeNull();
      expect(s.phase).toBe('synced');
      expect(s.lastSync).toMatchObject({ kind: 'snapshot', added: 6000, removed: 0 });
      const held = (await emulator<{ ids: string[] }>('GET', `audiences/${s.audienceId}`)).ids.sort();
      expect(held).toEqual(expectedDigests(ids));

      // Which worker ran which activity.
      const histories: temporal.api.history.v1.IHistory[] = [];
      for await (const hist of runHistories(client, workflowId, firstRunId)) histories.push(hist);
      const byType = activityWorkers(histories);
      const report = Object.fromEntries([...byType].map(([t, w]) => [t, [...w].sort()]));
      process.stdout.write(`activities by worker: ${JSON.stringify(report)}\n`);
      const all = state.workers.map((w) => w.identity);
      const identities = new Set([...byType.values()].flatMap((w) => [...w]));
      expect([...identities].every((i) => all.includes(i))).toBe(true);
      expect(identities.size).toBeGreaterThanOrEqual(2);
      // The four shard groups are diffed in parallel, one per process at a time: several took some.
      expect(byType.get('diffShards')?.size ?? 0).toBeGreaterThanOrEqual(2);

      // Every input an activity read came from the bucket: the work folder is there, and the
      // workers' own data dirs hold nothing of this sync.
      const work = (await listObjects('work/')).filter((n) => n.includes(destinationId));
      expect(work.length).toBeGreaterThan(0);
      for (const w of state.workers) {
        const local = filesUnder(w.dataDir).filter((f) => f.includes(destinationId) || statSync(f).size > 1_000_000);
        expect(local, w.identity).toEqual([]);
      }
    } finally {
      await h.terminate('test done').catch(() => undefined);
    }
  });

  it(`holds the app's ${QPS} QPS across the three workers while six destinations of that app sync at once`, async () => {
    const before = Math.max(0, ...(await emulator<{ calls: { seq: number }[] }>('GET', 'calls')).calls.map((c) => c.seq));
    // Arrivals as the emulator's own limit counts them (the call log has when each answer left).
    await emulator('POST', 'rates/reset');
    const syncs = [];
    for (let d = 0; d < 6; d++) {
      const advertiserId = `74000000000000001${d}0`;
      const ids = range(d * 1000, d * 1000 + 300);
      const config = destination(`rate${d}`, advertiserId, await tokenFileFor(advertiserId));
      syncs.push({ ids, ...(await startSync(config, await putObject(`exports/rate-${d}.csv`, csvOf(ids)))) });
    }
    try {
      const done = await Promise.all(syncs.map((s) => waitForStatus(s.h, cycleDone(1), 240_000)));
      for (const [i, s] of done.entries()) {
        expect(s.lastError, `sync ${i}`).toBeNull();
        const held = (await emulator<{ ids: string[] }>('GET', `audiences/${s.audienceId}`)).ids.sort();
        expect(held, `sync ${i}`).toEqual(expectedDigests(syncs[i]!.ids));
      }
      const calls = (await emulator<{ calls: { seq: number; at: string; outcome: string; code: number | null }[] }>('GET', `calls?since=${before}`)).calls;
      const times = calls.map((c) => Date.parse(c.at));
      const rates = (await emulator<{ apps: Record<string, Partial<Record<string, { requests: number; peakPerSecond: number; rateLimited: number }>>> }>('GET', 'rates')).apps;
      const observed = Object.values(rates).flatMap((byBucket) => Object.values(byBucket));
      const peak = Math.max(0, ...observed.map((r) => r!.peakPerSecond));
      expect(observed.reduce((n, r) => n + r!.rateLimited, 0)).toBe(0);
      const spanS = (Math.max(...times) - Math.min(...times)) / 1000;
      process.stdout.write(`tiktok requests: ${calls.length} over ${spanS.toFixed(1)} s, at most ${peak} in any second (limit ${QPS})\n`);
      // Enough demand to hit the limit many times over, and never above it.
      expect(calls.length).toBeGreaterThan(QPS * 4);
      expect(peak).toBeLessThanOrEqual(QPS);
      expect(calls.filter((c) => c.code === 40100)).toEqual([]);
      // Each worker took its part among three, as its log says.
      for (const w of state.workers) expect(readFileSync(w.logFile, 'utf8'), w.identity).toContain('TikTok limits shared by 3 worker process(es)');
      // The calls came from every worker: TikTok activities ran on all three.
      const tiktokWorkers = new Set<string>();
      for (const s of syncs)
        for await (const hist of runHistories(client, s.workflowId, s.firstRunId))
          for (const w of activityWorkers([hist], TaskQueues.tiktok).values()) w.forEach((i) => tiktokWorkers.add(i));
      expect(tiktokWorkers.size).toBe(3);
    } finally {
      await Promise.all(syncs.map((s) => s.h.terminate('test done').catch(() => undefined)));
    }
  });

  it('refuses a second up on the running folder, reports a dead worker, and down stops every process', async () => {
    const again = cli(['up', '--workers', '1', '--port', '0', '--emulator-port', '0']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is already running \(.*ttsync-worker-1@.* pid \d+/);

    // A worker that died: status names it DOWN and exits 1; down still stops the rest.
    const dead = state.workers[2]!;
    process.kill(dead.pid, 'SIGKILL');
    for (let i = 0; i < 200 && alive(dead.pid); i++) await new Promise((r) => setTimeout(r, 50));
    const status = cli(['status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(new RegExp(`^DOWN\\s+${dead.identity.replace('.', '\\.')}`, 'm'));
    expect(status.stdout).toMatch(/^up\s+temporal\s+127\.0\.0\.1:\d+ server 1\.29\.1/m);

    const pids = [state.temporal.pid, state.gcs.pid, state.emulator!.pid, ...state.workers.map((w) => w.pid)];
    const down = cli(['down'], 120_000);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(`worker: ${dead.identity} not running`);
    expect(pids.filter(alive)).toEqual([]);
    const after = cli(['status']);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('no topology');
  });
});
