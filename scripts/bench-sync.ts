// Audience sync end to end (issue 5): the real audienceSync workflow on a Temporal dev server,
// TikTok = the emulator over HTTP, local storage. Prints numbers; asserts nothing.
//   npm run bench:sync                                   first syncs of 1M and 10M rows, 1% churn on 1M
//   npm run bench:sync -- --rows 2e5 --churn 0.01        smaller
//   npm run bench:sync -- --rows 1e6 --no-churn --processing-delay 500ms --timeout 20m --keep
//   npm run bench:sync -- --cold-worker                  each scenario in a worker that has run nothing yet
//   npm run bench:sync -- --warm-rows 1e6                each scenario's worker warmed by a larger sync (default 20,000 rows): the JIT's first-time work left out
//   npm run bench:sync -- --churns 1                     one churn sync (default 3 in a row in one worker, as hourly syncs)
//   BENCH_THREADS=1 npm run bench:sync                   also each activity's worker CPU per thread, collections and page faults, on stderr
// The data + TikTok worker runs in its own child process, one per scenario (warmed by a
// 20,000-row sync (--warm-rows) of another destination, which peaks far lower), so its peak RSS
// (VmHWM from /proc, and the child's own getrusage maxRSS) is that scenario's; the churns
// after the first run in the first one's worker, and their peak is sampled. The emulator
// runs in a process of its own (`ttsync emulator`); the control worker (workflows) and the
// client run here. TEMPORAL_ADDRESS uses that server (unique task queues) instead of starting
// a throwaway in-memory dev server. Per scenario it also reads and hashes the same snapshot
// alone in this process (the data plane's floor) and prints the data plane (prepare + diff +
// build, wall and worker CPU seconds) against it, and a churn sync against its first sync;
// the bytes the data activities wrote, and for a first sync what writing as many bytes to new
// files and the MD5 of its customer files cost alone here, and from those the least any first
// sync can cost on this machine (leastFirstSync).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createReadStream, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { requestAudienceSync, waitForAudienceCycle } from '../src/audience-sync/client';
import { columnMappingOf, parseDestinationConfig, type DestinationConfigInput } from '../src/audience-sync/config';
import { SnapshotReader } from '../src/snapshot';
import { DEFAULT_ADDRESS, localTemporalSettings } from '../src/temporal/connection';
import { churned, SYNTHETIC_COLUMNS, SYNTHETIC_DEFAULT_COUNTRY, writeSyntheticSnapshot, type SyntheticSpec, type SyntheticStats } from '../src/audience-sync/demo/synthetic';
import type { PrepareTuning } from '../src/audience-sync/prepare';
import { emulatorAudience, seedAdvertiserToken } from '../src/audience-sync/demo/emulatorControl';
import { durationMsOf } from '../src/config/duration';
import { emulatorAnswers } from '../src/emulator/ensure';
import { PROJECT_ROOT } from '../src/paths';
import { spawnTied } from '../src/process/spawnTied';
import { openBlobStore } from '../src/storage';
import { freePort, startDevServer, stopChild, type DevServer } from '../src/temporal/devServer';
import { installRuntimeLogging } from '../src/temporal/logging';
import { resolveTemporalCli } from '../src/temporal/toolchain';
import { createWorkers, type RunningWorkers } from '../src/worker';
import type { AudienceSyncStatus } from '../src/audience-sync/messages';
import { WorkflowIds } from '../src/temporal/workflowIds';
import { freshPageCost, outputCost, processIo } from './ioCost';
import { recordWidth } from '../src/audience-sync/listStore';
import { IdentifierTypeSchema } from '../src/identifiers/schema';

const ADVERTISER = '7000000000000000001';
const TOKEN_VAR = 'TTSYNC_BENCH_TIKTOK_TOKEN';
const MiB = 1 << 20;
const mib = (b: number): string => `${Math.round(b / MiB)} MiB`;
const mib1 = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
const n = (x: number): string => x.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------
// Child: the data + TikTok worker of one scenario.

interface ChildEnv {
  queues: { data: string; tiktok: string };
  workdir: string;
}

/** One activity as the worker ran it: its type, and the clock and process CPU (ms) at its start and end. */
interface ActivitySpan {
  type: string;
  t0: number;
  t1: number;
  c0: number;
  c1: number;
  /** Main thread CPU ms inside the activity (overlapping activities' overlap counted in each). */
  main: number;
  /** Bytes the process had passed to write calls at its start and end (/proc/self/io). */
  w0: number;
  w1: number;
}

const cpuNowMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms of this process's main (JavaScript) thread: the rest of cpuNowMs is V8's helpers (GC, compiler), libuv and the SDK's threads. */
const mainThreadMs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;

/**
 * CPU ms of each of this process's threads (BENCH_THREADS=1), read from /proc at an
 * activity's bounds, to say where a phase's CPU beside the main thread goes.
 */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let comm: string;
    let ms: number;
    try {
      comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      ms = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      continue; // the thread ended meanwhile
    }
    // Node names none of its threads: they are told apart by creation order (V8's helpers
    // come first, then libuv's pool and later threads).
    const kind = Number(tid) === process.pid ? 'main' : comm === 'node' ? `+${Number(tid) - process.pid}` : comm;
    out.set(kind, (out.get(kind) ?? 0) + ms);
  }
  return out;
}

