import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { requestAudienceSync } from '../../src/audience-sync/client';
import type { DestinationConfigInput } from '../../src/audience-sync/config';
import { audienceSyncStatusQuery, type AudienceSyncStatus } from '../../src/audience-sync/messages';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import type { FaultsInput } from '../../src/emulator/options';
import { requestEventsExport } from '../../src/events-export/client';
import type { EventsDestinationConfigInput } from '../../src/events-export/config';
import { eventsExportStatusQuery, type EventsExportStatus } from '../../src/events-export/messages';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { mulberry32 } from '../../src/util/prng';
import { audienceDigests, compareSets, eventsCsv, generationPeople, snapshotCsv } from './expected';
import { NO_PROXY_FAULTS, startFaultProxy, type FaultProxy, type ProxyFaults } from './faultProxy';
import { LIFECYCLE_ADVERTISERS, LIFECYCLES, NoticeLedger, lifecyclesFor, type ChaosLifecycle, type ChaosWorld, type LifecycleCheck, type LifecycleName } from './lifecycles';
import { createBucket, putObject, RestartableTemporal, startFakeGcsProcess, startMailpitProcess, WorkerPool, type FakeGcsProcess, type MailpitProcess } from './processes';

/*
 * Chaos: several audience-sync and events-export destinations, a SAN migration, a retention
 * dataset and a usage report work at once on ttsync worker processes that are SIGKILLed and
 * restarted at random, on a Temporal dev server that is SIGKILLed and restarted on its
 * database file, while the TikTok emulator and a proxy in front of fake-gcs-server inject
 * faults. Then the faults stop, everything is let to finish, and TikTok's audiences and event
 * store, the partner-config store, the dataset, the report and the emails Mailpit received are
 * compared with what the inputs say (expected.ts).
 */

