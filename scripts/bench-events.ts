// Events export end to end (issue 14): a file of 1M events exported through the real
// eventsExport workflow to the TikTok emulator (in its own process, TikTok's 1,000 requests/s
// for /event/track/), and in the same run a one-event-per-request baseline (what Segment does)
// on a sample, against the same emulator. Prints events/s for both, the ratio and the peak
// RSS of the data + events worker (a child process). Prints numbers; asserts nothing.
//   npm run bench:events
//   npm run bench:events -- --events 2e5 --baseline 3000
// TEMPORAL_ADDRESS uses that server (unique task queues) instead of a throwaway dev server.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_ADDRESS, localTemporalSettings } from '../src/temporal/connection';
import { durationMsOf } from '../src/config/duration';
import { emulatorAnswers } from '../src/emulator/ensure';
import { EventBuilder } from '../src/events-export/buildEvent';
import { requestEventsExport, waitForEventsRun } from '../src/events-export/client';
import { parseEventsConfig, type EventsDestinationConfigInput } from '../src/events-export/config';
import { PROJECT_ROOT } from '../src/paths';
import { spawnTied } from '../src/process/spawnTied';
import { freePort, startDevServer, stopChild } from '../src/temporal/devServer';
import { installRuntimeLogging } from '../src/temporal/logging';
import { resolveTemporalCli } from '../src/temporal/toolchain';
import { WorkflowIds } from '../src/temporal/workflowIds';
import { TikTokClient } from '../src/tiktok';
import type { TrackedEvent } from '../src/tiktok/types';
import { createWorkers } from '../src/worker';

const ADVERTISER = '7000000000000000009';
const TOKEN_VAR = 'TTSYNC_BENCH_EVENTS_TOKEN';
const PIXEL = 'BENCH0000000000PIXEL';
const MiB = 1 << 20;
const n = (x: number): string => Math.round(x).toLocaleString('en-US');

interface ChildEnv {
  queues: { data: string; tiktok: string; events: string };
  workdir: string;
}

async function workerChild(): Promise<void> {
  installRuntimeLogging('WARN');
  const cfg = JSON.parse(process.env.TTSYNC_BENCH_CHILD ?? '{}') as ChildEnv;
  const temporal = localTemporalSettings(process.env.TEMPORAL_ADDRESS ?? DEFAULT_ADDRESS, process.env.TEMPORAL_NAMESPACE || undefined);
  const connection = await NativeConnection.connect({ address: temporal.address });
  const workers = await createWorkers({
    temporal,
    connection,
    roles: ['data', 'tiktok'],
    taskQueues: { data: cfg.queues.data, tiktok: cfg.queues.tiktok },
    events: { taskQueue: cfg.queues.events },
    shutdownGraceTime: '1s',
    activityDeps: { eventsExport: { defaultWorkdir: cfg.workdir } },
  });
  process.send?.({ ready: true });
  const stop = (): void => workers.shutdown();
  process.on('message', (m: { stop?: boolean }) => {
    if (m.stop) stop();
  });
  process.on('disconnect', stop);
  await workers.done;
  await connection.close();
  process.send?.({ maxRSS: process.resourceUsage().maxRSS * 1024 });
  process.disconnect?.();
}

function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function startChild(address: string, env: ChildEnv): { proc: ChildProcess; ready: Promise<void>; maxRss: Promise<number> } {
  const proc = spawn(process.execPath, [__filename, '--worker-child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TEMPORAL_ADDRESS: address, TTSYNC_BENCH_CHILD: JSON.stringify(env) },
  });
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('message', (m: { ready?: boolean }) => m.ready && resolve());
    proc.once('exit', (code) => reject(new Error(`benchmark worker exited (code ${code})`)));
  });
  const maxRss = new Promise<number>((resolve) => proc.on('message', (m: { maxRSS?: number }) => m.maxRSS !== undefined && resolve(m.maxRSS)));
  return { proc, ready, maxRss };
}

