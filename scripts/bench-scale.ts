// The data plane on the production topology (issue 20 §5): a first sync of --rows rows and a
// 1% churn sync, on `ttsync cluster up` (PostgreSQL, Temporal server, fake-gcs-server, the
// emulator) with 1, 2 and 3 worker processes, a fresh topology for each. Prints, side by
// side: wall time and the cluster's CPU seconds per phase, each worker's peak RSS, storage
// traffic (a counting proxy in front of the bucket), TikTok requests, Temporal events per
// sync, and which worker ran which activity. Asserts nothing.
//   npm run bench:scale                                   10M rows, 1, 2 and 3 workers
//   npm run bench:scale -- --rows 1e6 --workers 1,3 --max-activities 2
import { mkdtempSync, rmSync, createReadStream, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { requestAudienceSync, waitForAudienceCycle } from '../src/audience-sync/client';
import type { DestinationConfigInput } from '../src/audience-sync/config';
import { churned, SYNTHETIC_COLUMNS, SYNTHETIC_DEFAULT_COUNTRY, writeSyntheticSnapshot, type SyntheticSpec, type SyntheticStats } from '../src/audience-sync/demo/synthetic';
import type { AudienceSyncStatus } from '../src/audience-sync/messages';
import { durationMsOf } from '../src/config/duration';
import { WorkflowIds } from '../src/temporal/workflowIds';
import { CpuGroup, childPids, memoryBytes, postmasterPid } from './scale/procStats';
import { num, startTopology, type TopologyRun } from './scale/topologyHarness';

const ADVERTISER = '7000000000000000001';
const MiB = 1 << 20;
const n = num;
/** The data plane's phases, as status shows them, in order; the rest is TikTok and bookkeeping. */
const PHASE_ORDER = ['inspecting', 'loading_state', 'preparing', 'diffing', 'building', 'uploading', 'creating', 'appending', 'removing', 'waiting_for_processing', 'committing'];

interface Options {
  rows: number;
  workers: number[];
  churn: number;
  processingDelay: string;
  timeoutMs: number;
  qps: number;
  maxActivities: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1e7' },
      workers: { type: 'string', default: '1,2,3' },
      churn: { type: 'string', default: '0.01' },
      'processing-delay': { type: 'string', default: '1s' },
      qps: { type: 'string', default: '10' },
      timeout: { type: 'string', default: '60m' },
      'max-activities': { type: 'string', default: '2' },
    },
    strict: true,
  });
  const rows = Number(values.rows);
  if (!Number.isSafeInteger(rows) || rows < 1000 || rows > 20_000_000) throw new Error(`--rows: "${values.rows}" is not a whole number from 1000 to 2e7`);
  const workers = values.workers.split(',').map((s) => {
    const w = Number(s.trim());
    if (!Number.isInteger(w) || w < 1 || w > 8) throw new Error(`--workers: "${s}" is not a worker count from 1 to 8`);
    return w;
  });
  const churn = Number(values.churn);
  if (!(churn > 0 && churn <= 0.5)) throw new Error(`--churn: "${values.churn}" is not a share in (0, 0.5]`);
  const qps = Number(values.qps);
  if (!Number.isInteger(qps) || qps < 1) throw new Error(`--qps: "${values.qps}" is not a whole number of at least 1`);
  durationMsOf(values['processing-delay']);
  const maxActivities = Number(values['max-activities']);
  if (!Number.isInteger(maxActivities) || maxActivities < 1) throw new Error(`--max-activities: "${values['max-activities']}" is not a whole number of at least 1`);
  return { rows, workers, churn, processingDelay: values['processing-delay'], timeoutMs: durationMsOf(values.timeout), qps, maxActivities };
}

interface PhaseFigures {
  wallMs: number;
  /** CPU seconds of the workers, the Temporal server and PostgreSQL. */
  cpuWorkers: number;
  cpuServer: number;
  cpuPostgres: number;
  storageUp: number;
  storageDown: number;
}

interface SyncFigures {
  name: string;
  wallMs: number;
  phases: Map<string, PhaseFigures>;
  status: AudienceSyncStatus;
  tiktokCalls: number;
  events: number;
  historyBytes: number;
  runs: number;
  /** activity type → worker identity → activities started. */
  placement: Map<string, Map<string, number>>;
}

interface WorkerCountFigures {
  workers: number;
  syncs: SyncFigures[];
  peakRss: { identity: string; bytes: number }[];
  upMs: number;
}