export interface ChaosOptions {
  /** How long the faults and kills go on (the settling and the check come after). */
  durationMs: number;
  audiences?: number;
  eventsDestinations?: number;
  workers?: number;
  seed?: number;
  /** Mean time between worker kills, and between kills of the Temporal server. */
  workerKillEveryMs?: number;
  serverKillEveryMs?: number;
  /** Mean time between new inputs (a snapshot generation or an events file to some destination). */
  feedEveryMs?: number;
  /** How long the destinations get to finish after the chaos stopped. */
  settleTimeoutMs?: number;
  /**
   * Send each request as `audience sync` does: the config as an `updateConfig` Update first
   * (default). False signals only: the Update path has a replay bug (README "Chaos and load
   * held") that wedges a destination now and then, which a CI run must not trip over.
   */
  configUpdates?: boolean;
  /** The other lifecycles that run beside audience sync and events export (default all: san-migration, retention, usage-report). */
  lifecycles?: readonly LifecycleName[];
  /** Keep the run's folder (logs, Temporal database) even when everything matched. */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface AudienceCheck {
  destinationId: string;
  generation: number;
  expected: number;
  lost: number;
  unexpected: number;
  /** Audiences the destination's advertiser holds (1 when no create was repeated). */
  audiences: number;
  phase: string;
  /** False when it had not applied its newest snapshot when the settling time ran out: then lost and unexpected are not counted (TikTok may hold a cycle's partial edits). */
  finished: boolean;
}

export interface EventsCheck {
  destinationId: string;
  files: number;
  expected: number;
  lost: number;
  /** Order ids stored more than once as separate events (TikTok deduplicates same event_ids; these it cannot). */
  duplicated: number;
  /** Stored events of no input row. */
  unexpected: number;
  /** Copies TikTok dropped as duplicates of an event_id it already had (resends, harmless). */
  deduplicatedByTikTok: number;
  phase: string;
  /** False when runs were still pending when the settling time ran out: then lost is not counted. */
  finished: boolean;
}

export interface ChaosResult {
  ok: boolean;
  chaosMs: number;
  settleMs: number;
  settled: boolean;
  kills: { workers: number; server: number };
  tiktokFaults: Record<string, number>;
  gcsFaults: Record<string, number>;
  inputs: { snapshots: number; eventFiles: number; events: number; rerequested: number };
  audiences: AudienceCheck[];
  events: EventsCheck[];
  /** SAN migration, retention, usage report: each checked against its own expectations. */
  lifecycles: LifecycleCheck[];
  /** Emails Mailpit received, and Message-IDs that arrived more than once (any lifecycle). */
  notices: { emails: number; duplicated: { messageId: string; copies: number; subject: string }[] };
  /** Workflows that are no longer running (a workflow must never fail). */
  closedWorkflows: string[];
  lost: number;
  duplicated: number;
  unexpected: number;
  /** The figures, as printed. */
  report: string[];
  dir: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const n = (x: number): string => x.toLocaleString('en-US');

const TOKEN_VAR = 'TTSYNC_CHAOS_TIKTOK_TOKEN';
const OPERATORS = 'ops@chaos.example';
const BUCKET_EXPORTS = 'chaos-exports';
const BUCKET_WORK = 'chaos-work';
const PEOPLE = 1_200;
const CHURN = 150;
const EVENTS_PER_FILE = 1_500;
// Short timeouts: a step whose worker was killed is retried within seconds, not the defaults' minutes.
const AUDIENCE_TIMING = { cadence: '24h', pollInitial: '200ms', pollMax: '2s', heartbeatTimeout: '5s', tiktokCallTimeout: '15s', noticeTimeout: '15s', dataStepTimeout: '15s' };
const EVENTS_TIMING = { cadence: '24h', heartbeatTimeout: '5s', dataStepTimeout: '15s' };

const LATE_ANSWER_PATHS = ['dmp/custom_audience/get/', 'dmp/custom_audience/list/', 'dmp/custom_audience/file/upload/', 'dmp/custom_audience/create/', 'event/track/'];

/** TikTok fault regimes the run moves between (shares of API requests). */
const TIKTOK_REGIMES: { name: string; faults: FaultsInput }[] = [
  { name: 'calm', faults: {} },
  { name: 'throttled', faults: { throttle: 0.3 } },
  { name: '5xx', faults: { error: 0.12, http503: 0.12 } },
  { name: 'dropped connections', faults: { drop: 0.1, dropAfter: 0.1 } },
  { name: 'slow answers', faults: { latency: 1500, latencyShare: 0.4 } },
  // Answered after the client gave up (it retries): reads, uploads, creates (a late one is
  // found by its marker and deleted; README "Chaos") and events. Not edits: a late APPEND
  // landing after a later REMOVE would undo it.
  { name: 'answers slower than the client waits', faults: { latency: 6000, latencyShare: 0.15, paths: LATE_ANSWER_PATHS } },
  { name: 'everything', faults: { throttle: 0.08, error: 0.05, http503: 0.05, drop: 0.04, dropAfter: 0.04, latency: 800, latencyShare: 0.2 } },
];
const NO_TIKTOK_FAULTS: FaultsInput = { throttle: 0, error: 0, http503: 0, drop: 0, dropAfter: 0, latency: 0, latencyShare: 1, paths: undefined };

const GCS_REGIMES: { name: string; faults: ProxyFaults }[] = [
  { name: 'calm', faults: NO_PROXY_FAULTS },
  { name: '503s', faults: { http503: 0.15, dropBefore: 0, dropAfter: 0 } },
  { name: 'dropped connections', faults: { http503: 0, dropBefore: 0.06, dropAfter: 0.06 } },
  { name: 'mixed', faults: { http503: 0.06, dropBefore: 0.03, dropAfter: 0.03 } },
];

interface AudienceDest {
  config: DestinationConfigInput;
  base: number;
  /** The newest generation a signal was delivered for (-1: none yet). */
  generation: number;
}

interface EventsDest {
  config: EventsDestinationConfigInput;
  pixel: string;
  files: number;
  orderIds: Set<string>;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const rand = mulberry32(opts.seed ?? 20261203);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  /** Exponentially distributed wait with this mean (kills come at random, not on a beat). */
  const around = (mean: number): number => Math.max(200, -Math.log(1 - rand()) * mean);
  const nAud = opts.audiences ?? 4;
  const nEv = opts.eventsDestinations ?? 2;
  const nWorkers = opts.workers ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-chaos-'));
  mkdirSync(join(dir, 'logs'));
  log(`chaos: run folder ${dir}`);