async function writeEvents(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('ts,email,phone,order,value,currency\n');
  const ts = new Date(Date.now() - 3_600_000).toISOString();
  for (let i = 0; i < count; i++) {
    const line = `${ts},buyer${i}@example.com,+1212555${String(i % 10_000).padStart(4, '0')},o-${i},${(i % 500) + 0.99},USD\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  if (process.argv.includes('--worker-child')) return workerChild();
  installRuntimeLogging('WARN');
  const { values } = parseArgs({
    options: { events: { type: 'string', default: '1e6' }, baseline: { type: 'string', default: '5000' }, timeout: { type: 'string', default: '30m' }, keep: { type: 'boolean', default: false } },
    strict: true,
  });
  const total = Number(values.events);
  const sample = Number(values.baseline);
  const timeoutMs = durationMsOf(values.timeout);
  const dir = await mkdtemp(join(tmpdir(), 'ttsync-bench-events-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    let address = process.env.TEMPORAL_ADDRESS;
    if (!address) {
      const server = await startDevServer({ cliPath: resolveTemporalCli(), port: 0, logFile: join(dir, 'temporal.log') });
      cleanups.push(() => server.stop());
      address = server.address;
    }
    const emuPort = await freePort();
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    const emuLog = openSync(join(dir, 'emulator.log'), 'a');
    const emuChild = spawnTied(process.execPath, [join(PROJECT_ROOT, 'bin', 'ttsync.js'), 'emulator', '--port', String(emuPort)], { output: emuLog });
    closeSync(emuLog);
    cleanups.push(() => stopChild(emuChild, 10_000));
    for (let i = 0; !(await emulatorAnswers(emuUrl)); i++) {
      if (i > 100 || emuChild.exitCode !== null) throw new Error(`the emulator did not start; see ${join(dir, 'emulator.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const tokenRes = await fetch(`${emuUrl}/_emulator/event-source-tokens`, { method: 'POST', body: JSON.stringify({ event_source_id: PIXEL, advertiser_id: ADVERTISER }) });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    process.env[TOKEN_VAR] = token;
    process.env.TIKTOK_API_BASE_URL = `${emuUrl}/open_api/v1.3`;

    const stamp = Date.now().toString(36);
    const taskQueue = `bench-events-control-${stamp}`;
    const queues = { data: `bench-events-data-${stamp}`, tiktok: `bench-events-tiktok-${stamp}`, events: `bench-events-events-${stamp}` };
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const temporal = localTemporalSettings(address, process.env.TEMPORAL_NAMESPACE || undefined);
    const client = new Client({ connection, namespace: temporal.namespace });
    const native = await NativeConnection.connect({ address });
    const control = await createWorkers({ temporal, connection: native, roles: ['control'], taskQueues: { control: taskQueue }, shutdownGraceTime: '1s' });
    cleanups.push(async () => {
      control.shutdown();
      await control.done;
      await native.close();
    });

    const config: EventsDestinationConfigInput = {
      destinationId: `bench-${stamp}`,
      source: 'web',
      eventSourceId: PIXEL,
      accessToken: `env:${TOKEN_VAR}`,
      input: { kind: 'files' },
      event: { standard: 'Purchase' },
      eventTimeField: 'ts',
      identifiers: { email: 'email', phone: 'phone' },
      properties: { order_id: 'order', value: 'value', currency: 'currency' },
    };
    const file = join(dir, 'events.csv');
    let t0 = performance.now();
    await writeEvents(file, total);
    console.log(`input: ${n(total)} events, CSV written in ${((performance.now() - t0) / 1000).toFixed(1)} s; node ${process.version}; emulator in its own process (1,000 requests/s for event/track/)`);

    // Ours: the real workflow, data + events worker in a child process.
    const child = startChild(address, { queues, workdir: join(dir, 'work') });
    cleanups.push(() => (child.proc.exitCode === null ? child.proc.kill('SIGKILL') : undefined));
    await child.ready;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, vmHwm(child.proc.pid!))), 200);
    t0 = performance.now();
    const req = await requestEventsExport(client, { config, input: { uri: pathToFileURL(file).href }, taskQueue, queues: { data: queues.data, events: queues.events } });
    let preparedAt = 0;
    const { status, ok } = await waitForEventsRun(client, config.destinationId, req.requestId, {
      timeoutMs,
      pollMs: 200,
      onStatus: (s) => {
        if (!preparedAt && s.phase === 'sending') preparedAt = performance.now();
      },
    });
    const wall = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, vmHwm(child.proc.pid!));
    child.proc.send({ stop: true });
    const rusage = await Promise.race([child.maxRss, new Promise<number>((r) => setTimeout(() => r(0), 15_000))]);
    await client.workflow.getHandle(WorkflowIds.eventsExport(config.destinationId)).terminate('benchmark done').catch(() => undefined);
    const run = status.lastRun;
    if (!ok || !run) throw new Error(`the export failed: ${JSON.stringify(status.lastError)}`);
    const ours = run.sent / wall;
    const stats = (await (await fetch(`${emuUrl}/_emulator/event-sources/${PIXEL}?limit=0`)).json()) as { received: number; deduplicated: number };
    console.log(
      `ttsync: ${n(run.sent)} events in ${wall.toFixed(1)} s wall = ${n(ours)} events/s (prepare ${preparedAt ? ((preparedAt - t0) / 1000).toFixed(1) : '?'} s, send ${preparedAt ? ((performance.now() - preparedAt) / 1000).toFixed(1) : '?'} s); ${n(run.batches)} batches, ${n(run.requests)} requests, ${n(run.retries)} retries; emulator received ${n(stats.received)} (${n(stats.deduplicated)} duplicates); worker peak RSS ${Math.round(peak / MiB)} MiB (VmHWM; getrusage ${Math.round(rusage / MiB)} MiB)`,
    );

    // Baseline: the same events, one per request, as fast as the emulator's 1,000 requests/s allow.
    const builder = new EventBuilder(parseEventsConfig(config));
    const events: TrackedEvent[] = [];
    const ts = new Date(Date.now() - 3_600_000).toISOString();
    for (let i = 0; i < sample; i++) {
      const r = builder.build({ ts, email: `base${i}@example.com`, phone: '+12125550000', order: `b-${i}`, value: '1', currency: 'USD' }, { kind: 'file', rowDigest: `base-${stamp}-${i}` }, { nowMs: Date.now() });
      if ('event' in r) events.push(r.event);
    }
    const tiktok = new TikTokClient({ accessToken: token, appId: `bench-baseline-${stamp}`, env: { TIKTOK_API_BASE_URL: `${emuUrl}/open_api/v1.3`, TIKTOK_EVENTS_QPS: 1000 } });
    let next = 0;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < events.length) await tiktok.trackEvents({ eventSource: 'web', eventSourceId: PIXEL, data: [events[next++]!] });
      }),
    );
    const baseWall = (performance.now() - t0) / 1000;
    const baseline = events.length / baseWall;
    console.log(`baseline (one event per request, 32 in flight): ${n(events.length)} events in ${baseWall.toFixed(1)} s = ${n(baseline)} events/s`);
    console.log(`ratio: ${(ours / baseline).toFixed(1)}x; goals: >= 25,000 events/s, >= 25x, < 512 MiB worker RSS`);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench-events: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