/** Every run of the cycle, from the one that took the request to the one it continued into; events and who ran what. */
async function cycleHistories(client: Client, workflowId: string, firstRunId: string): Promise<{ runs: number; events: number; bytes: number; placement: Map<string, Map<string, number>> }> {
  const placement = new Map<string, Map<string, number>>();
  let runs = 0;
  let events = 0;
  let bytes = 0;
  for (let runId: string | undefined = firstRunId; runId; ) {
    const handle: ReturnType<Client['workflow']['getHandle']> = client.workflow.getHandle(workflowId, runId);
    for (let i = 0; (await handle.describe()).status.name === 'RUNNING'; i++) {
      if (i > 100) return { runs: -1, events, bytes, placement };
      await new Promise((r) => setTimeout(r, 100));
    }
    const history: temporal.api.history.v1.IHistory = await handle.fetchHistory();
    runs++;
    events += history.events?.length ?? 0;
    bytes += temporal.api.history.v1.History.encode(history).finish().length;
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const st = e.activityTaskStartedEventAttributes;
      if (st) {
        const type = scheduled.get(String(st.scheduledEventId)) ?? '?';
        const who = (st.identity ?? '?').replace(/@.*$/, '');
        const m = placement.get(type) ?? placement.set(type, new Map()).get(type)!;
        m.set(who, (m.get(who) ?? 0) + 1);
      }
    }
    const next: string | undefined = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    if (!next || (await client.workflow.getHandle(workflowId, next).describe()).status.name === 'RUNNING') break;
    runId = next;
  }
  return { runs, events, bytes, placement };
}