  const cleanups: (() => Promise<unknown>)[] = [];
  let emu: RunningEmulator | undefined;
  let gcs: FakeGcsProcess | undefined;
  let proxy: FaultProxy | undefined;
  let mailpit: MailpitProcess | undefined;
  const temporal = new RestartableTemporal(join(dir, 'temporal.sqlite'), join(dir, 'logs', 'temporal.log'));
  let pool: WorkerPool | undefined;
  let ok = false;
  try {
    // --- the stack -------------------------------------------------------------------
    emu = await startEmulator({ port: 0, processingDelay: 1000, rateLimits: { default: { qps: 30, qpm: 60_000 } }, eventLogLimit: 1_000_000, minAudienceSize: 100 });
    cleanups.push(() => emu!.close());
    gcs = await startFakeGcsProcess(join(dir, 'logs', 'fake-gcs.log'));
    cleanups.push(() => gcs!.stop());
    await createBucket(gcs.endpoint, BUCKET_EXPORTS);
    await createBucket(gcs.endpoint, BUCKET_WORK);
    proxy = await startFaultProxy(gcs.endpoint, { seed: (opts.seed ?? 1) + 1 });
    cleanups.push(() => proxy!.close());
    mailpit = await startMailpitProcess(dir, join(dir, 'logs', 'mailpit.log'));
    cleanups.push(() => mailpit!.stop());
    await temporal.start();
    cleanups.push(() => temporal.stop());
    log(`chaos: Temporal dev server ${temporal.address} on ${join(dir, 'temporal.sqlite')}; emulator ${emu.url}; fake-gcs-server ${gcs.endpoint} behind the fault proxy ${proxy.endpoint}; Mailpit ${mailpit.apiUrl}`);

    const audiences: AudienceDest[] = [];
    const advertisers: string[] = [];
    for (let i = 0; i < nAud; i++) {
      const destinationId = `chaos-aud-${i + 1}`;
      const advertiserId = `73${String(1000 + i).padStart(17, '0')}`;
      advertisers.push(advertiserId);
      audiences.push({
        base: i * 9_000,
        generation: -1,
        config: {
          destinationId,
          advertiserId,
          audienceName: `ttsync chaos ${destinationId}`,
          action: 'create',
          identifiers: { email: 'email', phone: 'phone' },
          defaultCountry: 'US',
          accessToken: `env:${TOKEN_VAR}`,
          sourceSegmentId: `segment-${destinationId}`,
          maxProcessingWait: '30m',
          // Half keep their working data in the bucket behind the fault proxy, half on local disk.
          storage: { workdir: i % 2 === 0 ? `gs://${BUCKET_WORK}/audiences/${destinationId}` : join(dir, 'work', destinationId) },
        },
      });
    }
    const lifecycleNames = opts.lifecycles ?? LIFECYCLES;
    const tokenEnv: Record<string, string> = { [TOKEN_VAR]: emu.control.issueToken([...advertisers, ...LIFECYCLE_ADVERTISERS]) };
    const eventsDests: EventsDest[] = [];
    for (let i = 0; i < nEv; i++) {
      const destinationId = `chaos-ev-${i + 1}`;
      const pixel = `CHAOSPIXEL${String(i + 1).padStart(10, '0')}`;
      const envVar = `TTSYNC_CHAOS_EVENTS_TOKEN_${i + 1}`;
      const { access_token } = (await (
        await fetch(`${emu.url}/_emulator/event-source-tokens`, { method: 'POST', body: JSON.stringify({ event_source_id: pixel, advertiser_id: advertisers[0] ?? '7300000000000000001' }) })
      ).json()) as { access_token: string };
      tokenEnv[envVar] = access_token;
      eventsDests.push({
        pixel,
        files: 0,
        orderIds: new Set(),
        config: {
          destinationId,
          source: 'web',
          eventSourceId: pixel,
          accessToken: `env:${envVar}`,
          input: { kind: 'files' },
          event: { standard: 'Purchase' },
          eventTimeField: 'ts',
          identifiers: { email: 'email' },
          properties: { order_id: 'order', value: 'value', currency: 'currency' },
          storage: { workdir: i % 2 === 0 ? `gs://${BUCKET_WORK}/events/${destinationId}` : join(dir, 'work', destinationId) },
        },
      });
    }

    const workerEnv: NodeJS.ProcessEnv = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_CONFIG_FILE: join(dir, 'no-temporal-profile.toml'),
      TTSYNC_PAYLOAD_KEYS: '',
      NODE_ENV: 'production',
      TTSYNC_DATA_DIR: join(dir, 'data'),
      TTSYNC_NOTICES: join(dir, 'notices'),
      TTSYNC_SEGMENT_REGISTRY: `gs://${BUCKET_WORK}/registry`,
      // SAN migration's partner-config store behind the fault proxy; notices by SMTP to Mailpit,
      // operators' ones (alerts, short notice) to one address.
      TTSYNC_SAN_STORE: `gs://${BUCKET_WORK}/san`,
      TTSYNC_SMTP_URL: mailpit.smtpUrl,
      TTSYNC_SMTP_FROM: 'ttsync chaos <ttsync@chaos.example>',
      TTSYNC_NOTICE_EMAIL: OPERATORS,
      STORAGE_EMULATOR_HOST: proxy.endpoint,
      GCLOUD_PROJECT: 'ttsync-chaos',
      TIKTOK_API_BASE_URL: emu.apiBaseUrl,
      TIKTOK_QPS: '10',
      TIKTOK_TIMEOUT_MS: '4000',
      ...tokenEnv,
    };
    pool = new WorkerPool(workerEnv, join(dir, 'logs'));
    cleanups.push(() => pool!.stopAll());
    for (let i = 0; i < nWorkers; i++) pool.start();

    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    /** Retries a client call while the server is down or restarting. */
    const persist = async <T>(what: string, fn: () => Promise<T>, untilMs = 120_000): Promise<T> => {
      const deadline = Date.now() + untilMs;
      for (let attempt = 1; ; attempt++) {
        try {
          return await client.withDeadline(Date.now() + 20_000, fn);
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
          await sleep(Math.min(2_000, 200 * attempt));
        }
      }
    };