/** This process's garbage collections (BENCH_THREADS=1): start (performance.now), kind, pause ms. */
const gcs: { at: number; kind: number; ms: number }[] = [];
if (process.env.BENCH_THREADS) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: e.startTime, kind: (e as unknown as { detail: { kind: number } }).detail.kind, ms: e.duration });
  }).observe({ entryTypes: ['gc'] });
}

/** The collections since `from`: how many of each kind, and their pauses on the main thread. */
function gcSince(from: number): string {
  const names: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak' };
  const by = new Map<string, { n: number; ms: number }>();
  for (const g of gcs) {
    if (g.at < from) continue;
    const k = names[g.kind] ?? String(g.kind);
    const v = by.get(k) ?? { n: 0, ms: 0 };
    v.n++;
    v.ms += g.ms;
    by.set(k, v);
  }
  return `gc ${[...by].map(([k, v]) => `${v.n} ${k} (${v.ms.toFixed(0)} ms)`).join(', ') || 'none'}`;
}

/** b - a per kind (threads that ended meanwhile are not counted). */
function threadCpuDelta(a: Map<string, number>, b: Map<string, number>): string {
  return [...b]
    .map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const)
    .filter(([, v]) => v >= 5)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
}

async function workerChild(): Promise<void> {
  installRuntimeLogging('WARN');
  // Each activity's bounds, so the parent reads the data plane's CPU from the activities
  // themselves, not from phases it sees only by polling every 200 ms.
  const spans: ActivitySpan[] = [];
  const timed: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        const t0 = performance.timeOrigin + performance.now();
        const c0 = cpuNowMs();
        const h0 = process.hrtime.bigint() / 1000n;
        const m0 = mainThreadMs();
        const th0 = process.env.BENCH_THREADS ? threadCpuMs() : null;
        const p0 = performance.now();
        const w0 = processIo().written;
        const f0 = process.resourceUsage().minorPageFault;
        try {
          return await next(input);
        } finally {
          if (th0) console.error(`THREADS ${ctx.info.activityType} ms: ${threadCpuDelta(th0, threadCpuMs())}; ${gcSince(p0)}; ${process.resourceUsage().minorPageFault - f0} minor page faults`);
          spans.push({ type: ctx.info.activityType, t0, t1: performance.timeOrigin + performance.now(), c0, c1: cpuNowMs(), main: mainThreadMs() - m0, w0, w1: processIo().written });
          // BENCH_MARKS=1: the activity's bounds in hrtime µs, to slice a profile of this worker (BENCH_CHILD_NODE_ARGS).
          if (process.env.BENCH_MARKS) console.error(`MARK activity ${ctx.info.activityType} ${h0} ${process.hrtime.bigint() / 1000n} at ${p0.toFixed(0)}-${performance.now().toFixed(0)} ms`);
        }
      },
    },
  });
  const cfg = JSON.parse(process.env.TTSYNC_BENCH_CHILD ?? '{}') as ChildEnv;
  // The benchmark's own server (its parent names it), never a profile.
  const temporal = localTemporalSettings(process.env.TEMPORAL_ADDRESS ?? DEFAULT_ADDRESS, process.env.TEMPORAL_NAMESPACE || undefined);
  const connection = await NativeConnection.connect({ address: temporal.address });
  const workers = await createWorkers({
    temporal,
    connection,
    roles: ['data', 'tiktok'],
    taskQueues: cfg.queues,
    shutdownGraceTime: '1s',
    activityInterceptors: [timed],
    activityDeps: {
      // BENCH_ROW_INDEX=0: without the row index (every sync reads the whole snapshot), to compare.
      // BENCH_TUNING='{"rowIndexCompactAt":0}': other PrepareTuning values (JSON), e.g. to measure a compaction.
      audienceData: {
        openStore: (uri: string) => openBlobStore(uri),
        defaultWorkdir: cfg.workdir,
        tuning: { ...(process.env.BENCH_ROW_INDEX === '0' ? { rowIndexMaxBytes: 0 } : {}), ...(process.env.BENCH_TUNING ? (JSON.parse(process.env.BENCH_TUNING) as Partial<PrepareTuning>) : {}) },
      },
      tiktokAudience: {},
    },
  });
  process.send?.({ ready: true });
  const stop = (): void => workers.shutdown();
  process.on('message', (m: { stop?: boolean; cpu?: number; spans?: number }) => {
    if (m.stop) stop();
    if (m.spans !== undefined) process.send?.({ spansReply: m.spans, spans: spans.splice(0) });
    // CPU seconds of the worker so far (user + system, all threads): the parent's phase clock.
    if (m.cpu !== undefined) {
      const u = process.cpuUsage();
      process.send?.({ cpuReply: m.cpu, cpuMs: (u.user + u.system) / 1000 });
    }
  });
  // The parent is gone (even killed): stop too, never linger.
  process.on('disconnect', stop);
  await workers.done;
  await connection.close();
  process.send?.({ maxRSS: process.resourceUsage().maxRSS * 1024 });
  process.disconnect?.();
}