async function uploadFile(topo: TopologyRun, name: string, path: string): Promise<string> {
  const { endpoint, bucket } = topo.state.gcs;
  const res = await fetch(`${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', 'content-length': String(statSync(path).size) },
    body: Readable.toWeb(createReadStream(path, { highWaterMark: 4 * MiB })) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (!res.ok) throw new Error(`uploading ${path}: HTTP ${res.status} ${await res.text()}`);
  return `gs://${bucket}/${name}`;
}

async function runSync(topo: TopologyRun, config: DestinationConfigInput, uri: string, name: string, deadline: number, rssPeaks: Map<number, number>): Promise<SyncFigures> {
  const { client, state } = topo;
  const pg = postmasterPid(state.postgres.dataDir);
  const cpuW = new CpuGroup(() => state.workers.map((w) => w.pid));
  const cpuS = new CpuGroup(() => [state.temporal.pid]);
  const cpuP = new CpuGroup(() => (pg ? [pg, ...childPids(pg)] : []));
  const read = () => ({ t: performance.now(), w: cpuW.read(), s: cpuS.read(), p: cpuP.read(), ...topo.storage!.counts() });
  const rss = setInterval(() => {
    for (const w of state.workers) rssPeaks.set(w.pid, Math.max(rssPeaks.get(w.pid) ?? 0, memoryBytes(w.pid, 'VmRSS')));
    cpuP.read();
  }, 200);
  const callsBefore = (await topo.emulator<{ calls: number }>('GET', 'stats')).calls;
  const phases = new Map<string, PhaseFigures>();
  let phase = 'starting';
  let mark = read();
  const close = (): void => {
    const now = read();
    const f = phases.get(phase) ?? { wallMs: 0, cpuWorkers: 0, cpuServer: 0, cpuPostgres: 0, storageUp: 0, storageDown: 0 };
    f.wallMs += now.t - mark.t;
    f.cpuWorkers += now.w - mark.w;
    f.cpuServer += now.s - mark.s;
    f.cpuPostgres += now.p - mark.p;
    f.storageUp += now.bytesUp - mark.bytesUp;
    f.storageDown += now.bytesDown - mark.bytesDown;
    phases.set(phase, f);
    mark = now;
  };
  const t0 = performance.now();
  try {
    const before = await client.workflow.getHandle(WorkflowIds.audienceSync(config.destinationId)).describe().catch(() => undefined);
    const req = await requestAudienceSync(client, { config, snapshot: { uri }, timing: { cadence: '24h', pollInitial: '500ms', pollMax: '2s' } });
    const firstRun = before?.status.name === 'RUNNING' ? before.runId : (await client.workflow.getHandle(req.workflowId).describe()).runId;
    const status = await waitForAudienceCycle(client, config.destinationId, req.cyclesBefore, {
      pollMs: 200,
      timeoutMs: Math.max(1000, deadline - Date.now()),
      onStatus: (s) => {
        const next = s.currentRunId === null ? 'done' : s.phase;
        if (next !== phase) {
          close();
          phase = next;
        }
      },
    });
    close();
    const wallMs = performance.now() - t0;
    if (status.phase !== 'synced' && status.phase !== 'too_small_to_target') throw new Error(`${name}: the cycle ended in ${status.phase}: ${status.lastError?.message ?? ''}`);
    const tiktokCalls = (await topo.emulator<{ calls: number }>('GET', 'stats')).calls - callsBefore;
    const h = await cycleHistories(client, req.workflowId, firstRun);
    phases.delete('starting');
    phases.delete('done');
    return { name, wallMs, phases, status, tiktokCalls, events: h.events, historyBytes: h.bytes, runs: h.runs, placement: h.placement };
  } finally {
    clearInterval(rss);
  }
}

const pad = (s: string, w: number): string => (s.length >= w ? s : s + ' '.repeat(w - s.length));
const padL = (s: string, w: number): string => (s.length >= w ? s : ' '.repeat(w - s.length) + s);

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? pad(c, widths[i]!) : padL(c, widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const deadline = Date.now() + opts.timeoutMs;
  const log = (l: string): void => console.log(l);
  const scratch = mkdtempSync(join(tmpdir(), 'ttsync-bench-scale-'));
  // TikTok acknowledges an edit and processes it later; the emulator applies it before it
  // answers, which at 25M ids outlasts the client's 30 s default (the workers inherit this).
  process.env.TIKTOK_TIMEOUT_MS ??= '300000';
  const results: WorkerCountFigures[] = [];
  try {
    const first: SyntheticSpec = { people: opts.rows, invalidEvery: 10_000 };
    const specs = [
      { name: `first sync ${n(opts.rows)} rows`, spec: first, file: join(scratch, 'first.csv') },
      { name: `${opts.churn * 100}% churn`, spec: churned(first, opts.churn), file: join(scratch, 'churn.csv') },
    ];
    const stats: SyntheticStats[] = [];
    for (const s of specs) {
      const t = performance.now();
      stats.push(await writeSyntheticSnapshot(s.file, s.spec));
      log(`${s.name}: snapshot ${n(stats.at(-1)!.rows)} rows, ${(stats.at(-1)!.bytes / MiB).toFixed(0)} MiB, written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    for (const W of opts.workers) {
      if (Date.now() > deadline) {
        log(`${W} worker(s): skipped, --timeout reached`);
        continue;
      }
      const tUp = performance.now();
      // A worker with free slots takes every task offered to it: capped, the four diff groups
      // (and the rest) cannot all land on one process, as on a real cluster under load.
      const topo = await startTopology({ workers: W, qps: opts.qps, maxActivities: opts.maxActivities, countStorage: true, log: () => undefined });
      const upMs = performance.now() - tUp;
      try {
        log(`\n${W} worker process(es): topology up in ${(upMs / 1000).toFixed(1)} s (${topo.dir}); emulator processing delay ${opts.processingDelay}, app limit ${opts.qps}/s; each worker runs at most ${opts.maxActivities} activities per queue at once`);
        await topo.emulator('POST', 'config', { processingDelay: opts.processingDelay });
        const tokenFile = await topo.tokenFile([ADVERTISER]);
        const destinationId = `bench-scale-${W}w`;
        const config: DestinationConfigInput = {
          destinationId,
          advertiserId: ADVERTISER,
          audienceName: `ttsync bench scale ${destinationId}`,
          action: 'create',
          identifiers: { [SYNTHETIC_COLUMNS.email]: 'email', [SYNTHETIC_COLUMNS.phone]: 'phone', [SYNTHETIC_COLUMNS.maid]: 'maid' },
          defaultCountry: SYNTHETIC_DEFAULT_COUNTRY,
          accessToken: `file:${tokenFile}`,
          sourceSegmentId: destinationId,
          maxProcessingWait: '1h',
          // No workdir: the topology's default, the bucket, so every intermediate crosses the storage proxy.
        };
        const rssPeaks = new Map<number, number>();
        const syncs: SyncFigures[] = [];
        for (const [k, s] of specs.entries()) {
          const t = performance.now();
          const uri = await uploadFile(topo, `exports/${k === 0 ? 'first' : 'churn'}.csv`, s.file);
          log(`  ${s.name}: snapshot landed in the bucket in ${((performance.now() - t) / 1000).toFixed(1)} s`);
          const f = await runSync(topo, config, uri, s.name, deadline, rssPeaks);
          syncs.push(f);
          const cpu = [...f.phases.values()].reduce((a, p) => a + p.cpuWorkers + p.cpuServer + p.cpuPostgres, 0);
          log(`  ${s.name}: ${(f.wallMs / 1000).toFixed(1)} s wall, cluster CPU ${cpu.toFixed(1)} s; ${n(f.status.lastSync?.added ?? 0)} ids added, ${n(f.status.lastSync?.removed ?? 0)} removed, ${f.status.lastSync?.files ?? 0} files; ${f.tiktokCalls} TikTok requests; ${f.runs} run(s), ${f.events} events`);
        }
        const peakRss = topo.state.workers.map((w) => ({ identity: w.identity.replace(/@.*$/, ''), bytes: Math.max(rssPeaks.get(w.pid) ?? 0, memoryBytes(w.pid, 'VmHWM')) }));
        results.push({ workers: W, syncs, peakRss, upMs });
      } finally {
        await topo.down();
      }
    }

    // --- side by side ------------------------------------------------------------------
    console.log(`\nbench:scale: ${n(opts.rows)} rows (${n(stats[0]!.rows)} with invalid rows; ${(stats[0]!.bytes / MiB).toFixed(0)} MiB), then ${opts.churn * 100}% churn; Temporal server on PostgreSQL, fake-gcs-server, emulator; node ${process.version}`);
    for (const [k, s] of specs.entries()) {
      const cols = results.map((r) => `${r.workers} worker${r.workers > 1 ? 's' : ''}`);
      const phaseNames = PHASE_ORDER.filter((p) => results.some((r) => r.syncs[k]?.phases.has(p)));
      const extra = [...new Set(results.flatMap((r) => [...(r.syncs[k]?.phases.keys() ?? [])]))].filter((p) => !PHASE_ORDER.includes(p));
      const cell = (r: WorkerCountFigures, p: string): string => {
        const f = r.syncs[k]?.phases.get(p);
        return f ? `${(f.wallMs / 1000).toFixed(1)} s / ${(f.cpuWorkers + f.cpuServer + f.cpuPostgres).toFixed(1)}` : '-';
      };
      const sum = (r: WorkerCountFigures, g: (f: PhaseFigures) => number): number => [...(r.syncs[k]?.phases.values() ?? [])].reduce((a, f) => a + g(f), 0);
      const rows: string[][] = [
        ...[...phaseNames, ...extra].map((p) => [`  ${p}`, ...results.map((r) => cell(r, p))]),
        ['whole sync, wall', ...results.map((r) => (r.syncs[k] ? `${(r.syncs[k].wallMs / 1000).toFixed(1)} s` : '-'))],
        ['CPU s: workers / server / PostgreSQL', ...results.map((r) => `${sum(r, (f) => f.cpuWorkers).toFixed(1)} / ${sum(r, (f) => f.cpuServer).toFixed(1)} / ${sum(r, (f) => f.cpuPostgres).toFixed(1)}`)],
        ['worker CPU µs per row', ...results.map((r) => ((sum(r, (f) => f.cpuWorkers) * 1e6) / opts.rows).toFixed(2))],
        ['cluster CPU µs per row', ...results.map((r) => ((sum(r, (f) => f.cpuWorkers + f.cpuServer + f.cpuPostgres) * 1e6) / opts.rows).toFixed(2))],
        ['storage written / read', ...results.map((r) => `${(sum(r, (f) => f.storageUp) / MiB).toFixed(0)} / ${(sum(r, (f) => f.storageDown) / MiB).toFixed(0)} MiB`)],
        ['storage bytes per row (w+r)', ...results.map((r) => (sum(r, (f) => f.storageUp + f.storageDown) / opts.rows).toFixed(0))],
        ['TikTok requests (files)', ...results.map((r) => (r.syncs[k] ? `${r.syncs[k].tiktokCalls} (${r.syncs[k].status.lastSync?.files ?? 0})` : '-'))],
        ['ids added / removed', ...results.map((r) => (r.syncs[k] ? `${n(r.syncs[k].status.lastSync?.added ?? 0)} / ${n(r.syncs[k].status.lastSync?.removed ?? 0)}` : '-'))],
        ['Temporal events (runs, bytes)', ...results.map((r) => (r.syncs[k] ? `${r.syncs[k].events} (${r.syncs[k].runs}, ${n(r.syncs[k].historyBytes)})` : '-'))],
      ];
      console.log(`\n${s.name}: per phase wall / cluster CPU s (workers + Temporal server + PostgreSQL)`);
      for (const l of table(['', ...cols], rows)) console.log(l);
      console.log(`  activities by worker (${s.name}):`);
      for (const r of results) {
        const sync = r.syncs[k];
        if (!sync) continue;
        const parts = [...sync.placement.entries()].map(([type, m]) => `${type} ${[...m.entries()].sort().map(([w, c]) => `${w.replace('ttsync-worker-', 'w')}×${c}`).join(' ')}`);
        console.log(`    ${r.workers} worker(s): ${parts.join('; ')}`);
      }
    }
    console.log('\nworker peak RSS (whole run, both syncs; VmHWM)');
    for (const r of results) console.log(`  ${r.workers} worker(s): ${r.peakRss.map((w) => `${w.identity} ${Math.round(w.bytes / MiB)} MiB`).join(', ')}; topology up in ${(r.upMs / 1000).toFixed(1)} s`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