    // --- inputs ------------------------------------------------------------------------
    const counters = { snapshots: 0, eventFiles: 0, events: 0, rerequested: 0 };
    const snapshotUri = (d: AudienceDest, g: number): string => `gs://${BUCKET_EXPORTS}/audiences/${d.config.destinationId}/gen-${String(g).padStart(4, '0')}.csv`;
    const landSnapshot = async (d: AudienceDest, untilMs?: number): Promise<void> => {
      const g = d.generation + 1;
      const name = `audiences/${d.config.destinationId}/gen-${String(g).padStart(4, '0')}.csv`;
      await putObject(gcs!.endpoint, BUCKET_EXPORTS, name, snapshotCsv(generationPeople(d.base, g, PEOPLE, CHURN)));
      await persist(`snapshot ${g} of ${d.config.destinationId}`, () =>
        requestAudienceSync(client, { config: d.config, snapshot: { uri: snapshotUri(d, g) }, timing: AUDIENCE_TIMING, answerTimeoutMs: 15_000, updateConfig: opts.configUpdates ?? true }),
        untilMs,
      );
      d.generation = g;
      counters.snapshots++;
    };
    const landEvents = async (d: EventsDest, untilMs?: number): Promise<void> => {
      const f = d.files + 1;
      const ids = Array.from({ length: EVENTS_PER_FILE }, (_, k) => `${d.config.destinationId}-f${f}-${k}`);
      const name = `events/${d.config.destinationId}/file-${String(f).padStart(4, '0')}.csv`;
      await putObject(gcs!.endpoint, BUCKET_EXPORTS, name, eventsCsv(ids, new Date(Date.now() - 3_600_000)));
      // Expected from before the signal: a signal whose answer was lost may still have landed
      // (a failed delivery is tried again with this same file next time).
      for (const id of ids) d.orderIds.add(id);
      await persist(`events file ${f} of ${d.config.destinationId}`, () =>
        requestEventsExport(client, { config: d.config, input: { uri: `gs://${BUCKET_EXPORTS}/${name}` }, timing: EVENTS_TIMING }),
        untilMs,
      );
      d.files = f;
      counters.eventFiles++;
      counters.events += ids.length;
    };

