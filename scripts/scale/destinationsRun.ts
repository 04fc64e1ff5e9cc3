import { audienceSyncStatusQuery, type AudienceSyncStatus } from '../../src/audience-sync/messages';
import { parseDestinationConfig, type DestinationConfig } from '../../src/audience-sync/config';
import { audienceSyncSchedules } from '../../src/audience-sync/schedules';
import type { ObservedRate } from '../../src/emulator/rateLimits';
import { applySchedules, cadenceMs as parseCadence, jitterMs } from '../../src/temporal/schedules';
import { ScheduleIds, WorkflowIds } from '../../src/temporal/workflowIds';
import { audienceDigests, compareSets, generationPeople, snapshotCsv } from '../chaos/expected';
import { CpuGroup, childPids, postmasterPid } from './procStats';
import { listRuns, mapLimit, ms1, num, percentile, spread, startTopology, taskLatencies } from './topologyHarness';
import { nameWithoutMarker } from '../../src/audience-sync/createMarker';

/*
 * Many destinations on the production topology (issue 20 §4): D audience-sync destinations,
 * each with its own Schedule (`schedules apply`, what users run hourly), the cadence
 * compressed to minutes. Each Schedule starts a tick workflow that asks the destination's
 * long-running sync to re-sync its export (storage.snapshot in the bucket) if it changed.
 * The harness lands a new export generation for every destination between ticks and reads
 * TikTok's side (the emulator) until every audience holds that generation exactly.
 *
 * The cadence is at least D × TikTok calls per cycle ÷ QPS (else the run measures a queue
 * that only grows): the emulator's per-app limit and the workers' shared TIKTOK_QPS are
 * raised together (--qps) so that 1,000 destinations fit minutes, not hours.
 *
 * Measured: schedule actions per second and their lag (scheduledAt → takenAt, from every
 * Schedule's recent actions), workflow task and activity task schedule-to-start latency
 * (from history timestamps of a sample of runs), that every destination's every round was
 * applied within its cadence, and history per run (events and bytes, from visibility).
 */

export interface ScaleDestinationsOptions {
  destinations: number;
  workers?: number;
  /** The app's QPS: the emulator's limit and the workers' shared TIKTOK_QPS. */
  qps?: number;
  /** Export generations: the first creates every audience, each later one changes 10% of it. */
  rounds?: number;
  people?: number;
  /** The Schedules' interval; default max(1m, 1.5 × D × 9 calls ÷ QPS + 30 s). */
  cadence?: string;
  /** The quick data steps' start-to-close (`schedules apply --data-step-timeout`); the workflow's default when absent. */
  dataStepTimeout?: string;
  /** Runs of each workflow type whose histories are read for task latency. */
  historySample?: number;
  /**
   * Temporal's spec jitter for every Schedule (`schedules apply --jitter`): each action starts
   * up to this much after its tick, so a tick's actions are spread instead of one burst. A
   * round then has its cadence plus the jitter, counted from the tick.
   */
  jitter?: string;
  /** Keep the cadence given even when the first round took longer than it. */
  fixedCadence?: boolean;
  /** Round 1 on the Schedules' first natural tick instead of a trigger of each right after apply. */
  waitForFirstTick?: boolean;
  /** How long the first round (every audience created) may take. */
  firstRoundTimeoutMs?: number;
  log?: (line: string) => void;
  /** The topology's folder (kept afterwards; a caller can `cluster down` it if this run is cut short). */
  dir?: string;
}

export interface ScaleRound {
  round: number;
  tickAt: number;
  applied: number;
  /** From the tick's scheduled time to the audience holding the generation, per destination. */
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  callsPerCycle: number;
}

