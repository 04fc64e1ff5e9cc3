// Audience data plane throughput and memory (issue 5). Prints numbers; asserts nothing.
//   npm run bench:audience-data                    1M rows (email, phone, IDFA), then 1% churn
//   BENCH_ROWS=200000 npm run bench:audience-data  smaller run (at most 10M rows)
//   BENCH_ROW_INDEX=0 npm run bench:audience-data  without the row index (rowIndex.ts): every sync reads the whole snapshot
//   BENCH_SPILL_MIB=16 npm run bench:audience-data  prepare's spill buffer (PrepareTuning.maxBufferBytes) of 16 MiB instead of the default
//   TTSYNC_HEAP_GROWING_PERCENT=0 npm run bench:audience-data  V8's own heap growth instead of a data worker's (src/process/heapGrowth.ts)
//   BENCH_CHURNS=8 npm run bench:audience-data     8 churn syncs in a row (each 1% more gone, 1% more new): index layers, then a compaction
// Then a second destination syncs the same two snapshots (warm-first, warm-churn-1pct), and the
// churn/first ratio of the data plane is printed cold (the first pair) and warm (the second).
// Runs the real activities (MockActivityEnvironment: heartbeats included) on the local
// store: first sync = prepare + diff (4 groups) + build + commit; then a second snapshot
// with 1% of the rows gone and 1% new. Baseline, in the same process on the same file:
// the SnapshotReader alone (parse + normalize + hash, nothing stored; raw digests, as prepare
// reads them, the fastest way): the floor of prepare.
// Each phase prints wall and CPU seconds (the machine is shared: CPU seconds compare better),
// and the data plane's ratio to the read+hash floor on each clock (CPU counts all threads);
// BENCH_MARKS=1 prints each phase's process.hrtime bounds (µs), user/system CPU and minor page faults on stderr, to slice a
// `node --cpu-prof` profile by phase. Each sync prints the bytes each phase wrote and read; at
// the end, what writing the warm first sync's bytes to new files and the MD5 of its customer
// files cost alone here: with the floor, the least a first sync that stores them can cost.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createAudienceDataActivities, type AudienceDataActivities } from '../activities/audience-sync/data';
import { columnMappingOf, parseDestinationConfig, type DestinationConfigInput } from '../src/audience-sync/config';
import { SnapshotReader } from '../src/snapshot';
import { openBlobStore } from '../src/storage';
import { applyHeapGrowth, heapGrowingPercentFromEnv } from '../src/process/heapGrowth';
import { freshPageCost, outputCost, processIo } from './ioCost';

const ROWS = Math.min(10_000_000, Number(process.env.BENCH_ROWS ?? 1_000_000));
const CHURN = 0.01;
const DEADLINE = Date.now() + 15 * 60_000;
const GROUPS: [number, number][] = [
  [0, 64],
  [64, 128],
  [128, 192],
  [192, 256],
];

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
// NANP exchanges N11 (211, 311, ...) are service codes, not phone numbers: skip 611.
const exchange = (j: number): number => (j < 11 ? 600 + j : 601 + j);
// One area code per million rows keeps every row's phone distinct up to 11M rows.
const AREAS = [212, 213, 305, 312, 415, 617, 646, 702, 713, 818, 917];

function row(i: number): string {
  const area = AREAS[Math.floor(i / 1_000_000) % AREAS.length]!;
  return `User${i}@Example${i % 1000}.com,(${area}) ${exchange(Math.floor(i / 10_000) % 100)}-${pad(i % 10_000, 4)},6D92078A-8246-4BA4-AE5B-${pad(i, 12)}\n`;
}