    // Every destination gets its first input before the chaos begins.
    for (const d of audiences) await landSnapshot(d);
    for (const d of eventsDests) await landEvents(d);

    // The other lifecycles: inputs in place and first workflows started; their drivers run
    // beside the chaos and the settling.
    let going = true;
    const world: ChaosWorld = {
      client,
      emu,
      gcsEndpoint: gcs.endpoint,
      bucket: BUCKET_WORK,
      mailpit,
      tokenRef: `env:${TOKEN_VAR}`,
      operators: OPERATORS,
      chaosMs: opts.durationMs,
      persist,
      going: () => going,
      log,
    };
    const lifecycles: ChaosLifecycle[] = lifecyclesFor(lifecycleNames, world);
    for (const l of lifecycles) await l.prepare();
    const drives = lifecycles.map((l) =>
      l.drive().catch((err: unknown) => {
        log(`chaos: the ${l.name} driver stopped: ${(err as Error).stack ?? String(err)}`);
      }),
    );

    // --- chaos -------------------------------------------------------------------------
    const t0 = Date.now();
    const chaosEnd = t0 + opts.durationMs;
    const running = (): boolean => Date.now() < chaosEnd;
    /** A wait that ends with the chaos at the latest. */
    const pause = (ms: number): Promise<void> => sleep(Math.max(0, Math.min(ms, chaosEnd - Date.now())));
    const regimeLog: string[] = [];
    const loops: Promise<void>[] = [];

    loops.push(
      (async () => {
        while (running()) {
          await pause(around(opts.feedEveryMs ?? 4_000));
          if (!running()) break;
          const k = Math.floor(rand() * (audiences.length + eventsDests.length));
          try {
            if (k < audiences.length) await landSnapshot(audiences[k]!, 30_000);
            else await landEvents(eventsDests[k - audiences.length]!, 30_000);
          } catch (err) {
            log(`chaos: an input could not be delivered yet: ${(err as Error).message}`);
          }
        }
      })(),
    );
    loops.push(
      (async () => {
        while (running()) {
          await pause(around(opts.workerKillEveryMs ?? 8_000));
          if (!running()) break;
          const ids = pool!.ids();
          if (ids.length === 0) continue;
          const id = pick(ids);
          await pool!.kill(id);
          // Often restarted at once, sometimes after a while with the others doing the work (or none at all).
          await sleep(rand() < 0.5 ? 200 : around(3_000));
          pool!.start();
        }
      })(),
    );
    loops.push(
      (async () => {
        // The first kill comes within the first half of the run, so even a short run has one.
        let wait = rand() * Math.min(opts.serverKillEveryMs ?? 45_000, opts.durationMs / 2);
        while (running()) {
          await pause(wait);
          wait = around(opts.serverKillEveryMs ?? 45_000);
          if (!running()) break;
          await temporal.kill();
          log(`chaos: +${((Date.now() - t0) / 1000).toFixed(0)} s SIGKILLed the Temporal server (kill ${temporal.kills})`);
          await sleep(500 + rand() * 2_500);
          await temporal.start();
        }
      })(),
    );
    loops.push(
      (async () => {
        while (running()) {
          const tk = pick(TIKTOK_REGIMES);
          const gc = pick(GCS_REGIMES);
          emu!.control.setFaults({ ...NO_TIKTOK_FAULTS, ...tk.faults, seed: Math.floor(rand() * 1e9) });
          proxy!.setFaults(gc.faults);
          regimeLog.push(`+${((Date.now() - t0) / 1000).toFixed(0)} s TikTok ${tk.name}, GCS ${gc.name}`);
          await pause(8_000 + rand() * 12_000);
        }
      })(),
    );
    await Promise.all(loops);
    const chaosMs = Date.now() - t0;