export interface ScaleDestinationsResult {
  ok: boolean;
  destinations: number;
  cadenceMs: number;
  rounds: ScaleRound[];
  starved: string[];
  exact: number;
  lost: number;
  unexpected: number;
  cyclesMin: number;
  errors: string[];
  schedules: { actions: number; actionsPerSecond: number; lagP50Ms: number; lagP95Ms: number; lagMaxMs: number; skippedOverlap: number; missedCatchup: number; applyPerSecond: number };
  taskLatency: { sync: Latency; tick: Latency; syncActivity: Latency };
  history: { syncRuns: number; maxRunsPerWorkflow: number; medianEventsPerRun: number; maxEventsPerRun: number; maxBytesPerRun: number; maxEventsRunning: number; tickRuns: number; maxTickEvents: number };
  rate: ObservedRate | null;
  cpu: { workers: number; server: number; postgres: number; perCycleMs: number; cycles: number };
  report: string[];
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const latency = (xs: number[]): Latency => ({ n: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(0, ...xs) });
const lat = (l: Latency): string => `p50 ${ms1(l.p50)}, p95 ${ms1(l.p95)}, max ${ms1(l.max)} (${num(l.n)} tasks)`;
/** TikTok allows 400 audiences per advertiser: this many destinations per advertiser stays well under. */
const PER_ADVERTISER = 250;
/** TikTok requests of a change cycle (append + remove + their processing waits), as `npm run load` measured. */
const CALLS_PER_CHANGE_CYCLE = 9;

export async function runScaleDestinations(opts: ScaleDestinationsOptions): Promise<ScaleDestinationsResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const D = opts.destinations;
  const W = opts.workers ?? 3;
  const qps = opts.qps ?? 50;
  const R = opts.rounds ?? 3;
  const people = opts.people ?? 20;
  const churn = Math.max(1, Math.round(people / 10));
  const floorMs = (D * CALLS_PER_CHANGE_CYCLE * 1000) / qps;
  let cadence = opts.cadence ?? `${Math.max(60, Math.ceil((1.5 * floorMs) / 1000 + 30))}s`;
  let cadenceMs = parseCadence(cadence);
  const jitter = opts.jitter;
  const spreadMs = jitter ? jitterMs(jitter, cadence) : 0;
  if (cadenceMs < floorMs) throw new Error(`--cadence ${cadence} is below the floor of ${D} destinations × ${CALLS_PER_CHANGE_CYCLE} TikTok calls per cycle ÷ ${qps} QPS = ${ms1(floorMs)}: the run would measure a queue`);

