import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { requestAudienceSync } from '../../src/audience-sync/client';
import type { DestinationConfigInput } from '../../src/audience-sync/config';
import { audienceSyncStatusQuery, snapshotLandedSignal, type AudienceSyncStatus } from '../../src/audience-sync/messages';
import { emulatorAnswers } from '../../src/emulator/ensure';
import type { ObservedRate } from '../../src/emulator/rateLimits';
import { PROJECT_ROOT } from '../../src/paths';
import { spawnTied } from '../../src/process/spawnTied';
import { freePort, startDevServer, stopChild, type DevServer } from '../../src/temporal/devServer';
import { resolveTemporalCli } from '../../src/temporal/toolchain';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { audienceDigests, compareSets, generationPeople, snapshotCsv } from './expected';
import { WorkerPool } from './processes';

/*
 * Load held: many small audience-sync destinations on ONE worker process, against the
 * emulator's per-app limit of 10 requests per second. Every cadence the harness lands a new
 * snapshot for every destination. The cadence is at least destinations × TikTok calls per
 * cycle ÷ QPS (measured on the first round), so the run measures the system, not a queue
 * that can only grow. The emulator measures the rate it receives itself.
 */

export interface LoadOptions {
  destinations: number;
  /** Snapshot rounds: the first creates every audience, the others change 10% of each. */
  rounds: number;
  people?: number;
  qps?: number;
  /** Cadence = max(this, safety × destinations × calls per cycle ÷ QPS). */
  minCadenceMs?: number;
  safety?: number;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface RoundFigures {
  round: number;
  cadenceMs: number;
  applied: number;
  /** Time from landing the round's snapshot to its cycle's end, per destination. */
  p50Ms: number;
  maxMs: number;
  /** API requests the emulator received during the round, per destination. */
  callsPerCycle: number;
}

export interface LoadResult {
  ok: boolean;
  destinations: number;
  rounds: RoundFigures[];
  rate: ObservedRate | null;
  exact: number;
  lost: number;
  unexpected: number;
  /** Destinations whose every round was applied within its cadence. */
  starved: string[];
  cyclesMin: number;
  cyclesMax: number;
  history: { runs: number; maxEventsPerRun: number; medianEventsPerRun: number; maxBytesPerRun: number; maxRunsPerWorkflow: number };
  report: string[];
  dir: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const n = (x: number): string => x.toLocaleString('en-US');
const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const TOKEN_VAR = 'TTSYNC_LOAD_TIKTOK_TOKEN';
const ADVERTISER = '7400000000000000001';
const TIMING = { cadence: '24h', pollInitial: '2s', pollMax: '4s', tiktokCallTimeout: '5m' };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
};

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const D = opts.destinations;
  const people = opts.people ?? 150;
  const churn = Math.max(1, Math.round(people / 10));
  const qps = opts.qps ?? 10;
  const safety = opts.safety ?? 1.5;
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-load-'));
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'snapshots'));
  const cleanups: (() => Promise<unknown>)[] = [];
  let ok = false;
  try {
    // The emulator runs in a process of its own (`ttsync emulator`): it stamps each request when
    // it arrives, and this process's own work (landing 100 snapshots) must not bunch them up.
    const emuPort = await freePort();
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    const emuLog = openSync(join(dir, 'logs', 'emulator.log'), 'a');
    const emuChild = spawnTied(process.execPath, [join(PROJECT_ROOT, 'bin', 'ttsync.js'), 'emulator', '--port', String(emuPort), '--processing-delay', '2s', '--qps', String(qps), '--qpm', String(qps * 60)], {
      output: emuLog,
    });
    closeSync(emuLog);
    cleanups.push(() => stopChild(emuChild, 10_000));
    for (let i = 0; !(await emulatorAnswers(emuUrl)); i++) {
      if (i > 300 || emuChild.exitCode !== null) throw new Error(`the emulator did not start; see ${join(dir, 'logs', 'emulator.log')}`);
      await sleep(100);
    }
    const control = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${emuUrl}/_emulator/${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      if (!res.ok) throw new Error(`emulator ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    // The audiences are small: the emulator's 1,000-id floor would refuse their edits.
    await control('POST', 'config', { minAudienceSize: 10 });
    const apiCalls = async (): Promise<number> => (await control<{ calls: number }>('GET', 'stats')).calls;
    const server: DevServer = await startDevServer({ cliPath: resolveTemporalCli(), port: 0, logFile: join(dir, 'logs', 'temporal.log') });
    cleanups.push(() => server.stop());
    const pool = new WorkerPool(
      {
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: join(dir, 'no-temporal-profile.toml'),
        TTSYNC_PAYLOAD_KEYS: '',
        NODE_ENV: 'production',
        TTSYNC_DATA_DIR: join(dir, 'data'),
        TIKTOK_API_BASE_URL: `${emuUrl}/open_api/v1.3`,
        TIKTOK_QPS: String(qps),
        [TOKEN_VAR]: (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADVERTISER] })).access_token,
      },
      join(dir, 'logs'),
    );
    cleanups.push(() => pool.stopAll());
    pool.start();
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    const dests: DestinationConfigInput[] = Array.from({ length: D }, (_, i) => {
      const destinationId = `load-${String(i + 1).padStart(3, '0')}`;
      return {
        destinationId,
        advertiserId: ADVERTISER,
        audienceName: `ttsync load ${destinationId}`,
        action: 'create',
        identifiers: { email: 'email', phone: 'phone' },
        defaultCountry: 'US',
        accessToken: `env:${TOKEN_VAR}`,
        sourceSegmentId: `segment-${destinationId}`,
        maxProcessingWait: '1h',
        storage: { workdir: join(dir, 'work', destinationId) },
      };
    });
    const base = (i: number): number => (i * 797) % 80_000;
    const uriOf = (i: number, g: number): string => pathToFileURL(join(dir, 'snapshots', `${dests[i]!.destinationId}-gen-${g}.csv`)).href;
    const statusOf = (id: string): Promise<AudienceSyncStatus> =>
      client.withDeadline(Date.now() + 30_000, () => client.workflow.getHandle(WorkflowIds.audienceSync(id)).query(audienceSyncStatusQuery));

    log(`load: ${D} destinations × ${opts.rounds} rounds on one worker process; ${n(people)} people each (${n(people * 2)} ids), ${churn} leave and ${churn} enter per round; emulator ${qps} QPS per app, processing 2 s; dev server ${server.address}; folder ${dir}`);
    const rounds: RoundFigures[] = [];
    const lateBy = new Map<string, number>();
    let cadenceMs = opts.minCadenceMs ?? 20_000;
    for (let g = 0; g < opts.rounds; g++) {
      const before = await apiCalls();
      const landed = new Map<string, number>();
      for (let i = 0; i < D; i++) {
        writeFileSync(new URL(uriOf(i, g)), snapshotCsv(generationPeople(base(i), g, people, churn)));
        // The first round starts each workflow; later ones signal it as an exporter's hook would.
        if (g === 0) await requestAudienceSync(client, { config: dests[i]!, snapshot: { uri: uriOf(i, g) }, timing: TIMING });
        else await client.workflow.getHandle(WorkflowIds.audienceSync(dests[i]!.destinationId)).signal(snapshotLandedSignal, { snapshot: { uri: uriOf(i, g) } });
        landed.set(dests[i]!.destinationId, Date.now());
      }
      const t0 = Date.now();
      // The first round has no cadence to respect yet: it runs until every audience exists, and
      // its calls per cycle set the cadence of the rest.
      const deadline = g === 0 ? t0 + 30 * 60_000 : t0 + cadenceMs;
      const done = new Map<string, number>();
      while (done.size < D && Date.now() < deadline) {
        await sleep(2_000);
        for (let i = 0; i < D; i++) {
          const id = dests[i]!.destinationId;
          if (done.has(id)) continue;
          const s = await statusOf(id).catch(() => undefined);
          if (s && s.currentRunId === null && s.appliedSnapshot?.uri === uriOf(i, g)) done.set(id, Date.now() - landed.get(id)!);
        }
      }
      for (const d of dests) if (!done.has(d.destinationId)) lateBy.set(d.destinationId, (lateBy.get(d.destinationId) ?? 0) + 1);
      const calls = ((await apiCalls()) - before) / D;
      const lat = [...done.values()];
      const fig: RoundFigures = { round: g + 1, cadenceMs: g === 0 ? Date.now() - t0 : cadenceMs, applied: done.size, p50Ms: median(lat), maxMs: Math.max(0, ...lat), callsPerCycle: calls };
      rounds.push(fig);
      log(
        `load: round ${g + 1}: ${done.size}/${D} applied${g === 0 ? ` in ${s1(fig.cadenceMs)} (first syncs: create)` : ` within the cadence of ${s1(cadenceMs)}`}; from landing to cycle end p50 ${s1(fig.p50Ms)}, max ${s1(fig.maxMs)}; ${calls.toFixed(1)} TikTok requests per cycle`,
      );
      if (g === 0) {
        // Later rounds edit (append + remove) instead of create: count one more edit and its wait.
        // Plus the cycle's own serial time (processing waits between edits), which no rate shortens.
        const perCycle = calls + 4;
        const serialMs = 20_000;
        cadenceMs = Math.max(cadenceMs, Math.ceil((safety * D * perCycle) / qps) * 1000 + serialMs);
        log(
          `load: cadence ${s1(cadenceMs)} = max(${s1(opts.minCadenceMs ?? 20_000)}, ${safety} × ${D} destinations × ${perCycle.toFixed(1)} calls per cycle ÷ ${qps} QPS + ${s1(serialMs)} of processing waits); the floor D × calls ÷ QPS is ${s1((D * perCycle * 1000) / qps)}`,
        );
      } else if (g < opts.rounds - 1) {
        // Wait out the rest of the cadence: the next snapshots land on the beat.
        await sleep(Math.max(0, deadline - Date.now()));
      }
    }

    // --- check ---------------------------------------------------------------------------
    let exact = 0;
    let lost = 0;
    let unexpected = 0;
    const cycles: number[] = [];
    const last = opts.rounds - 1;
    for (let i = 0; i < D; i++) {
      const s = await statusOf(dests[i]!.destinationId);
      cycles.push(s.cycles);
      const expected = audienceDigests(generationPeople(base(i), last, people, churn));
      const a = s.audienceId ? await control<{ ids: string[] }>('GET', `audiences/${s.audienceId}`).catch(() => undefined) : undefined;
      const c = a ? compareSets(expected, a.ids) : { missing: expected.size, unexpected: 0 };
      lost += c.missing;
      unexpected += c.unexpected;
      if (c.missing === 0 && c.unexpected === 0) exact++;
    }
    const rates = await control<{ apps: Record<string, { default?: ObservedRate }> }>('GET', 'rates');
    const rate = Object.values(rates.apps)[0]?.default ?? null;
    const runs: { id: string; len: number; size: number }[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowType = 'audienceSync'` })) runs.push({ id: w.workflowId, len: w.historyLength, size: w.historySize ?? 0 });
    const perWorkflow = new Map<string, number>();
    for (const r of runs) perWorkflow.set(r.id, (perWorkflow.get(r.id) ?? 0) + 1);
    const history = {
      runs: runs.length,
      maxEventsPerRun: Math.max(0, ...runs.map((r) => r.len)),
      medianEventsPerRun: median(runs.map((r) => r.len)),
      maxBytesPerRun: Math.max(0, ...runs.map((r) => r.size)),
      maxRunsPerWorkflow: Math.max(0, ...perWorkflow.values()),
    };
    const starved = [...lateBy.keys()];
    const cyclesMin = Math.min(...cycles);
    const cyclesMax = Math.max(...cycles);
    const rateOk = rate !== null && rate.peakPerSecond <= qps && rate.rateLimited === 0;
    ok = exact === D && starved.length === 0 && rateOk && cyclesMin >= opts.rounds;
    const report = [
      `load held: ${D} destinations × ${opts.rounds} rounds on one worker, emulator limit ${qps} requests/s per app`,
      ...rounds.map(
        (r) =>
          `  round ${r.round}: ${r.applied}/${D} applied ${r.round === 1 ? `in ${s1(r.cadenceMs)}` : `within the ${s1(r.cadenceMs)} cadence`}, landing to cycle end p50 ${s1(r.p50Ms)} max ${s1(r.maxMs)}, ${r.callsPerCycle.toFixed(1)} TikTok requests per cycle`,
      ),
      `rate at the emulator: ${rate ? `${n(rate.requests)} requests, peak ${rate.peakPerSecond} in any 1 s window (limit ${qps}) at ${rate.peakAt}, ${rate.rateLimited} refused for the limit` : 'no requests'}`,
      `end: ${exact}/${D} audiences exact (lost ${lost}, unexpected ${unexpected}); cycles per destination min ${cyclesMin} max ${cyclesMax}; starved (a round not applied within its cadence): ${starved.length ? starved.join(', ') : 'none'}`,
      `history: ${n(history.runs)} runs of ${D} workflows (at most ${history.maxRunsPerWorkflow} each: every cycle continues as new); events per run median ${history.medianEventsPerRun}, max ${history.maxEventsPerRun}; largest run ${n(history.maxBytesPerRun)} bytes`,
      ok ? 'load held: OK' : 'load held: FAILED',
    ];
    return { ok, destinations: D, rounds, rate, exact, lost, unexpected, starved, cyclesMin, cyclesMax, history, report, dir };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
    else log(`load: kept ${dir}`);
  }
}