    // --- settle ------------------------------------------------------------------------
    emu.control.setFaults(NO_TIKTOK_FAULTS);
    proxy.setFaults(NO_PROXY_FAULTS);
    if (!temporal.running) await temporal.start();
    while (pool.size < nWorkers) pool.start();
    log(`chaos: ${(chaosMs / 1000).toFixed(0)} s of chaos over; faults off, ${pool.size} workers, letting every destination finish`);
    const s0 = Date.now();
    const settleUntil = s0 + (opts.settleTimeoutMs ?? 300_000);
    const lastNudge = new Map<string, number>();
    const finished = new Set<string>();
    const audStatus = new Map<string, AudienceSyncStatus>();
    const evStatus = new Map<string, EventsExportStatus>();
    let settled = false;
    let lastPendingLog = Date.now();
    while (Date.now() < settleUntil) {
      let pending = 0;
      for (const d of audiences) {
        const id = d.config.destinationId;
        const final = snapshotUri(d, d.generation);
        let s: AudienceSyncStatus;
        try {
          s = await client.withDeadline(Date.now() + 10_000, () => client.workflow.getHandle(WorkflowIds.audienceSync(id)).query(audienceSyncStatusQuery));
        } catch {
          pending++;
          continue;
        }
        audStatus.set(id, s);
        const idle = s.currentRunId === null && !s.queued?.snapshot;
        if (idle && s.appliedSnapshot?.uri === final) {
          finished.add(id);
          continue;
        }
        finished.delete(id);
        pending++;
        // A cycle that ended in error waits for the next trigger: give it one (as an operator or the cadence would).
        if (idle && Date.now() - (lastNudge.get(id) ?? 0) > 20_000) {
          lastNudge.set(id, Date.now());
          await persist(`re-request ${id}`, () => requestAudienceSync(client, { config: d.config, snapshot: { uri: final }, timing: AUDIENCE_TIMING, answerTimeoutMs: 15_000, updateConfig: opts.configUpdates ?? true }));
          counters.rerequested++;
        }
      }
      for (const d of eventsDests) {
        const id = d.config.destinationId;
        let s: EventsExportStatus;
        try {
          s = await client.withDeadline(Date.now() + 10_000, () => client.workflow.getHandle(WorkflowIds.eventsExport(id)).query(eventsExportStatusQuery));
        } catch {
          pending++;
          continue;
        }
        evStatus.set(id, s);
        const idle = s.currentRunId === null && s.queued.length === 0;
        if (idle && s.phase === 'exported') {
          finished.add(id);
          continue;
        }
        finished.delete(id);
        pending++;
        if (s.currentRunId === null && s.phase === 'error' && Date.now() - (lastNudge.get(id) ?? 0) > 20_000) {
          lastNudge.set(id, Date.now());
          await persist(`re-request ${id}`, () => requestEventsExport(client, { config: d.config, timing: EVENTS_TIMING }));
          counters.rerequested++;
        }
      }
      for (const l of lifecycles) {
        if (await l.settled()) finished.add(l.name);
        else {
          finished.delete(l.name);
          pending++;
        }
      }
      if (pending === 0) {
        settled = true;
        break;
      }
      if (Date.now() - lastPendingLog > 15_000) {
        lastPendingLog = Date.now();
        const waiting = [...audiences.map((d) => d.config.destinationId), ...eventsDests.map((d) => d.config.destinationId), ...lifecycles.map((l) => l.name)].filter((x) => !finished.has(x));
        log(`chaos: +${((Date.now() - s0) / 1000).toFixed(0)} s of settling, waiting for ${waiting.join(', ')}`);
      }
      await sleep(1_000);
    }
    const settleMs = Date.now() - s0;
    going = false;
    await Promise.race([Promise.all(drives), sleep(60_000)]);