  const topo = await startTopology({ workers: W, qps, log, ...(opts.dir ? { dir: opts.dir } : {}) });
  try {
    const { client, state } = topo;
    // The audiences are small: the emulator's 1,000-id floor would refuse their edits.
    await topo.emulator('POST', 'config', { minAudienceSize: 10 });
    const advertisers = Array.from({ length: Math.ceil(D / PER_ADVERTISER) }, (_, a) => `74100000000000${String(a + 1).padStart(5, '0')}`);
    const tokenFile = await topo.tokenFile(advertisers);
    const ids = Array.from({ length: D }, (_, i) => `scale-${String(i + 1).padStart(4, '0')}`);
    const exportName = (id: string): string => `exports/${id}.csv`;
    const configs: DestinationConfig[] = ids.map((destinationId, i) =>
      parseDestinationConfig({
        destinationId,
        advertiserId: advertisers[Math.floor(i / PER_ADVERTISER)]!,
        audienceName: `ttsync scale ${destinationId}`,
        action: 'create',
        identifiers: { email: 'email', phone: 'phone' },
        defaultCountry: 'US',
        accessToken: `file:${tokenFile}`,
        sourceSegmentId: `segment-${destinationId}`,
        maxProcessingWait: '1h',
        // No workdir: the topology's default, the bucket. The export is re-read every cadence.
        storage: { snapshot: `gs://${state.gcs.bucket}/${exportName(destinationId)}` },
      }),
    );
    const base = (i: number): number => (i * 797) % 80_000;
    const landedAt: number[][] = [];
    const land = async (g: number): Promise<void> => {
      const t0 = Date.now();
      landedAt[g] = await mapLimit(ids, 16, async (id, i) => Date.parse((await topo.putObject(exportName(id), snapshotCsv(generationPeople(base(i), g, people, churn)))).timeCreated));
      log(`scale: generation ${g + 1} of ${D} exports landed in the bucket in ${ms1(Date.now() - t0)}`);
    };

    log(
      `scale: ${D} destinations (${advertisers.length} advertisers, one app), ${W} worker processes, app limit ${qps} requests/s (emulator and workers' shared TIKTOK_QPS), ${people} people each with ${churn} leaving and ${churn} entering per generation; ` +
        `cadence ${ms1(cadenceMs)} (floor D × ${CALLS_PER_CHANGE_CYCLE} calls ÷ QPS = ${ms1(floorMs)}); Temporal ${state.temporal.version} on PostgreSQL at ${state.temporal.address}; folder ${topo.dir}`,
    );
    await land(0);
    const tApply = Date.now();
    const changes = await applySchedules(client, audienceSyncSchedules, configs, { cadence, ...(jitter ? { jitter } : {}), ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}), poll: { initial: '2s', max: '4s' } });
    const applyMs = Date.now() - tApply;
    const created = changes.filter((c) => c.outcome === 'created').length;
    log(`scale: schedules apply: ${created} created in ${ms1(applyMs)} (${(created / (applyMs / 1000)).toFixed(1)} per second)`);

    // CPU of the whole topology from the first tick on: what each cycle costs the cluster.
    const pgPid = postmasterPid(state.postgres.dataDir);
    const cpuWorkers = new CpuGroup(() => state.workers.map((w) => w.pid));
    const cpuServer = new CpuGroup(() => [state.temporal.pid]);
    const cpuPg = new CpuGroup(() => (pgPid ? [pgPid, ...childPids(pgPid)] : []));
    const cpu0 = { w: cpuWorkers.read(), s: cpuServer.read(), p: cpuPg.read() };
    const pgSampler = setInterval(() => cpuPg.read(), 2_000);

    const nextTick = async (after: number): Promise<number> => {
      for (;;) {
        const d = await client.schedule.getHandle(ScheduleIds.audienceSync(ids[0]!)).describe();
        // With jitter the next action time is the jittered one: the tick itself is the interval's
        // boundary before it (interval Schedules tick at whole multiples of it, no phase).
        const t = d.info.nextActionTimes.map((x) => (spreadMs ? Math.floor(x.getTime() / cadenceMs) * cadenceMs : x.getTime())).find((x) => x > after);
        if (t !== undefined) return t;
        await sleep(1_000);
      }
    };
    type EmuState = { audiences: { audience_id: string; name: string; ids?: string[] }[]; stats: { calls: number } };
    const emuState = (): Promise<EmuState> => topo.emulator<EmuState>('GET', 'state?ids=true');
    const byName = new Map(ids.map((id, i) => [`ttsync scale ${id}`, i]));

    const rounds: ScaleRound[] = [];
    const starved = new Set<string>();
    let landedDone = Date.now();
    for (let g = 0; g < R; g++) {
      let tickAt: number;
      if (g === 0 && opts.waitForFirstTick !== true) {
        // The first round is triggered at once (a schedule action like any other): waiting for
        // the first natural tick would add up to a cadence of nothing to the run.
        tickAt = Date.now();
        await mapLimit(ids, 8, (id) => client.schedule.getHandle(ScheduleIds.audienceSync(id)).trigger());
      } else tickAt = await nextTick(landedDone);
      const expected = ids.map((_, i) => audienceDigests(generationPeople(base(i), g, people, churn)));
      const callsBefore = (await emuState()).stats.calls;
      // A destination's action comes up to the jitter after the tick; its cycle then has the cadence.
      const deadline = tickAt + (g === 0 ? (opts.firstRoundTimeoutMs ?? 30 * 60_000) : cadenceMs + spreadMs);
      log(`scale: round ${g + 1}: ${g === 0 ? 'triggered' : 'tick'} at ${new Date(tickAt).toISOString()} (in ${ms1(Math.max(0, tickAt - Date.now()))}); ${g === 0 ? 'every audience is created' : `must be applied within the cadence, by ${new Date(deadline).toISOString()}`}`);
      await sleep(Math.max(0, tickAt - Date.now()));
      const done = new Map<number, number>();
      let lastPrint = Date.now();
      while (done.size < D && Date.now() < deadline) {
        // The emulator answers TikTok's requests too: read its whole state less often when it is large.
        await sleep(Math.max(3_000, D * 10));
        const now = Date.now();
        for (const a of (await emuState()).audiences) {
          const i = byName.get(nameWithoutMarker(a.name));
          if (i === undefined || done.has(i)) continue;
          const c = compareSets(expected[i]!, a.ids ?? []);
          if (c.missing === 0 && c.unexpected === 0) done.set(i, now - tickAt);
        }
        if (now - lastPrint > 30_000) {
          log(`scale: round ${g + 1}: ${done.size}/${D} applied after ${ms1(now - tickAt)}`);
          lastPrint = now;
        }
      }
      for (let i = 0; i < D; i++) if (!done.has(i) && g > 0) starved.add(ids[i]!);
      const calls = ((await emuState()).stats.calls - callsBefore) / D;
      const l = [...done.values()];
      const r: ScaleRound = { round: g + 1, tickAt, applied: done.size, p50Ms: percentile(l, 50), p95Ms: percentile(l, 95), maxMs: Math.max(0, ...l), callsPerCycle: calls };
      rounds.push(r);
      log(`scale: round ${g + 1}: ${r.applied}/${D} applied; from the tick to the audience holding it p50 ${ms1(r.p50Ms)}, p95 ${ms1(r.p95Ms)}, max ${ms1(r.maxMs)}; ${calls.toFixed(1)} TikTok requests per destination`);
      if (g < R - 1) {
        // The machine, not only TikTok's QPS, bounds a round: a cadence shorter than what the
        // first round took would measure a queue too. At least 1.5 × the first round's time.
        const needMs = g === 0 && !opts.fixedCadence ? Math.max(cadenceMs, 1.5 * r.maxMs) : cadenceMs;
        if (g === 0 && (needMs > cadenceMs || cadenceMs > 5 * 60_000)) {
          // Interval Schedules tick at whole multiples of their interval since the epoch: with a
          // long compressed cadence the next tick may be most of a cadence away. Choose the
          // interval, at least the one needed, whose next tick comes soon after the next
          // generation has landed and the Schedules are updated, and apply it (an update of each).
          const ready = Date.now() + (D / 10) * 1000 + 20_000;
          let c = Math.ceil(needMs / 1000);
          while (Math.ceil(ready / 1000 / c) * c - ready / 1000 > 60 && c < needMs / 1000 + 900) c++;
          cadence = `${c}s`;
          cadenceMs = c * 1000;
          const t = Date.now();
          // Idempotent, so a call the loaded server let time out is simply made again.
          let updated = 0;
          for (let attempt = 1; ; attempt++) {
            try {
              updated += (await applySchedules(client, audienceSyncSchedules, configs, { cadence, ...(jitter ? { jitter } : {}), ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}), poll: { initial: '2s', max: '4s' } })).filter((x) => x.outcome === 'updated').length;
              break;
            } catch (err) {
              if (attempt >= 5) throw err;
              log(`scale: schedules apply failed (${(err as Error).message}); again in 10 s`);
              await sleep(10_000);
            }
          }
          log(`scale: cadence ${ms1(cadenceMs)} from now on (at least ${ms1(needMs)}, chosen so its next tick comes soon): ${updated} schedules updated in ${ms1(Date.now() - t)}`);
        }
        await land(g + 1);
        landedDone = Date.now();
      }
    }
    clearInterval(pgSampler);
    const cpu1 = { w: cpuWorkers.read(), s: cpuServer.read(), p: cpuPg.read() };

    // --- check -------------------------------------------------------------------------
    const last = R - 1;
    const finalState = await emuState();
    let exact = 0;
    let lost = 0;
    let unexpected = 0;
    const audiencesOf = new Map<number, number>();
    for (const a of finalState.audiences) {
      const i = byName.get(nameWithoutMarker(a.name));
      if (i === undefined) continue;
      audiencesOf.set(i, (audiencesOf.get(i) ?? 0) + 1);
      const c = compareSets(audienceDigests(generationPeople(base(i), last, people, churn)), a.ids ?? []);
      lost += c.missing;
      unexpected += c.unexpected;
      if (c.missing === 0 && c.unexpected === 0) exact++;
    }
    for (let i = 0; i < D; i++) if (!audiencesOf.has(i)) lost += people * 2;
    // The audience holds the generation once its last edit is answered; the cycle then waits
    // for processing and commits. Read each destination once its cycle has ended.
    const statusOf = (id: string): Promise<AudienceSyncStatus | string> =>
      client.withDeadline(Date.now() + 60_000, () => client.workflow.getHandle(WorkflowIds.audienceSync(id)).query(audienceSyncStatusQuery)).catch((err: unknown) => (err as Error).message);
    const settleBy = Date.now() + 5 * 60_000;
    const statuses = await mapLimit(ids, 8, async (id) => {
      for (;;) {
        const s = await statusOf(id);
        if (typeof s === 'string' || s.currentRunId === null || Date.now() > settleBy) return s;
        await sleep(2_000);
      }
    });
    const errors: string[] = [];
    const cycles: number[] = [];
    statuses.forEach((s: AudienceSyncStatus | string, i) => {
      if (typeof s === 'string') errors.push(`${ids[i]}: no status: ${s}`);
      else {
        cycles.push(s.cycles);
        if (s.lastError || (s.phase !== 'synced' && s.phase !== 'too_small_to_target')) errors.push(`${ids[i]}: phase ${s.phase}${s.lastError ? `, ${s.lastError.type}: ${s.lastError.message}` : ''}`);
      }
    });
    const cyclesMin = cycles.length ? Math.min(...cycles) : 0;
    const cyclesTotal = cycles.reduce((a, b) => a + b, 0);

    // Schedules: every action each took, its lag, and how fast a tick's actions went out.
    const descs = await mapLimit(ids, 8, (id) => client.schedule.getHandle(ScheduleIds.audienceSync(id)).describe());
    const lags: number[] = [];
    const byTick = new Map<number, number[]>();
    let actions = 0;
    let skippedOverlap = 0;
    let missedCatchup = 0;
    for (const d of descs) {
      actions += d.info.numActionsTaken;
      skippedOverlap += d.info.numActionsSkippedOverlap;
      missedCatchup += d.info.numActionsMissedCatchupWindow;
      for (const a of d.info.recentActions) {
        lags.push(a.takenAt.getTime() - a.scheduledAt.getTime());
        // With jitter each action's scheduled time is its own jittered one: group by the tick
        // (the interval's boundary; under the cadence in force at the end of the run).
        const k = spreadMs ? Math.floor(a.scheduledAt.getTime() / cadenceMs) * cadenceMs : a.scheduledAt.getTime();
        (byTick.get(k) ?? byTick.set(k, []).get(k)!).push(a.takenAt.getTime());
      }
    }
    // A tick's D actions over the time from the first to the last of them (at least 1 s).
    const fullTicks = [...byTick.entries()].filter(([, taken]) => taken.length >= D * 0.9);
    const rates = fullTicks.map(([, taken]) => taken.length / Math.max(1, (Math.max(...taken) - Math.min(...taken)) / 1000));
    // From the tick's time to its last action taken: how long the scheduler took to start them all.
    const tickSpanMs = Math.max(0, ...fullTicks.map(([at, taken]) => Math.max(...taken) - at));
    const lagL = latency(lags);

    // History: every run from visibility; task latency from a sample's histories.
    const syncRuns = await listRuns(client, `WorkflowType = 'audienceSync'`);
    const tickRuns = await listRuns(client, `WorkflowType = 'audienceSyncTick'`);
    const perWorkflow = new Map<string, number>();
    for (const r of syncRuns) perWorkflow.set(r.workflowId, (perWorkflow.get(r.workflowId) ?? 0) + 1);
    const closed = syncRuns.filter((r) => r.status.name !== 'RUNNING');
    const sample = opts.historySample ?? 100;
    const wftSync: number[] = [];
    const actSync: number[] = [];
    const wftTick: number[] = [];
    await mapLimit([...spread(closed, sample).map((r) => ['sync', r] as const), ...spread(tickRuns, sample).map((r) => ['tick', r] as const)], 4, async ([kind, r]) => {
      const h = await client.workflow.getHandle(r.workflowId, r.runId).fetchHistory();
      const t = taskLatencies(h);
      if (kind === 'sync') {
        wftSync.push(...t.workflowTask);
        actSync.push(...t.activityTask);
      } else wftTick.push(...t.workflowTask);
    });
    const history = {
      syncRuns: syncRuns.length,
      maxRunsPerWorkflow: Math.max(0, ...perWorkflow.values()),
      medianEventsPerRun: percentile(closed.map((r) => r.historyLength), 50),
      maxEventsPerRun: Math.max(0, ...closed.map((r) => r.historyLength)),
      maxBytesPerRun: Math.max(0, ...closed.map((r) => r.historySize ?? 0)),
      // Visibility does not update a running run's length: ask each waiting run itself.
      maxEventsRunning: Math.max(0, ...(await mapLimit(syncRuns.filter((r) => r.status.name === 'RUNNING'), 8, async (r) => (await client.workflow.getHandle(r.workflowId, r.runId).describe()).historyLength))),
      tickRuns: tickRuns.length,
      maxTickEvents: Math.max(0, ...tickRuns.map((r) => r.historyLength)),
    };
    const rateView = await topo.emulator<{ apps: Record<string, { default?: ObservedRate }> }>('GET', 'rates');
    const rate = Object.values(rateView.apps)[0]?.default ?? null;
    const cpu = { workers: cpu1.w - cpu0.w, server: cpu1.s - cpu0.s, postgres: cpu1.p - cpu0.p, cycles: D * R, perCycleMs: 0 };
    cpu.perCycleMs = ((cpu.workers + cpu.server + cpu.postgres) * 1000) / cpu.cycles;

    const rateOk = rate !== null && rate.peakPerSecond <= qps && rate.rateLimited === 0;
    const historyOk = history.maxEventsPerRun < 1000 && history.maxEventsRunning < 1000;
    const ok = exact === D && lost === 0 && unexpected === 0 && starved.size === 0 && rateOk && historyOk && errors.length === 0 && cyclesMin >= R;
    const schedules = {
      actions,
      actionsPerSecond: rates.length ? percentile(rates, 50) : 0,
      lagP50Ms: lagL.p50,
      lagP95Ms: lagL.p95,
      lagMaxMs: lagL.max,
      skippedOverlap,
      missedCatchup,
      applyPerSecond: created / (applyMs / 1000),
    };
    const taskLatency = { sync: latency(wftSync), tick: latency(wftTick), syncActivity: latency(actSync) };
    const report = [
      `many destinations: ${D} destinations × ${R} export generations, one Schedule each every ${ms1(cadenceMs)}${jitter ? ` with ${ms1(spreadMs)} of jitter` : ''} (hourly, compressed), on the topology: ${W} worker processes, Temporal ${state.temporal.version} on PostgreSQL, fake-gcs-server; app limit ${qps} requests/s`,
      ...rounds.map(
        (r) =>
          `  round ${r.round}: ${r.applied}/${D} applied ${r.round === 1 ? '(create)' : `within the ${ms1(cadenceMs)} cadence${spreadMs ? ` (+ ${ms1(spreadMs)} jitter)` : ''}`}; tick to audience exact p50 ${ms1(r.p50Ms)}, p95 ${ms1(r.p95Ms)}, max ${ms1(r.maxMs)}; ${r.callsPerCycle.toFixed(1)} TikTok requests per destination`,
      ),
      `schedules: apply created ${D} in ${ms1(applyMs)} (${schedules.applyPerSecond.toFixed(1)}/s); ${num(actions)} actions taken (skipped for overlap ${skippedOverlap}, missed catch-up ${missedCatchup}); a tick's ${D} actions went out at ${schedules.actionsPerSecond.toFixed(1)} actions/s (median over ${rates.length} natural ticks; a tick's last action taken at most ${ms1(tickSpanMs)} after its time; at least 1 s counted); lag scheduled → taken ${lat(lagL)}`,
      `workflow task schedule-to-start: audienceSync ${lat(taskLatency.sync)}; audienceSyncTick ${lat(taskLatency.tick)}; activity tasks of audienceSync ${lat(taskLatency.syncActivity)} (histories of ${Math.min(sample, closed.length)} sync runs and ${Math.min(sample, tickRuns.length)} tick runs)`,
      `history: ${num(history.syncRuns)} audienceSync runs (at most ${history.maxRunsPerWorkflow} per destination: each cycle, and each tick that found the export unchanged, continues as new), events per closed run median ${history.medianEventsPerRun} max ${history.maxEventsPerRun}, largest ${num(history.maxBytesPerRun)} bytes; waiting runs at most ${history.maxEventsRunning} events; ${num(history.tickRuns)} tick runs of at most ${history.maxTickEvents} events`,
      `rate at the emulator: ${rate ? `${num(rate.requests)} requests, peak ${rate.peakPerSecond} in any 1 s (limit ${qps}), ${rate.rateLimited} refused for the limit` : 'no requests'}`,
      `cluster CPU over the rounds: workers ${cpu.workers.toFixed(1)} s, Temporal server ${cpu.server.toFixed(1)} s, PostgreSQL ${cpu.postgres.toFixed(1)} s = ${ms1(cpu.perCycleMs)} per destination cycle (${num(cpu.cycles)} cycles)`,
      `end: ${exact}/${D} audiences exact (lost ${lost}, unexpected ${unexpected}); cycles per destination min ${cyclesMin} (total ${num(cyclesTotal)}); starved (a round not applied within its cadence): ${starved.size ? [...starved].slice(0, 20).join(', ') + (starved.size > 20 ? ` and ${starved.size - 20} more` : '') : 'none'}; ${errors.length ? `errors: ${errors.slice(0, 5).join('; ')}` : 'no errors'}`,
      ok ? 'many destinations: OK' : 'many destinations: FAILED',
    ];
    return { ok, destinations: D, cadenceMs, rounds, starved: [...starved], exact, lost, unexpected, cyclesMin, errors, schedules, taskLatency, history, rate, cpu, report };
  } finally {
    await topo.down();
  }
}