// ---------------------------------------------------------------------------------------
// Parent

interface Options {
  rows: number[];
  churn: number | null;
  processingDelayMs: number;
  deadline: number;
  keep: boolean;
  /** Measure each scenario in a worker that has run nothing yet (default: one warmed by a small first and churn sync). */
  coldWorker: boolean;
  /** Rows of the warm-up syncs (first and churn) each scenario's worker runs before it. */
  warmRows: number;
  /** Churn syncs in a row (hourly syncs), each `churn` away from the one before, in one worker. */
  churns: number;
}

/** A row count given to `flag`: a whole number from 1000 to `max` (written as 1e6 or 1000000). */
function rowCount(flag: string, s: string, max: number): number {
  const v = Number(s.trim());
  if (!Number.isSafeInteger(v) || v < 1000 || v > max) throw new Error(`${flag}: "${s}" is not a whole number from 1000 to ${max.toExponential().replace('e+', 'e')}`);
  return v;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1e6,1e7' },
      churn: { type: 'string', default: '0.01' },
      'no-churn': { type: 'boolean', default: false },
      'processing-delay': { type: 'string', default: '1s' },
      timeout: { type: 'string', default: '60m' },
      keep: { type: 'boolean', default: false },
      'cold-worker': { type: 'boolean', default: false },
      'warm-rows': { type: 'string', default: '20000' },
      churns: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const rows = values.rows.split(',').map((s) => rowCount('--rows', s, 2e7));
  const warmRows = rowCount('--warm-rows', values['warm-rows'], 2e6);
  const churn = values['no-churn'] ? null : Number(values.churn);
  if (churn !== null && !(churn > 0 && churn <= 0.5)) throw new Error(`--churn: "${values.churn}" is not a share in (0, 0.5]`);
  const churns = Number(values.churns.trim());
  if (!(Number.isInteger(churns) && churns >= 1 && churns <= 12)) throw new Error(`--churns: "${values.churns}" is not a whole number from 1 to 12`);
  if (churn !== null && churns * churn >= 1) throw new Error(`--churns ${churns} of --churn ${churn}: more than the whole population would leave`);
  return {
    rows: [...new Set(rows)].sort((a, b) => a - b),
    churn,
    processingDelayMs: durationMsOf(values['processing-delay']),
    deadline: Date.now() + durationMsOf(values.timeout),
    keep: values.keep,
    coldWorker: values['cold-worker'],
    warmRows,
    churns,
  };
}

interface RssSampler {
  peak: number;
  byPhase: Map<string, number>;
  phase: string;
  stop(): void;
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const RSS_SAMPLE_MS = 100;

function sampleRss(pid: number): RssSampler {
  const s: RssSampler = {
    peak: 0,
    byPhase: new Map(),
    phase: 'starting',
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    const rss = procStatus(pid, 'VmRSS');
    s.peak = Math.max(s.peak, rss);
    s.byPhase.set(s.phase, Math.max(s.byPhase.get(s.phase) ?? 0, rss));
  }, RSS_SAMPLE_MS);
  return s;
}

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  maxRss: Promise<number>;
  /** The worker's CPU milliseconds so far (asks it over IPC). */
  cpuMs(): Promise<number>;
  /** The activities the worker ran since the last call. */
  takeSpans(): Promise<ActivitySpan[]>;
}

function startWorkerChild(address: string, env: ChildEnv): Child {
  // BENCH_CHILD_NODE_ARGS: node flags for the worker (e.g. "--cpu-prof --cpu-prof-dir=D"; NODE_OPTIONS refuses some).
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, __filename, '--worker-child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TEMPORAL_ADDRESS: address, TTSYNC_BENCH_CHILD: JSON.stringify(env) },
  });
  const exited = once(proc, 'exit').then(([code, sig]) => {
    throw new Error(`benchmark worker exited (${sig ?? `code ${code}`})`);
  });
  const ready = Promise.race([
    new Promise<void>((resolve) => proc.on('message', (m: { ready?: boolean }) => m.ready && resolve())),
    exited,
  ]);
  const maxRss = new Promise<number>((resolve) => proc.on('message', (m: { maxRSS?: number }) => m.maxRSS !== undefined && resolve(m.maxRSS)));
  exited.catch(() => undefined);
  let asked = 0;
  const pending = new Map<number, (ms: number) => void>();
  proc.on('message', (m: { cpuReply?: number; cpuMs?: number }) => {
    if (m.cpuReply === undefined) return;
    pending.get(m.cpuReply)?.(m.cpuMs ?? 0);
    pending.delete(m.cpuReply);
  });
  const cpuMs = (): Promise<number> =>
    new Promise((resolve) => {
      const id = ++asked;
      pending.set(id, resolve);
      proc.send({ cpu: id });
    });
  const spanWaiters = new Map<number, (spans: ActivitySpan[]) => void>();
  proc.on('message', (m: { spansReply?: number; spans?: ActivitySpan[] }) => {
    if (m.spansReply === undefined) return;
    spanWaiters.get(m.spansReply)?.(m.spans ?? []);
    spanWaiters.delete(m.spansReply);
  });
  const takeSpans = (): Promise<ActivitySpan[]> =>
    new Promise((resolve) => {
      const id = ++asked;
      spanWaiters.set(id, resolve);
      proc.send({ spans: id });
    });
  return { proc, ready, maxRss, cpuMs, takeSpans };
}