    // --- check -------------------------------------------------------------------------
    const audChecks: AudienceCheck[] = [];
    for (const d of audiences) {
      const s = audStatus.get(d.config.destinationId);
      const expected = audienceDigests(generationPeople(d.base, d.generation, PEOPLE, CHURN));
      const owned = [...emu.state.audiences.values()].filter((a) => a.advertiserId === d.config.advertiserId);
      const held = s?.audienceId ? emu.state.audiences.get(s.audienceId) : owned[0];
      const cmp = held ? compareSets(expected, held.ids.hexes()) : { missing: expected.size, unexpected: 0 };
      const done = finished.has(d.config.destinationId);
      audChecks.push({
        destinationId: d.config.destinationId,
        generation: d.generation,
        expected: expected.size,
        lost: done ? cmp.missing : 0,
        unexpected: done ? cmp.unexpected : 0,
        audiences: owned.length,
        phase: s?.phase ?? 'unknown',
        finished: done,
      });
    }
    const evChecks: EventsCheck[] = [];
    for (const d of eventsDests) {
      const count = new Map<string, number>();
      let unexpected = 0;
      let dedup = 0;
      for (const e of emu.state.events) {
        if (e.eventSourceId !== d.pixel) continue;
        if (e.deduplicated) {
          dedup++;
          continue;
        }
        const order = (e.payload as { properties?: { order_id?: unknown } }).properties?.order_id;
        if (typeof order !== 'string' || !d.orderIds.has(order)) unexpected++;
        else count.set(order, (count.get(order) ?? 0) + 1);
      }
      let duplicated = 0;
      for (const c of count.values()) if (c > 1) duplicated += c - 1;
      evChecks.push({
        destinationId: d.config.destinationId,
        files: d.files,
        expected: d.orderIds.size,
        lost: finished.has(d.config.destinationId) ? d.orderIds.size - count.size : 0,
        duplicated,
        unexpected,
        deduplicatedByTikTok: dedup,
        phase: evStatus.get(d.config.destinationId)?.phase ?? 'unknown',
        finished: finished.has(d.config.destinationId),
      });
    }
    const closedWorkflows: string[] = [];
    for (const id of [...audiences.map((d) => WorkflowIds.audienceSync(d.config.destinationId)), ...eventsDests.map((d) => WorkflowIds.eventsExport(d.config.destinationId))]) {
      const desc = await persist(`describe ${id}`, () => client.workflow.getHandle(id).describe());
      if (desc.status.name !== 'RUNNING') closedWorkflows.push(`${id} ${desc.status.name}`);
    }

