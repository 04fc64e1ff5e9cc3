import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { runCli, pidAlive } from '../../helpers/cli';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { runHistories } from '../../helpers/workflowHistory';

/*
 * The production topology, for real: `ttsync cluster up --workers 2` starts PostgreSQL
 * (initdb/pg_ctl), the Temporal server built from its Go module on it, fake-gcs-server, the
 * TikTok emulator and two worker processes with data dirs of their own; an audience sync runs
 * through it, and `down` stops every process. Each worker runs one activity per queue at a
 * time (--max-activities 1), so the four parallel diff shard groups cannot all land on one
 * process: which worker ran which activity is read from the history's ActivityTaskStarted
 * identities. The destination names no workdir: the topology's default (the bucket) is used,
 * and the workers' own folders stay empty of sync data. Expected digests come from node:crypto.
 */

let dir: string;
let state: TopologyState;
let client: Client;

const cli = (args: string[], timeoutMs = 240_000) => runCli(['cluster', ...args, '--dir', dir], { timeoutMs });

beforeAll(async () => {
  // Searchable by others: PostgreSQL runs as its own user below it when the tests run as root.
  dir = mkdtempSync(join(tmpdir(), 'ttsync-topology-'));
  chmodSync(dir, 0o711);
  const up = cli(['up', '--workers', '2', '--port', '0', '--max-activities', '1']);
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

/** activity type → the worker identities that started it, from every run's history. */
function activityWorkers(histories: temporal.api.history.v1.IHistory[]): Map<string, Set<string>> {
  const byType = new Map<string, Set<string>>();
  for (const h of histories) {
    const scheduled = new Map<string, string>();
    for (const e of h.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = scheduled.get(String(started.scheduledEventId)) ?? '?';
        const set = byType.get(type) ?? new Set<string>();
        set.add(started.identity ?? '?');
        byType.set(type, set);
      }
    }
  }
  return byType;
}

describe('the production topology (PostgreSQL, Temporal server, fake-gcs-server, 2 worker processes)', { timeout: 300_000 }, () => {
  it('runs an audience sync exactly, spreads its activities over both workers, keeps nothing in their own folders, and stops every process', async () => {
    expect(state.workers.map((w) => w.identity)).toHaveLength(2);
    expect(state.temporal.version).toBe('1.29.1');

    const advertiserId = '7400000000000000001';
    const { access_token } = await emulator<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiserId] });
    // The workers were started before this token existed: a file reference reaches them all.
    const tokenFile = join(dir, 'secrets', 'tiktok-token');
    writeFileSync(tokenFile, access_token, { mode: 0o600 });

    const ids = range(0, 3000);
    const csv = ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`)].join('\n') + '\n';
    const snapshotUri = await putObject('exports/day-1.csv', csv);
    const destinationId = `topology-${Date.now()}`;
    const config: DestinationConfigInput = {
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
    const workflowId = WorkflowIds.audienceSync(destinationId);
    const first = await client.workflow.start(audienceSync, { taskQueue: TaskQueues.control, workflowId, args: [{ config, snapshot: { uri: snapshotUri }, timing: DEFAULT_TIMING }] });
    const h = client.workflow.getHandle<typeof audienceSync>(workflowId);
    try {
      const s = await waitForStatus(h, cycleDone(1), 240_000);
      expect(s.lastError).toBeNull();
      expect(s.phase).toBe('synced');
      expect(s.lastSync).toMatchObject({ kind: 'snapshot', added: 6000, removed: 0 });
      const held = (await emulator<{ ids: string[] }>('GET', `audiences/${s.audienceId}`)).ids.sort();
      expect(held).toEqual(expectedDigests(ids));

      // Which worker ran which activity.
      const histories: temporal.api.history.v1.IHistory[] = [];
      for await (const hist of runHistories(client, workflowId, first.firstExecutionRunId)) histories.push(hist);
      const byType = activityWorkers(histories);
      const report = Object.fromEntries([...byType].map(([t, w]) => [t, [...w].sort()]));
      process.stdout.write(`activities by worker: ${JSON.stringify(report)}\n`);
      const identities = new Set([...byType.values()].flatMap((w) => [...w]));
      expect([...identities].sort()).toEqual(state.workers.map((w) => w.identity).sort());
      // The four shard groups are diffed in parallel, one per process at a time: both took some.
      expect([...(byType.get('diffShards') ?? [])].sort()).toEqual(state.workers.map((w) => w.identity).sort());

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

    // down: every process of the topology ends, and status says so.
    const pids = [state.temporal.pid, state.gcs.pid, state.emulator!.pid, ...state.workers.map((w) => w.pid)];
    const down = cli(['down'], 120_000);
    expect(down.code, down.stderr).toBe(0);
    expect(pids.filter(pidAlive)).toEqual([]);
    const after = cli(['status']);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('no topology');
  });
});