/**
 * Wall and worker CPU ms inside the activities of one type: overlapping ones (diff groups run
 * side by side) count once, from the first's start to the last's end of each overlap.
 */
function activityTime(spans: readonly ActivitySpan[], type: string): { wallMs: number; cpuMs: number; mainMs: number; count: number; written: number } {
  const mine = spans.filter((x) => x.type === type).sort((a, b) => a.t0 - b.t0);
  let wallMs = 0;
  let cpuMs = 0;
  let written = 0;
  for (let i = 0; i < mine.length; ) {
    const t0 = mine[i]!.t0;
    let { t1, c0, c1, w0, w1 } = mine[i]!;
    let j = i + 1;
    for (; j < mine.length && mine[j]!.t0 <= t1; j++) {
      if (mine[j]!.t1 > t1) {
        t1 = mine[j]!.t1;
        c1 = mine[j]!.c1;
        w1 = mine[j]!.w1;
      }
      c0 = Math.min(c0, mine[j]!.c0);
      w0 = Math.min(w0, mine[j]!.w0);
    }
    wallMs += t1 - t0;
    cpuMs += c1 - c0;
    written += w1 - w0;
    i = j;
  }
  return { wallMs, cpuMs, mainMs: mine.length === 1 ? mine[0]!.main : NaN, count: mine.length, written };
}

/**
 * The least any first sync can cost on this machine, whatever its code: the floor, writing
 * the outputs every design keeps (the customer files sent and the applied state, a record per
 * id) to new files, and their MD5. Spill, row index, sort and diff are not counted, nor
 * memory to hold the ids (a design could sort them inside the applied state's own files).
 * Writing is priced pro rata at what `outputs alone` measured for all the bytes written.
 */
function leastFirstSync(floorCpuMs: number, cost: { writeMs: number; md5Ms: number }, written: number, last: { bytes: number; appliedCounts: Record<string, number> }): string {
  const stateBytes = Object.entries(last.appliedCounts).reduce((a, [type, count]) => a + count * recordWidth(IdentifierTypeSchema.parse(type)), 0);
  const keptBytes = last.bytes + stateBytes;
  const writeMs = written > 0 ? (cost.writeMs * keptBytes) / written : 0;
  const leastMs = floorCpuMs + writeMs + cost.md5Ms;
  return `  the least any first sync costs here: the floor, writing what every design keeps (${mib(last.bytes)} of customer files, ${mib(stateBytes)} of applied state) ${(writeMs / 1000).toFixed(2)} s CPU, their MD5 ${(cost.md5Ms / 1000).toFixed(2)} s: ${(leastMs / 1000).toFixed(2)} s CPU = ${(leastMs / floorCpuMs).toFixed(2)}x the floor`;
}

/**
 * The floor of the data plane: reading, normalizing and hashing the snapshot alone (the
 * SnapshotReader, nothing stored, digests as raw bytes like prepare's), here, in the same
 * run as the syncs it is compared with.
 */
async function readHashFloor(path: string, config: DestinationConfigInput): Promise<{ wallMs: number; cpuMs: number; ids: number }> {
  const parsed = parseDestinationConfig(config);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const options = {
    format: 'csv' as const,
    mapping: columnMappingOf(parsed),
    normalization: { context: 'audience' as const, phoneFormat: parsed.phoneFormat, ...(parsed.defaultCountry ? { defaultCountry: parsed.defaultCountry } : {}) },
  };
  // Raw digests, as prepare reads them: the fastest way to read and hash (no hex written).
  const reader = new SnapshotReader(pathToFileURL(path).href, options, undefined, { rawDigests: true });
  let ids = 0;
  for await (const batch of reader.read(createReadStream(path, { highWaterMark: 1 << 20 }))) for (const d of batch.digests) ids += d.digests.length;
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, ids };
}

const DATA_PLANE = ['preparing', 'diffing', 'building'];
/** The activities of those phases. */
const DATA_ACTIVITIES = ['prepareSnapshot', 'diffShards', 'buildCustomerFiles'];

async function stopWorkerChild(c: Child): Promise<number> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return 0;
  const gone = once(c.proc, 'exit');
  c.proc.send({ stop: true });
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 15_000);
  const rss = await Promise.race([c.maxRss, gone.then(() => 0)]);
  await gone;
  clearTimeout(timer);
  return rss;
}