    const byOutcome = emu.state.counters.byOutcome;
    const tiktokFaults = {
      throttled: byOutcome.injected_throttle ?? 0,
      'code 50000': byOutcome.injected_error ?? 0,
      'HTTP 503': byOutcome.injected_http503 ?? 0,
      'dropped before the edit': byOutcome.injected_drop ?? 0,
      'dropped after the edit took effect': byOutcome.injected_drop_after ?? 0,
      'slow answers': emu.state.counters.slowAnswers,
      'rate-limited (real 40100)': byOutcome.rate_limited ?? 0,
    };
    const gcsFaults = { 'HTTP 503': proxy.counts.http503, 'dropped before': proxy.counts.dropBefore, 'dropped after the write took effect': proxy.counts.dropAfter };
    const ledger = new NoticeLedger(await mailpit.messages());
    const lifeChecks: LifecycleCheck[] = [];
    for (const l of lifecycles) lifeChecks.push(await l.check(ledger));
    // Every email once: a Message-ID that arrived twice is a duplicate whichever lifecycle sent
    // it (the lifecycles' own expected notices are counted in their checks).
    const dupMails = ledger.duplicates();
    const counted = new Set(lifeChecks.flatMap((c) => c.noticeIds));
    const otherDup = dupMails.filter((d) => !counted.has(d.messageId)).reduce((a, d) => a + d.copies - 1, 0);
    const lost = audChecks.reduce((a, c) => a + c.lost, 0) + evChecks.reduce((a, c) => a + c.lost, 0) + lifeChecks.reduce((a, c) => a + c.lost, 0);
    const duplicated =
      evChecks.reduce((a, c) => a + c.duplicated, 0) + audChecks.reduce((a, c) => a + Math.max(0, c.audiences - 1), 0) + lifeChecks.reduce((a, c) => a + c.duplicated, 0) + otherDup;
    const unexpected = audChecks.reduce((a, c) => a + c.unexpected, 0) + evChecks.reduce((a, c) => a + c.unexpected, 0) + lifeChecks.reduce((a, c) => a + c.unexpected, 0);
    ok = settled && lost === 0 && duplicated === 0 && unexpected === 0 && closedWorkflows.length === 0 && lifeChecks.every((c) => c.finished);
    const fmt = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k} ${n(v)}`).join(', ');
    const report = [
      `chaos ${(chaosMs / 60_000).toFixed(1)} min (seed ${opts.seed ?? 20261203}): ${nAud} audience-sync and ${nEv} events-export destinations${lifecycleNames.length ? `, ${lifecycleNames.join(', ')}` : ''}, ${nWorkers} worker processes; settled in ${(settleMs / 1000).toFixed(0)} s${settled ? '' : ' (NOT SETTLED: timed out)'}`,
      `kills survived: worker processes ${pool.kills} (SIGKILL), Temporal server ${temporal.kills} (SIGKILL, restarted on its database file)`,
      `TikTok faults injected: ${fmt(tiktokFaults)} (of ${n(emu.state.counters.calls)} API requests)`,
      `GCS faults injected (proxy in front of fake-gcs-server): ${fmt(gcsFaults)}; ${n(proxy.counts.passed)} requests passed`,
      `inputs: ${n(counters.snapshots)} snapshots (${n(PEOPLE)} people, ${CHURN} churn each), ${n(counters.eventFiles)} events files (${n(counters.events)} events); triggers given again after a failed cycle or run: ${counters.rerequested}`,
      ...audChecks.map((c) =>
        c.finished
          ? `  ${c.destinationId}: generation ${c.generation}, ${n(c.expected)} ids expected, lost ${c.lost}, unexpected ${c.unexpected}, audiences ${c.audiences}, phase ${c.phase}`
          : `  ${c.destinationId}: NOT FINISHED: generation ${c.generation} not applied when the settling time ran out (last status: phase ${c.phase}, applied ${audStatus.get(c.destinationId)?.appliedSnapshot?.uri ?? 'nothing'}); audiences ${c.audiences}; not compared`,
      ),
      ...evChecks.map(
        (c) => `  ${c.destinationId}: ${c.files} files, ${n(c.expected)} events expected, ${c.finished ? `lost ${c.lost}` : 'NOT FINISHED (lost not counted)'}, duplicated ${c.duplicated}, unexpected ${c.unexpected} (TikTok deduplicated ${n(c.deduplicatedByTikTok)} resent copies), phase ${c.phase}`,
      ),
      ...lifeChecks.flatMap((c) => (c.finished ? c.lines : [c.lines[0]!.replace(/^ {2}(\S+):/, '  $1: NOT FINISHED:'), ...c.lines.slice(1)])),
      `notices: ${n(ledger.all.length)} emails received (Mailpit), ${dupMails.length} Message-IDs more than once${dupMails.length ? `: ${dupMails.map((d) => `${d.copies}× ${d.subject}`).join('; ')}` : ''}; other lifecycles' copies counted as duplicated: ${otherDup}`,
      ...(closedWorkflows.length ? [`workflows no longer running: ${closedWorkflows.join(', ')}`] : []),
      `lost ${lost}, duplicated ${duplicated}, unexpected ${unexpected}: ${ok ? 'OK' : 'FAILED'}`,
    ];
    log(`chaos: fault regimes: ${regimeLog.join('; ')}`);
    return {
      ok,
      chaosMs,
      settleMs,
      settled,
      kills: { workers: pool.kills, server: temporal.kills },
      tiktokFaults,
      gcsFaults,
      inputs: counters,
      audiences: audChecks,
      events: evChecks,
      lifecycles: lifeChecks,
      notices: { emails: ledger.all.length, duplicated: dupMails },
      closedWorkflows,
      lost,
      duplicated,
      unexpected,
      report,
      dir,
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
    else log(`chaos: kept ${dir} (logs/, temporal.sqlite)`);
  }
}