async function writeSnapshot(file: string, include: (i: number) => boolean, upTo: number): Promise<number> {
  const out = createWriteStream(file);
  out.write('email,phone,idfa\n');
  let buf = '';
  let rows = 0;
  for (let i = 0; i < upTo; i++) {
    if (!include(i)) continue;
    rows++;
    buf += row(i);
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return rows;
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
sampler.unref();

const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const QUIET = { logger: new DefaultLogger('ERROR') };

async function run<A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> {
  if (Date.now() > DEADLINE) throw new Error('benchmark deadline passed');
  return new MockActivityEnvironment({}, QUIET).run(fn, ...args);
}

const phasePeaks: Record<string, number> = {};
/** The read+hash floor of the first snapshot, on both clocks (set before the syncs run). */
const floor = { wallMs: 0, cpuMs: 0 };
const cpuTimes: Record<string, number> = {};
/** The phases of a sync's data plane, as timed() labels them. */
const PLANE_PHASES = ['prepare', 'diff', 'build'];
/** Bytes the process passed to read and write calls in each phase (every thread; /proc/self/io). */
const ioBytes: Record<string, { read: number; written: number }> = {};
/** Minor page faults in each phase: pages of memory touched for the first time. */
const phaseFaults: Record<string, number> = {};

async function timed<T>(label: string, fn: () => Promise<T>, times: Record<string, number>): Promise<T> {
  const before = peakRss;
  peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m0 = process.hrtime.bigint() / 1000n;
  const f0 = process.resourceUsage().minorPageFault;
  const io0 = processIo();
  const r = await fn();
  const c = process.cpuUsage(c0);
  const io = processIo();
  ioBytes[label] = { read: io.read - io0.read, written: io.written - io0.written };
  const faults = process.resourceUsage().minorPageFault - f0;
  phaseFaults[label] = faults;
  if (process.env.BENCH_MARKS) {
    console.error(`MARK ${label} ${m0} ${process.hrtime.bigint() / 1000n} user ${(c.user / 1000).toFixed(0)} ms system ${(c.system / 1000).toFixed(0)} ms faults ${faults}`);
  }
  times[label] = performance.now() - t0;
  cpuTimes[label] = (c.user + c.system) / 1000;
  phasePeaks[label] = Math.max(peakRss, process.memoryUsage().rss);
  peakRss = Math.max(before, phasePeaks[label]);
  return r;
}

/** A sync's data plane (prepare+diff+build) on both clocks, in ms, and what it wrote. */
interface Plane {
  wall: number;
  cpu: number;
  /** Bytes the data plane passed to write calls. */
  written: number;
  /** Bytes of its customer files (each MD5-hashed for TikTok's file_signature). */
  customerFileBytes: number;
  /** Minor page faults in the data plane. */
  faults: number;
}

async function sync(acts: AudienceDataActivities, config: DestinationConfigInput, runId: string, uri: string, rows: number): Promise<Plane> {
  const startRss = process.memoryUsage().rss;
  peakRss = startRss;
  const times: Record<string, number> = {};
  const t0 = performance.now();
  const base = await run(acts.loadAppliedState, { config });
  const prep = await timed('prepare', () => run(acts.prepareSnapshot, { config, runId, snapshot: { uri } }), times);
  const diffs = await timed('diff', () => Promise.all(GROUPS.map(([from, to]) => run(acts.diffShards, { config, runId, baseVersion: base.version, from, to }))), times);
  const built = await timed('build', () => run(acts.buildCustomerFiles, { config, runId, diffUris: diffs.map((d) => d.summaryUri) }), times);
  await timed('commit', () => run(acts.commitAppliedState, { config, runId, baseVersion: base.version, audienceId: null, diffUris: diffs.map((d) => d.summaryUri) }), times);
  const wall = performance.now() - t0;
  const ids = Object.values(prep.snapshot!.counts.types).reduce((n, c) => n + (c?.accepted ?? 0) + (c?.prehashed ?? 0), 0);
  const phases = Object.entries(times)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s (cpu ${((cpuTimes[k] ?? 0) / 1000).toFixed(2)} s) / ${mib(phasePeaks[k] ?? 0)}`)
    .join(', ');
  console.log(
    `${runId}: ${rows.toLocaleString('en-US')} rows, ${ids.toLocaleString('en-US')} ids in ${(wall / 1000).toFixed(2)} s (${Math.round(ids / (wall / 1000)).toLocaleString('en-US')} ids/s; phase: time / peak RSS: ${phases})`,
  );
  // The data plane on both clocks against the floor: CPU seconds count every thread, so work
  // moved to a second thread shows only in the wall ratio (honest on an otherwise idle machine).
  const planeWall = (times.prepare ?? 0) + (times.diff ?? 0) + (times.build ?? 0);
  const planeCpu = (cpuTimes.prepare ?? 0) + (cpuTimes.diff ?? 0) + (cpuTimes.build ?? 0);
  console.log(
    `  data plane (prepare+diff+build) ${(planeWall / 1000).toFixed(2)} s wall = ${(planeWall / floor.wallMs).toFixed(2)}x the read+hash floor (${(floor.wallMs / 1000).toFixed(2)} s wall), ${(planeCpu / 1000).toFixed(2)} s CPU = ${(planeCpu / floor.cpuMs).toFixed(2)}x (${(floor.cpuMs / 1000).toFixed(2)} s CPU); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const io = PLANE_PHASES.map((k) => `${k} ${mib(ioBytes[k]?.written ?? 0)} / ${mib(ioBytes[k]?.read ?? 0)}`);
  console.log(`  bytes written / read by the process: ${io.join(', ')}`);
  const ri = prep.snapshot?.rowIndex;
  if (ri) console.log(`  row index: ${ri.kept.toLocaleString('en-US')} lines kept, ${ri.fresh.toLocaleString('en-US')} read, ${ri.gone.toLocaleString('en-US')} gone`);
  console.log(
    `  files: ${built.files.length} (${built.appendIds.toLocaleString('en-US')} APPEND ids, ${built.removeIds.toLocaleString('en-US')} REMOVE ids, ${mib(built.bytes)}); peak RSS during the sync ${mib(peakRss)} (${mib(startRss)} at its start)`,
  );
  const written = PLANE_PHASES.reduce((n, k) => n + (ioBytes[k]?.written ?? 0), 0);
  const faults = PLANE_PHASES.reduce((n, k) => n + (phaseFaults[k] ?? 0), 0);
  console.log(`  page faults (memory touched for the first time): ${PLANE_PHASES.map((k) => `${k} ${(phaseFaults[k] ?? 0).toLocaleString('en-US')}`).join(', ')}`);
  return { wall: planeWall, cpu: planeCpu, written, customerFileBytes: built.bytes, faults };
}

function ratioLine(label: string, churn: Plane, first: Plane): string {
  return `  ${label}: ${(churn.cpu / first.cpu).toFixed(3)}x on CPU (${(churn.cpu / 1000).toFixed(2)} / ${(first.cpu / 1000).toFixed(2)} s), ${(churn.wall / first.wall).toFixed(3)}x on wall (${(churn.wall / 1000).toFixed(2)} / ${(first.wall / 1000).toFixed(2)} s)`;
}

async function main(): Promise<void> {
  // The heap growth a data worker sets (TTSYNC_HEAP_GROWING_PERCENT=0: V8's own), so the figures are a worker's.
  applyHeapGrowth(heapGrowingPercentFromEnv());
  const dir = await mkdtemp(join(tmpdir(), 'ttsync-bench-aud-'));
  try {
    const snap1 = join(dir, 'snap1.csv');
    const snap2 = join(dir, 'snap2.csv');
    const extra = Math.round(ROWS * CHURN);
    const rows1 = await writeSnapshot(snap1, () => true, ROWS);
    // 1% exits (every 100th row) and 1% enters (new rows past the end).
    const rows2 = await writeSnapshot(snap2, (i) => i >= ROWS || i % 100 !== 50, ROWS + extra);
    console.log(`snapshots: ${mib((await stat(snap1)).size)} (${rows1.toLocaleString('en-US')} rows), second ${rows2.toLocaleString('en-US')} rows`);

    const config: DestinationConfigInput = {
      destinationId: 'bench',
      advertiserId: '1',
      audienceName: 'Benchmark audience',
      action: 'create',
      identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' },
      defaultCountry: 'US',
      accessToken: 'env:TIKTOK_ACCESS_TOKEN',
      sourceSegmentId: 'bench',
      storage: { workdir: join(dir, 'work') },
    };

    // Baseline: the reader alone on the first snapshot (raw digests, like prepare), twice (the
    // first read warms the page cache and the JIT); the faster of each clock counts.
    const parsed = parseDestinationConfig(config);
    const readHash = async (): Promise<{ wallMs: number; cpuMs: number; ids: number }> => {
      const t0 = performance.now();
      const bc0 = process.cpuUsage();
      const reader = new SnapshotReader(snap1, { format: 'csv', mapping: columnMappingOf(parsed), normalization: { context: 'audience', defaultCountry: 'US' } }, undefined, { rawDigests: true });
      let ids = 0;
      for await (const batch of reader.read(createReadStream(snap1, { highWaterMark: 1 << 20 }))) for (const d of batch.digests) ids += d.digests.length;
      const wallMs = performance.now() - t0;
      const bc = process.cpuUsage(bc0);
      return { wallMs, cpuMs: (bc.user + bc.system) / 1000, ids };
    };
    const floors = [await readHash(), await readHash()];
    floor.wallMs = Math.min(...floors.map((f) => f.wallMs));
    floor.cpuMs = Math.min(...floors.map((f) => f.cpuMs));
    const baseIds = floors[0]!.ids;
    console.log(`baseline cpu ${(floor.cpuMs / 1000).toFixed(2)} s`);
    console.log(`baseline (SnapshotReader only, nothing stored): ${baseIds.toLocaleString('en-US')} ids in ${(floor.wallMs / 1000).toFixed(2)} s (${Math.round(baseIds / (floor.wallMs / 1000)).toLocaleString('en-US')} ids/s)`);

    const spillMiB = process.env.BENCH_SPILL_MIB ? Number(process.env.BENCH_SPILL_MIB) : undefined;
    if (spillMiB !== undefined && !(Number.isInteger(spillMiB) && spillMiB >= 1 && spillMiB <= 1024)) throw new Error(`BENCH_SPILL_MIB: ${JSON.stringify(process.env.BENCH_SPILL_MIB)} is not a whole number of MiB from 1 to 1024`);
    const acts = createAudienceDataActivities({
      openStore: (uri) => openBlobStore(uri),
      tuning: { ...(process.env.BENCH_ROW_INDEX === '0' ? { rowIndexMaxBytes: 0 } : {}), ...(spillMiB ? { maxBufferBytes: spillMiB << 20 } : {}) },
    });
    const first = await sync(acts, config, 'first', snap1, rows1);
    const churn = await sync(acts, config, 'churn-1pct', snap2, rows2);
    // More churn syncs: the k-th drops another 1% of the first rows and adds another 1% new.
    for (let k = 2; k <= Math.max(1, Number(process.env.BENCH_CHURNS ?? 1)); k++) {
      const snapK = join(dir, `snap${k + 1}.csv`);
      const rowsK = await writeSnapshot(snapK, (i) => i >= ROWS || i % 100 < 50 || i % 100 >= 50 + k, ROWS + k * extra);
      await sync(acts, config, `churn-${k}`, snapK, rowsK);
      await rm(snapK);
    }
    // Steady state: a second destination's first sync and churn sync, in the same process after
    // the syncs above, so both run compiled code (as in a worker that has synced before). The
    // cold pair above includes V8 compiling the churn path while it runs.
    const warmConfig: DestinationConfigInput = { ...config, destinationId: 'bench-warm', storage: { workdir: join(dir, 'work-warm') } };
    const warmFirst = await sync(acts, warmConfig, 'warm-first', snap1, rows1);
    const warmChurn = await sync(acts, warmConfig, 'warm-churn-1pct', snap2, rows2);
    console.log('1% churn data plane / first sync data plane (goal <= 0.3):');
    console.log(ratioLine('cold (first and churn-1pct, each path run for the first time in this process)', churn, first));
    console.log(ratioLine('warm (a second destination: warm-first and warm-churn-1pct)', warmChurn, warmFirst));
    // The least a first sync can cost here: the floor, and storing and signing what it must.
    const least = await outputCost(dir, warmFirst.written, warmFirst.customerFileBytes);
    const leastCpu = floor.cpuMs + least.writeMs + least.md5Ms;
    console.log(
      `outputs alone (warm-first's): writing ${mib(warmFirst.written)} to new files ${(least.writeMs / 1000).toFixed(2)} s CPU, the MD5 of ${mib(warmFirst.customerFileBytes)} of customer files ${(least.md5Ms / 1000).toFixed(2)} s CPU; with the read+hash floor ${(leastCpu / 1000).toFixed(2)} s CPU = ${(leastCpu / floor.cpuMs).toFixed(2)}x the floor (warm-first: ${(warmFirst.cpu / floor.cpuMs).toFixed(2)}x)`,
    );
    // What fresh memory costs here, which the floor (reading cached pages) never pays: the gap
    // between a process's first sync and a warm one is mostly this.
    const page = freshPageCost();
    const faultCpu = (p: Plane) => `${(p.faults * page.freshUs / 1e6).toFixed(2)} s CPU (${p.faults.toLocaleString('en-US')} faults)`;
    console.log(
      `fresh memory on this machine: ${page.freshUs.toFixed(1)} µs CPU a 4 KiB page touched for the first time, ${page.againUs.toFixed(2)} µs touched again; at that price the data plane's page faults cost: first ${faultCpu(first)}, warm-first ${faultCpu(warmFirst)}, churn-1pct ${faultCpu(churn)}, warm-churn-1pct ${faultCpu(warmChurn)}`,
    );
    console.log(`process max RSS (getrusage): ${mib(process.resourceUsage().maxRSS * 1024)}`);
  } finally {
    clearInterval(sampler);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