/** Every run the cycle used: from the run that took the request up to the one it continued into. */
async function cycleHistories(client: Client, workflowId: string, firstRunId: string): Promise<{ runs: number; events: number; bytes: number }> {
  let runs = 0;
  let events = 0;
  let bytes = 0;
  for (let runId: string | undefined = firstRunId; runId; ) {
    const handle = client.workflow.getHandle(workflowId, runId);
    // The run ends with continue-as-new right after its cycle; wait for that.
    for (let i = 0; (await handle.describe()).status.name === 'RUNNING'; i++) {
      if (i > 100) return { runs: -1, events, bytes };
      await new Promise((r) => setTimeout(r, 100));
    }
    const history: temporal.api.history.v1.IHistory = await handle.fetchHistory();
    runs++;
    events += history.events?.length ?? 0;
    bytes += temporal.api.history.v1.History.encode(history).finish().length;
    const last: temporal.api.history.v1.IHistoryEvent | undefined = history.events?.at(-1);
    const next: string | undefined = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    // Stop at the idle run that the cycle continued into (it is still running, cycle-free).
    if (!next || (await client.workflow.getHandle(workflowId, next).describe()).status.name === 'RUNNING') break;
    runId = next;
  }
  return { runs, events, bytes };
}

async function currentRunId(client: Client, workflowId: string): Promise<string | null> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? d.runId : null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

interface Scenario {
  name: string;
  spec: SyntheticSpec;
  destinationId: string;
  /** Runs in the worker of the scenario before it (an hourly sync of a worker that keeps running), not a fresh one. */
  sameWorker?: boolean;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  installRuntimeLogging('WARN');
  const dir = await mkdtemp(join(tmpdir(), 'ttsync-bench-sync-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  let current: Child | undefined;
  const killChild = (): void => {
    current?.proc.kill('SIGKILL');
  };
  process.once('exit', killChild);
  try {
    let address = process.env.TEMPORAL_ADDRESS;
    if (!address) {
      const t0 = performance.now();
      const server: DevServer = await startDevServer({ cliPath: resolveTemporalCli(), port: 0, logFile: join(dir, 'temporal.log') });
      cleanups.push(() => server.stop());
      address = server.address;
      console.log(`temporal dev server ${address} (in memory, ${Math.round(performance.now() - t0)} ms)`);
    } else console.log(`temporal: ${address} (TEMPORAL_ADDRESS)`);

    // The emulator runs in its own process (the ttsync emulator command): it holds every id
    // it receives, and parsing GBs of uploads must not slow the control worker here.
    const emuPort = await freePort();
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    const emuLog = openSync(join(dir, 'emulator.log'), 'a');
    const emuChild = spawnTied(process.execPath, [join(PROJECT_ROOT, 'bin', 'ttsync.js'), 'emulator', '--port', String(emuPort), '--processing-delay', `${opts.processingDelayMs}ms`], {
      output: emuLog,
    });
    closeSync(emuLog);
    cleanups.push(() => stopChild(emuChild, 10_000));
    for (let i = 0; !(await emulatorAnswers(emuUrl)); i++) {
      if (i > 100 || emuChild.exitCode !== null) throw new Error(`the emulator did not start; see ${join(dir, 'emulator.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seed = async (): Promise<void> => {
      process.env[TOKEN_VAR] = await seedAdvertiserToken(emuUrl, ADVERTISER, 'ttsync bench');
    };
    await seed();
    // The TikTok worker reads these from its environment (the child inherits them).
    process.env.TIKTOK_API_BASE_URL = `${emuUrl}/open_api/v1.3`;
    // TikTok acknowledges an edit and processes it later; the emulator applies it before it
    // answers, which at 25M ids on a busy machine outlasts the client's 30 s default. A
    // timed-out APPEND is retried whole, so the bench would measure the emulator, not ttsync.
    process.env.TIKTOK_TIMEOUT_MS ??= '300000';

    const stamp = Date.now().toString(36);
    const taskQueue = `bench-control-${stamp}`;
    const queues = { data: `bench-data-${stamp}`, tiktok: `bench-tiktok-${stamp}` };
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const temporal = localTemporalSettings(address, process.env.TEMPORAL_NAMESPACE || undefined);
    const client = new Client({ connection, namespace: temporal.namespace });
    const native = await NativeConnection.connect({ address });
    const control: RunningWorkers = await createWorkers({
      temporal,
      connection: native,
      roles: ['control'],
      taskQueues: { control: taskQueue },
      shutdownGraceTime: '1s',
    });
    cleanups.push(async () => {
      control.shutdown();
      await control.done;
      await native.close();
    });

    console.log(
      `emulator processing delay ${opts.processingDelayMs} ms; TikTok QPS ${process.env.TIKTOK_QPS ?? 10}, call timeout ${process.env.TIKTOK_TIMEOUT_MS} ms; worker: data + TikTok roles in a child process per scenario; node ${process.version}`,
    );
    const scenarios: Scenario[] = [];
    for (const people of opts.rows) {
      const destinationId = `bench-${people}-${stamp}`;
      const first: SyntheticSpec = { people, invalidEvery: 10_000 };
      scenarios.push({ name: `first sync ${n(people)} rows`, spec: first, destinationId });
      if (opts.churn !== null && people === opts.rows[0])
        for (let k = 1; k <= opts.churns; k++)
          scenarios.push({
            name: `incremental ${opts.churn * 100}% churn on ${n(people)}${opts.churns > 1 ? ` (${k} of ${opts.churns}${k > 1 ? ', the same worker as the churn before' : ', a fresh worker'})` : ''}`,
            spec: churned(first, opts.churn, k),
            destinationId,
            sameWorker: k > 1,
          });
    }

    const results: string[] = [];
    const firstSyncs = new Map<string, { planeWall: number; planeCpu: number; wallNoWait: number; actWall: number; actCpu: number }>();
    let lastDestination: string | undefined;
    for (const [si, sc] of scenarios.entries()) {
      // The next scenario runs in this worker: it is kept running after this one.
      const keepWorker = scenarios[si + 1]?.sameWorker === true;
      if (Date.now() > opts.deadline) {
        console.log(`${sc.name}: skipped, --timeout reached`);
        continue;
      }
      if (lastDestination && lastDestination !== sc.destinationId) {
        // The emulator keeps every id it received in memory: forget the previous audience.
        const res = await fetch(`${emuUrl}/_emulator/reset`, { method: 'POST' });
        if (!res.ok) throw new Error(`emulator reset: HTTP ${res.status}`);
        await seed();
      }
      lastDestination = sc.destinationId;
      const snapPath = join(dir, `${sc.destinationId}-${sc.spec.exitEvery ? `churn-${sc.spec.exitsEach ?? 1}` : 'first'}.csv`);
      const tg = performance.now();
      const stats: SyntheticStats = await writeSyntheticSnapshot(snapPath, sc.spec);
      console.log(`\n${sc.name}: snapshot ${n(stats.rows)} rows, ${mib(stats.bytes)} (written in ${((performance.now() - tg) / 1000).toFixed(1)} s)`);

      const configFor = (destinationId: string): DestinationConfigInput => ({
        destinationId,
        advertiserId: ADVERTISER,
        audienceName: `ttsync bench ${destinationId}`,
        action: 'create',
        identifiers: { [SYNTHETIC_COLUMNS.email]: 'email', [SYNTHETIC_COLUMNS.phone]: 'phone', [SYNTHETIC_COLUMNS.maid]: 'maid' },
        defaultCountry: SYNTHETIC_DEFAULT_COUNTRY,
        accessToken: `env:${TOKEN_VAR}`,
        sourceSegmentId: destinationId,
        maxProcessingWait: '1h',
        storage: { workdir: join(dir, destinationId, 'work') },
      });
      const config = configFor(sc.destinationId);
      // The floor, twice (the first read warms the page cache and the JIT); the faster counts.
      const floors = [await readHashFloor(snapPath, config), await readHashFloor(snapPath, config)];
      const floor = { wallMs: Math.min(...floors.map((f) => f.wallMs)), cpuMs: Math.min(...floors.map((f) => f.cpuMs)), ids: floors[0]!.ids };
      console.log(`  read+hash floor: ${n(floor.ids)} ids in ${(floor.wallMs / 1000).toFixed(2)} s wall, ${(floor.cpuMs / 1000).toFixed(2)} s CPU`);
      // The floor reads cached pages; a sync fills fresh ones, whose price depends on the machine.
      const page = freshPageCost();
      console.log(`  fresh memory: ${page.freshUs.toFixed(1)} µs CPU a 4 KiB page touched for the first time (${page.againUs.toFixed(2)} µs touched again); BENCH_THREADS=1 prints each activity's page faults`);
      const workflowId = WorkflowIds.audienceSync(sc.destinationId);
      // A default workdir (and so segment registry and audience leases) per destination: the
      // emulator hands out the same audience ids again after its reset between scenarios.
      const reused = sc.sameWorker === true && current !== undefined;
      if (current && !reused) await stopWorkerChild(current);
      const worker: Child = reused && current ? current : startWorkerChild(address, { queues, workdir: join(dir, sc.destinationId, 'default-work') });
      current = worker;
      await worker.ready;
      // The floor is read twice and the faster counts (a compiled reader); a worker's code is
      // compiled the same way by a small first and churn sync of another destination, as a
      // long-running worker's is, unless --cold-worker.
      if (!opts.coldWorker && !reused) {
        const tw = performance.now();
        const warm = `warm-${scenarios.indexOf(sc)}-${stamp}`;
        for (const [k, spec] of [{ people: opts.warmRows, invalidEvery: 10_000 }, churned({ people: opts.warmRows, invalidEvery: 10_000 }, opts.churn ?? 0.01)].entries()) {
          const path = join(dir, `${warm}-${k}.csv`);
          await writeSyntheticSnapshot(path, spec);
          const req = await requestAudienceSync(client, {
            config: { ...configFor(warm), audienceName: `ttsync bench ${warm}` },
            snapshot: { uri: pathToFileURL(path).href },
            taskQueue,
            queues,
            timing: { cadence: '24h', pollInitial: '500ms', pollMax: '2s' },
          });
          const st = await waitForAudienceCycle(client, warm, req.cyclesBefore, { pollMs: 200, timeoutMs: Math.max(1000, opts.deadline - Date.now()) });
          if (st.phase !== 'synced') throw new Error(`the warm-up sync of ${warm} ended in ${st.phase}: ${st.lastError?.message ?? ''}`);
        }
        console.log(`  worker warmed by a ${opts.warmRows.toLocaleString('en-US')}-row first and churn sync of ${warm} in ${((performance.now() - tw) / 1000).toFixed(1)} s`);
      }
      await worker.takeSpans();
      const pid = worker.proc.pid!;
      const rss = sampleRss(pid);
      const runBefore = await currentRunId(client, workflowId);
      let done = false;
      const t0 = performance.now();
      const phaseTimes = new Map<string, number>();
      const phaseCpu = new Map<string, number>();
      const child = worker;
      let phaseStart = t0;
      let markAt = process.hrtime.bigint() / 1000n;
      let cpuStart = await child.cpuMs();
      // Status polls come one at a time; the CPU reading of a phase change is awaited in order.
      let cpuChain: Promise<void> = Promise.resolve();
      let status: AudienceSyncStatus;
      try {
        const req = await requestAudienceSync(client, {
          config,
          snapshot: { uri: pathToFileURL(snapPath).href },
          taskQueue,
          queues,
          timing: { cadence: '24h', pollInitial: '500ms', pollMax: '2s' },
        });
        const firstRun = runBefore ?? (await currentRunId(client, workflowId));
        status = await waitForAudienceCycle(client, sc.destinationId, req.cyclesBefore, {
          pollMs: 200,
          timeoutMs: Math.max(1000, opts.deadline - Date.now()),
          onStatus: (s) => {
            const now = performance.now();
            const was = rss.phase;
            // BENCH_MARKS=1: each phase's bounds as seen here (hrtime µs, one clock with the worker's profile), on stderr.
            if (process.env.BENCH_MARKS && s.phase !== was) {
              console.error(`MARK ${was} ${markAt} ${process.hrtime.bigint() / 1000n}`);
              markAt = process.hrtime.bigint() / 1000n;
            }
            phaseTimes.set(was, (phaseTimes.get(was) ?? 0) + (now - phaseStart));
            phaseStart = now;
            rss.phase = s.currentRunId === null ? 'done' : s.phase;
            if (rss.phase !== was)
              cpuChain = cpuChain.then(async () => {
                const c = await child.cpuMs();
                phaseCpu.set(was, (phaseCpu.get(was) ?? 0) + (c - cpuStart));
                cpuStart = c;
              });
          },
        });
        const wall = (performance.now() - t0) / 1000;
        phaseTimes.set(rss.phase, (phaseTimes.get(rss.phase) ?? 0) + (performance.now() - phaseStart));
        await cpuChain;
        {
          const c = await child.cpuMs();
          phaseCpu.set(rss.phase, (phaseCpu.get(rss.phase) ?? 0) + (c - cpuStart));
        }
        rss.stop();
        const hwm = procStatus(pid, 'VmHWM');
        const spans = await child.takeSpans();
        // A worker kept for the next scenario is read by samples only (getrusage comes when it stops).
        const childMax = keepWorker ? 0 : await stopWorkerChild(worker);
        if (!keepWorker) current = undefined;
        const last = status.lastSync;
        if (!last || (status.phase !== 'synced' && status.phase !== 'too_small_to_target'))
          throw new Error(`${sc.name}: the cycle ended in ${status.phase}: ${status.lastError?.message ?? ''}`);
        const ids = Object.values(last.appliedCounts).reduce((a, b) => a + b, 0);
        const hist = firstRun ? await cycleHistories(client, workflowId, firstRun) : { runs: 0, events: 0, bytes: 0 };
        const audience = status.audienceId ? await emulatorAudience(emuUrl, status.audienceId) : undefined;
        // A worker that ran the scenario before: its VmHWM may be that sync's, so this one's samples count.
        const peak = reused ? rss.peak : Math.max(hwm, childMax, rss.peak);
        const phases = [...rss.byPhase.entries()]
          .filter(([p]) => p !== 'done' && p !== 'starting')
          .map(([p, b]) => `${p} ${((phaseTimes.get(p) ?? 0) / 1000).toFixed(1)} s (CPU ${((phaseCpu.get(p) ?? 0) / 1000).toFixed(1)} s)/${mib(b)}`)
          .join(', ');
        const planeWall = DATA_PLANE.reduce((a, p) => a + (phaseTimes.get(p) ?? 0), 0);
        const planeCpu = DATA_PLANE.reduce((a, p) => a + (phaseCpu.get(p) ?? 0), 0);
        const waitMs = phaseTimes.get('waiting_for_processing') ?? 0;
        const wallNoWait = wall - waitMs / 1000;
        const ratios = [
          `data plane (prepare+diff+build) ${(planeWall / 1000).toFixed(2)} s wall = ${(planeWall / floor.wallMs).toFixed(2)}x the read+hash floor, ${(planeCpu / 1000).toFixed(2)} s CPU = ${(planeCpu / floor.cpuMs).toFixed(2)}x`,
        ];
        const firstOf = firstSyncs.get(sc.destinationId);
        // The same from the activities' own bounds (exact; the phases above are polled).
        const acts = DATA_ACTIVITIES.map((a) => ({ a, ...activityTime(spans, a) }));
        const actWall = acts.reduce((x, a) => x + a.wallMs, 0);
        const actCpu = acts.reduce((x, a) => x + a.cpuMs, 0);
        const byActivity = [
          `activities (worker CPU inside them): ${acts.map((a) => `${a.a}${a.count > 1 ? ` x${a.count}` : ''} ${(a.cpuMs / 1000).toFixed(2)} s (wall ${(a.wallMs / 1000).toFixed(2)} s${Number.isNaN(a.mainMs) ? '' : `, main thread ${(a.mainMs / 1000).toFixed(2)} s`})`).join(', ')}`,
          `data plane ${(actWall / 1000).toFixed(2)} s wall = ${(actWall / floor.wallMs).toFixed(2)}x the floor, ${(actCpu / 1000).toFixed(2)} s CPU = ${(actCpu / floor.cpuMs).toFixed(2)}x`,
        ];
        const written = acts.reduce((x, a) => x + a.written, 0);
        const io = `  the data activities wrote ${mib(written)} (${acts.map((a) => `${a.a} ${mib(a.written)}`).join(', ')})`;
        if (firstOf) {
          ratios.push(
            `against the first sync: data plane ${(planeWall / firstOf.planeWall).toFixed(2)}x wall, ${(planeCpu / firstOf.planeCpu).toFixed(2)}x CPU; whole sync without the processing wait ${(wallNoWait / firstOf.wallNoWait).toFixed(2)}x`,
          );
          byActivity.push(`against the first sync: ${(actWall / firstOf.actWall).toFixed(3)}x wall, ${(actCpu / firstOf.actCpu).toFixed(3)}x CPU`);
        } else firstSyncs.set(sc.destinationId, { planeWall, planeCpu, wallNoWait, actWall, actCpu });
        // A first sync: what storing and signing its outputs costs alone here, in this process.
        // With the floor, the least a data plane that stores them all can cost on this machine.
        const least: string[] = [];
        if (!firstOf) {
          const cost = await outputCost(dir, written, last.bytes);
          const leastCpu = floor.cpuMs + cost.writeMs + cost.md5Ms;
          least.push(`  outputs alone: writing ${mib(written)} to new files ${(cost.writeMs / 1000).toFixed(2)} s CPU, the MD5 of the ${mib(last.bytes)} sent ${(cost.md5Ms / 1000).toFixed(2)} s CPU; with the floor ${(leastCpu / 1000).toFixed(2)} s CPU = ${(leastCpu / floor.cpuMs).toFixed(2)}x the floor`, leastFirstSync(floor.cpuMs, cost, written, last));
        }
        const lines = [
          `${sc.name}: ${wall.toFixed(1)} s wall, ${n(ids)} ids in the audience after it, ${n(Math.round(ids / wall))} ids/s; worker peak RSS ${mib(peak)} (${reused ? `sampled every ${RSS_SAMPLE_MS} ms in this sync` : `VmHWM ${mib(hwm)}${keepWorker ? '' : `, getrusage ${mib(childMax)}`}`})`,
          `  sent: ${n(last.files)} files, ${mib1(last.bytes)} (${n(last.added)} ids APPEND, ${n(last.removed)} ids REMOVE); rejected ${n(Object.values(last.rejected).reduce((a, b) => a + b, 0))} rows/values; emulator audience ${n(audience?.size ?? 0)} ids, cover_num ${n(audience?.cover_num ?? 0)}`,
          `  history: ${hist.runs} run(s), ${n(hist.events)} events, ${n(hist.bytes)} bytes`,
          `  phase: time/worker peak RSS: ${phases}`,
          `  read+hash floor ${(floor.wallMs / 1000).toFixed(2)} s wall, ${(floor.cpuMs / 1000).toFixed(2)} s CPU; ${ratios.join('; ')}`,
          `  ${byActivity.join('; ')}`,
          io,
          ...least,
        ];
        for (const l of lines) console.log(l);
        results.push(...lines);
        done = true;
      } finally {
        rss.stop();
        if (current && !(done && keepWorker)) {
          current.proc.kill('SIGKILL');
          current = undefined;
        }
      }
    }
    // A worker kept for a scenario that --timeout skipped.
    if (current) {
      await stopWorkerChild(current);
      current = undefined;
    }
    console.log('\nsummary');
    for (const l of results) console.log(l);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    process.removeListener('exit', killChild);
    if (opts.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--worker-child'))
  workerChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
else
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
