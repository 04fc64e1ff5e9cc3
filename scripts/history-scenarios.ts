import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalSettings } from '../src/temporal/connection';
import { startEmulator } from '../src/emulator';
import { createNoticeService, postNotice } from '../src/notices';
import { openBlobStore } from '../src/storage';
import { TikTokClient } from '../src/tiktok';
import { WorkflowIds } from '../src/temporal/workflowIds';
import { rerun } from '../src/temporal/rerun';
import { DEFAULT_UI_URL } from '../src/temporal/uiLinks';
import { audienceSyncRerun } from '../src/audience-sync/rerun';
import { createWorkers } from '../src/worker';
import { addChangeBatchSignal, audienceSyncStatusQuery, pauseSignal, reauthorizedSignal, recreateAudienceSignal, resumeSignal, snapshotLandedSignal, syncNowSignal } from '../src/audience-sync/messages';
import { audienceSync, audienceSyncPreview, audienceSyncTick, eventsExport, eventsExportTick, healthCheck, noticesSweep, retention, retentionTick } from '../workflows/index';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../src/retention/synthetic';
import type { RetentionRunSummary } from '../src/retention/messages';
import { eventsExportStatusQuery, eventsReauthorizedSignal, inputLandedSignal, eventsPauseSignal, eventsResumeSignal } from '../src/events-export/messages';
import { sanMigrationScenario } from './san-history-scenario';
import { usageScenario } from './usage-history-scenario';
import { healthPingSignal, healthReleaseSignal, healthStatusQuery } from '../workflows/healthCheck';

/**
 * One canonical run per scenario, recorded into test/histories/<name>.json. Each should
 * cover the workflow's branches (timers, signals, activities) so replay catches reordering.
 */
export interface HistoryScenario {
  name: string;
  /** Returns the handle of the run to record; `ctx.temporal` lets a scenario start extra workers. */
  run(client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle>;
}

async function until(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('scenario did not reach its state in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A first audience sync against an in-process emulator and a temp folder: inspect, load the
 * applied state, audience-cap check, prepare, 4 diff groups, build, upload, create, the
 * processing wait on timers, commit, the final status, and continue-as-new; plus a change
 * batch signalled mid-cycle (carried over). The data and TikTok workers run here, on queues
 * of their own; the recorded run is the first one (it ends in continue-as-new). Without the
 * token at start it also covers reauthorization_required: parked, then the signal.
 */
interface AudienceScenarioOptions {
  tokenAtStart: boolean;
  /**
   * Go on past the first run and record a later one. 'missing': the second run, where the
   * carried-over batch and one more flush in one cycle (flush-all-batches) against an
   * audience deleted in TikTok, which parks the destination in audience_missing. 'recreate':
   * the third run, where recreateAudience sends the applied state and the batches to a new
   * audience. 'paused': paused during the first cycle (SyncState paused once it ends), the
   * second run starts paused (SyncState paused), a snapshot is queued behind the pause,
   * resume runs it, and a pause during that cycle shows once it ends. 'rerun': TikTok refuses
   * the create (40001), the cycle ends in error and the workflow waits; the refusal is lifted
   * and `ttsync rerun` resets the failed run to the workflow task that scheduled the create;
   * the reset run (its WorkflowTaskFailed of the reset, then create, commit, continue-as-new)
   * is recorded. 'late-create': the first create is answered after the client gave up (it
   * waits 1 s, TikTok takes 3 s and still creates), the retry creates again under the same
   * marker; once the late one has landed, syncNow runs a second cycle whose stray check deletes
   * it: that second run is recorded.
   */
  record?: 'missing' | 'recreate' | 'paused' | 'rerun' | 'late-create';
}

async function audienceScenario(name: string, client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }, opts: AudienceScenarioOptions): Promise<WorkflowHandle> {
  // Recorded under the destination's own id, as every real run is (the workflow checks it).
  const destinationId = name.toLowerCase();
  const advertiserId = '7000000000000000001';
  const tokenVar = 'TTSYNC_HISTORY_SCENARIO_TOKEN';
  const emu = await startEmulator({ processingDelay: 300, rateLimits: { default: { qps: 10_000, qpm: 1_000_000 } } });
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-'));
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const queues = { data: `${taskQueue}-data`, tiktok: `${taskQueue}-tiktok` };
  const token = emu.control.issueToken([advertiserId]);
  if (opts.tokenAtStart) process.env[tokenVar] = token;
  else delete process.env[tokenVar];
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['data', 'tiktok'],
    taskQueues: queues,
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: {
      audienceData: { openStore: (uri) => openBlobStore(uri), defaultWorkdir: join(dir, 'work') },
      tiktokAudience: { tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_TIMEOUT_MS: opts.record === 'late-create' ? 1000 : 5000 } },
      // Alert notices are kept in the scenario's own outbox, routed nowhere.
      notices: { service: () => createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: DEFAULT_UI_URL, namespace: ctx.temporal.namespace }) },
    },
  });
  try {
    // Synthetic people: valid emails and phones, plus rows the rejects file must list.
    const rows = ['email,phone'];
    for (let i = 0; i < 1200; i++) rows.push(`user${i}@example.com,(212) 201-${String(i).padStart(4, '0')}`);
    rows.push('not-an-email,', ',123');
    writeFileSync(join(dir, 'snapshot.csv'), rows.join('\n') + '\n');
    writeFileSync(join(dir, 'enters.csv'), 'email,phone\nlate@example.com,\n');
    if (opts.record === 'rerun') emu.control.setFaults({ rules: [{ endpoint: 'dmp/custom_audience/create/', code: 40001, message: 'No permission to operate advertiser' }] });
    if (opts.record === 'late-create') emu.control.setFaults({ rules: [{ endpoint: 'dmp/custom_audience/create/', latency: 3000, times: 1 }] });
    const h = await client.workflow.start(audienceSync, {
      taskQueue,
      workflowId: WorkflowIds.audienceSync(destinationId),
      args: [
        {
          config: {
            destinationId,
            advertiserId,
            audienceName: 'ttsync history scenario',
            action: 'create',
            identifiers: { email: 'email', phone: 'phone' },
            defaultCountry: 'US',
            accessToken: `env:${tokenVar}`,
            sourceSegmentId: 'history-segment',
            storage: { workdir: `file://${join(dir, 'work')}` },
          },
          snapshot: { uri: `file://${join(dir, 'snapshot.csv')}` },
          queues,
          timing: { cadence: '1h', pollInitial: '100ms', pollMax: '1s' },
        },
      ],
    });
    const status = () => h.query(audienceSyncStatusQuery).catch(() => undefined);
    if (opts.record === 'rerun') {
      await until(async () => {
        const f = await status();
        return f?.phase === 'error' && f.currentRunId === null;
      });
      emu.control.setFaults({ rules: [] });
      const reset = await rerun(client, [audienceSyncRerun], { workflowId: h.workflowId, uiUrl: DEFAULT_UI_URL });
      await until(async () => {
        const d = await status();
        return d !== undefined && d.lastError === null && d.currentRunId === null && (d.phase === 'synced' || d.phase === 'too_small_to_target');
      });
      await h.terminate('history recorded');
      return client.workflow.getHandle(h.workflowId, reset.newRunId);
    }
    if (!opts.tokenAtStart) {
      // The secret is missing: the first TikTok step parks until the operator sets it and signals.
      await until(async () => (await status())?.phase === 'reauthorization_required');
      process.env[tokenVar] = token;
      await h.signal(reauthorizedSignal);
    }
    await until(async () => (await status())?.phase === 'waiting_for_processing');
    await h.signal(addChangeBatchSignal, { enters: { uri: `file://${join(dir, 'enters.csv')}` } });
    if (opts.record === 'paused') await h.signal(pauseSignal);
    await until(async () => {
      const s = await status();
      return s !== undefined && s.cycles >= 1 && s.currentRunId === null;
    });
    const s = await status();
    if (s?.phase !== 'synced' && s?.phase !== 'too_small_to_target') throw new Error(`audience sync scenario ended in ${JSON.stringify(s)}`);
    if (!opts.record) {
      await h.terminate('history recorded');
      return client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
    }
    // Run 2 holds the carried-over batch; one more, then the audience goes away in TikTok.
    const runAfter = async (previous: string): Promise<string> => {
      let id = previous;
      await until(async () => (id = (await h.describe()).runId) !== previous);
      return id;
    };
    const run2 = await runAfter(h.firstExecutionRunId);
    if (opts.record === 'late-create') {
      // Both creates have landed (the late one after the first cycle, or during it).
      await until(async () => emu.state.calls.filter((c) => c.path === 'dmp/custom_audience/create/' && c.code === 0).length === 2);
      await h.signal(syncNowSignal);
      await until(async () => {
        const m = await status();
        return m !== undefined && m.cycles >= 2 && m.currentRunId === null;
      });
      const m = await status();
      const left = [...emu.state.audiences.values()].filter((a) => a.advertiserId === advertiserId);
      if (m?.audienceCreate?.straysDeleted?.length !== 1 || left.length !== 1) throw new Error(`late-create scenario ended in ${JSON.stringify(m)} with ${left.length} audiences`);
      await runAfter(run2);
      await h.terminate('history recorded');
      return client.workflow.getHandle(h.workflowId, run2);
    }
    if (opts.record === 'paused') {
      const more = ['email,phone'];
      for (let i = 100; i < 1300; i++) more.push(`user${i}@example.com,(212) 201-${String(i).padStart(4, '0')}`);
      writeFileSync(join(dir, 'snapshot2.csv'), more.join('\n') + '\n');
      await h.signal(snapshotLandedSignal, { snapshot: { uri: `file://${join(dir, 'snapshot2.csv')}` }, requestId: 'history-paused' });
      await until(async () => (await status())?.queued?.snapshot?.requestIds.includes('history-paused') === true);
      await h.signal(resumeSignal);
      await until(async () => (await status())?.currentRunId != null);
      await h.signal(pauseSignal);
      await until(async () => {
        const m = await status();
        return m !== undefined && m.cycles >= 2 && m.currentRunId === null && m.paused;
      });
      await runAfter(run2);
      await h.terminate('history recorded');
      return client.workflow.getHandle(h.workflowId, run2);
    }
    writeFileSync(join(dir, 'exits.csv'), 'email,phone\nuser1@example.com,\n');
    await h.signal(addChangeBatchSignal, { exits: { uri: `file://${join(dir, 'exits.csv')}` } });
    await until(async () => (await status())?.pendingBatches === 2);
    const tiktok = new TikTokClient({ accessToken: token, env: { TIKTOK_API_BASE_URL: emu.apiBaseUrl } });
    await tiktok.deleteAudiences({ advertiserId, audienceIds: [s.audienceId!] });
    await h.signal(syncNowSignal);
    await until(async () => {
      const m = await status();
      return m?.phase === 'audience_missing' && m.cycles >= 2 && m.currentRunId === null;
    });
    const run3 = await runAfter(run2);
    if (opts.record === 'missing') {
      await h.terminate('history recorded');
      return client.workflow.getHandle(h.workflowId, run2);
    }
    await h.signal(recreateAudienceSignal);
    await until(async () => {
      const r = await status();
      return r !== undefined && r.cycles >= 3 && r.currentRunId === null && r.pendingBatches === 0;
    });
    const r = await status();
    if (r?.phase !== 'synced' || r.audienceId === s.audienceId) throw new Error(`recreate scenario ended in ${JSON.stringify(r)}`);
    await h.terminate('history recorded');
    return client.workflow.getHandle(h.workflowId, run3);
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A dry run of a destination before its first sync: inspect, load the (empty) applied state,
 * begin the preview run, prepare, the 4 diff groups, and the trim of its run folder. Only a
 * data worker runs here: the preview makes no TikTok call.
 */
async function previewScenario(name: string, client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle> {
  const destinationId = name.toLowerCase();
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-'));
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const queues = { data: `${taskQueue}-data`, tiktok: `${taskQueue}-tiktok` };
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['data'],
    taskQueues: queues,
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: { audienceData: { openStore: (uri) => openBlobStore(uri), defaultWorkdir: join(dir, 'work') } },
  });
  try {
    const rows = ['email,phone'];
    for (let i = 0; i < 1200; i++) rows.push(`user${i}@example.com,(212) 201-${String(i).padStart(4, '0')}`);
    rows.push('not-an-email,', ',123');
    writeFileSync(join(dir, 'snapshot.csv'), rows.join('\n') + '\n');
    const h = await client.workflow.start(audienceSyncPreview, {
      taskQueue,
      workflowId: WorkflowIds.audienceSyncPreview(destinationId),
      args: [
        {
          config: {
            destinationId,
            advertiserId: '7000000000000000004',
            audienceName: 'ttsync history preview',
            action: 'create',
            identifiers: { email: 'email', phone: 'phone' },
            defaultCountry: 'US',
            accessToken: 'env:TTSYNC_HISTORY_SCENARIO_TOKEN',
            sourceSegmentId: 'history-preview-segment',
            storage: { workdir: `file://${join(dir, 'work')}` },
          },
          snapshot: { uri: `file://${join(dir, 'snapshot.csv')}` },
          queues,
        },
      ],
    });
    const r = await h.result();
    if (r.added !== 2400 || r.removed !== 0 || r.rejected.invalid_email !== 1) throw new Error(`preview scenario returned ${JSON.stringify(r)}`);
    return h;
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An events export run against an in-process emulator: the token missing at start (prepare
 * runs, sending parks in reauthorization_required until the token is set and `reauthorized`
 * is signalled), a file of three batches with a row refused before sending and an event the
 * emulator refuses (its batch is split), pause and resume while parked, a second file landing
 * mid-run (carried over), then continue-as-new. The recorded run is the first one.
 */
async function eventsScenario(name: string, client: Client, taskQueue: string, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle> {
  const destinationId = name.toLowerCase();
  const tokenVar = 'TTSYNC_HISTORY_EVENTS_TOKEN';
  const pixel = 'A1T8T4UYGVIQA8ORZMX9';
  const emu = await startEmulator({ rateLimits: { events: { qps: 10_000, qpm: 1_000_000 } } });
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-events-'));
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const queues = { data: `${taskQueue}-data`, events: `${taskQueue}-events` };
  delete process.env[tokenVar];
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['data', 'tiktok'],
    taskQueues: { data: queues.data, tiktok: `${taskQueue}-tiktok` },
    events: { taskQueue: queues.events },
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: {
      eventsExport: { defaultWorkdir: join(dir, 'work'), tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_TIMEOUT_MS: 5000 } },
      // The park posts an alert: to an outbox in the scenario's temp dir, routed nowhere.
      notices: { service: () => createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: ctx.temporal.namespace }) },
    },
  });
  try {
    const now = Date.now();
    const rows = ['ts,email'];
    for (let i = 0; i < 2500; i++) rows.push(`${new Date(now - (i === 1500 ? 9 : 0) * 86_400_000 - 60_000).toISOString()},user${i}@example.com`);
    rows.push(`${new Date(now).toISOString()},not-an-email`);
    writeFileSync(join(dir, 'events.csv'), rows.join('\n') + '\n');
    writeFileSync(join(dir, 'more.csv'), `ts,email\n${new Date(now - 60_000).toISOString()},more@example.com\n`);
    const h = await client.workflow.start(eventsExport, {
      taskQueue,
      workflowId: WorkflowIds.eventsExport(destinationId),
      args: [
        {
          config: {
            destinationId,
            source: 'web',
            eventSourceId: pixel,
            accessToken: `env:${tokenVar}`,
            input: { kind: 'files' },
            event: { standard: 'Purchase' },
            eventTimeField: 'ts',
            identifiers: { email: 'email' },
            maxEventAge: '10d',
            storage: { workdir: `file://${join(dir, 'work')}` },
          },
          input: { uri: `file://${join(dir, 'events.csv')}` },
          queues,
          timing: { cadence: '1h', heartbeatTimeout: '30s' },
        },
      ],
    });
    await until(async () => (await h.query(eventsExportStatusQuery)).phase === 'reauthorization_required');
    await h.signal(inputLandedSignal, { input: { uri: `file://${join(dir, 'more.csv')}` }, requestId: 'history-more' });
    await h.signal(eventsPauseSignal);
    await h.signal(eventsResumeSignal);
    process.env[tokenVar] = emu.control.issueToken(['7000000000000000005']);
    await h.signal(eventsReauthorizedSignal);
    await until(async () => {
      const st = await h.query(eventsExportStatusQuery);
      return st.runs >= 2 && st.answered.some((a) => a.requestId === 'history-more');
    }, 60_000);
    const st = await h.query(eventsExportStatusQuery);
    if (st.phase !== 'exported') throw new Error(`events scenario ended in ${st.phase}: ${JSON.stringify(st.lastError)}`);
    await h.terminate('history recorded');
    // The first run: the one with the park, the split and the carried-over file.
    return client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await emu.close();
    delete process.env[tokenVar];
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A retention run over a small synthetic dataset in a temp folder: plan, the anonymize
 * activities (two lanes), the aggregate move and the audit record. The control worker of the
 * recorder runs the activities too (its queue is the data queue here). `tick`: what the
 * daily Schedule starts, recorded after the run it started has ended. `start`: the first
 * day; from 2026-01-25 the 12 days span two months, so the objects go in two batches (one per
 * month), all due as of 2026-08-10.
 * retention-first-run was recorded before batches (one activity per object).
 */
async function retentionScenario(name: string, client: Client, taskQueue: string, tick: boolean, start = '2026-01-01', asOf = '2026-07-05'): Promise<WorkflowHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-'));
  try {
    await generateSyntheticDataset(openBlobStore(dir), { start, days: 12, rowsPerDay: 20, seed: 3 });
    const config = { ...syntheticDatasetConfig(name.toLowerCase(), dir, join(dir, 'audit')), parallelism: 2 };
    if (tick) {
      const h = await client.workflow.start(retentionTick, { taskQueue, workflowId: `${name}`, args: [{ config, queues: { data: taskQueue } }] });
      const r = await h.result();
      if (!r.started) throw new Error(`retention tick scenario did not start a run: ${JSON.stringify(r)}`);
      await client.workflow.getHandle(r.workflowId).result();
      return h;
    }
    const h = await client.workflow.start(retention, { taskQueue, workflowId: WorkflowIds.retention(config.datasetId), args: [{ config, asOf, queues: { data: taskQueue } }] });
    const r: RetentionRunSummary = await h.result();
    if (!r.changed || r.objectsScanned !== 12) throw new Error(`retention scenario returned ${JSON.stringify(r)}`);
    return h;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A run that fails (a partition lacks the network column), then, the partition fixed, the
 * next run: `failed` records the failed run (its notice and the open alert), `cleared` the
 * successful one (the open alert read, the cleared notice posted, the alert closed).
 */
async function retentionAlertScenario(name: string, client: Client, taskQueue: string, which: 'failed' | 'cleared'): Promise<WorkflowHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-'));
  try {
    const gen = await generateSyntheticDataset(openBlobStore(dir), { start: '2026-01-01', days: 6, rowsPerDay: 20, seed: 3 });
    const config = { ...syntheticDatasetConfig(name.toLowerCase(), dir, join(dir, 'audit')), parallelism: 2 };
    const broken = join(dir, gen.recordsKeys[2]!);
    const original = readFileSync(broken, 'utf8');
    writeFileSync(broken, original.replace(/^event_id,event_name,network,/, 'event_id,event_name,media_source,'));
    const start = (asOf: string) => client.workflow.start(retention, { taskQueue, workflowId: WorkflowIds.retention(config.datasetId), args: [{ config, asOf, queues: { data: taskQueue } }] });
    const failed = await start('2026-07-05');
    if (!(await failed.result().then(() => false, () => true))) throw new Error('retention alert scenario: the first run did not fail');
    if (which === 'failed') return failed;
    writeFileSync(broken, original);
    const ok = await start('2026-07-06');
    const r: RetentionRunSummary = await ok.result();
    if (!r.changed) throw new Error(`retention alert scenario returned ${JSON.stringify(r)}`);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The notices sweeper over an outbox in a temp folder holding one notice with no route: one
 * sweep activity on a control worker of its own (whose notices are that outbox).
 */
async function noticesSweepScenario(name: string, client: Client, ctx: { temporal: TemporalSettings }): Promise<WorkflowHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-history-'));
  const native = await NativeConnection.connect({ address: ctx.temporal.address });
  const taskQueue = `history-notices-${Date.now()}`;
  const service = () => createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: DEFAULT_UI_URL, namespace: ctx.temporal.namespace });
  const workers = await createWorkers({
    temporal: ctx.temporal,
    connection: native,
    roles: ['control'],
    taskQueues: { control: taskQueue },
    skipSearchAttributeCheck: true,
    shutdownGraceTime: '1s',
    activityDeps: { notices: { service } },
  });
  try {
    await postNotice(service(), {
      key: 'history/notices-sweep/1/failed/entered',
      subject: 'ttsync history scenario',
      text: 'kept in the outbox, routed nowhere\n',
      metadata: { lifecycle: 'retention', subjectId: 'history', state: 'failed', event: 'entered', workflowId: 'retention:history' },
    });
    const h = await client.workflow.start(noticesSweep, { taskQueue, workflowId: name });
    const r = await h.result();
    if (r.notices !== 1 || r.failed !== 0) throw new Error(`notices sweep scenario returned ${JSON.stringify(r)}`);
    return h;
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const scenarios: HistoryScenario[] = [
  { name: 'retention-failed-alert', run: (client, taskQueue) => retentionAlertScenario('retention-failed-alert', client, taskQueue, 'failed') },
  { name: 'retention-alert-cleared', run: (client, taskQueue) => retentionAlertScenario('retention-alert-cleared', client, taskQueue, 'cleared') },
  { name: 'noticesSweep-unrouted', run: (client, _taskQueue, ctx) => noticesSweepScenario('noticesSweep-unrouted', client, ctx) },
  { name: 'retention-first-run', run: (client, taskQueue) => retentionScenario('retention-first-run', client, taskQueue, false) },
  { name: 'retentionTick-start', run: (client, taskQueue) => retentionScenario('retentionTick-start', client, taskQueue, true) },
  { name: 'retention-object-batches', run: (client, taskQueue) => retentionScenario('retention-object-batches', client, taskQueue, false, '2026-01-25', '2026-08-10') },
  { name: 'eventsExport-reauthorized-file', run: (client, taskQueue, ctx) => eventsScenario('eventsExport-reauthorized-file', client, taskQueue, ctx) },
  {
    // What an events Schedule starts: the tick's activity starts the destination's eventsExport.
    name: 'eventsExportTick-start',
    async run(client, taskQueue) {
      const config = {
        destinationId: 'history-events-tick',
        source: 'web' as const,
        eventSourceId: 'A1T8T4UYGVIQA8ORZMX9',
        accessToken: 'env:TTSYNC_HISTORY_EVENTS_TOKEN',
        input: { kind: 'files' as const },
        event: { standard: 'Purchase' },
        eventTimeField: 'ts',
        identifiers: { email: 'email' },
      };
      const h = await client.workflow.start(eventsExportTick, { taskQueue, workflowId: 'eventsExportTick-start', args: [{ config, timing: { cadence: '1h' } }] });
      const r = await h.result();
      await client.workflow.getHandle(r.workflowId).terminate('history recorded');
      return h;
    },
  },
  { name: 'audienceSync-first-sync', run: (client, taskQueue, ctx) => audienceScenario('audienceSync-first-sync', client, taskQueue, ctx, { tokenAtStart: true }) },
  {
    name: 'audienceSync-reauthorization',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-reauthorization', client, taskQueue, ctx, { tokenAtStart: false }),
  },
  {
    name: 'audienceSync-batches-missing',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-batches-missing', client, taskQueue, ctx, { tokenAtStart: true, record: 'missing' }),
  },
  {
    name: 'audienceSync-recreate',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-recreate', client, taskQueue, ctx, { tokenAtStart: true, record: 'recreate' }),
  },
  {
    name: 'audienceSync-rerun-reset',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-rerun-reset', client, taskQueue, ctx, { tokenAtStart: true, record: 'rerun' }),
  },
  { name: 'audienceSyncPreview-first-sync', run: (client, taskQueue, ctx) => previewScenario('audienceSyncPreview-first-sync', client, taskQueue, ctx) },
  {
    // With alerts (patched('alerts')): the reauthorization park is announced entered and
    // cleared by notices posted while the cycle waits.
    name: 'audienceSync-alerts',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-alerts', client, taskQueue, ctx, { tokenAtStart: false }),
  },
  {
    // A create answered late (create-marker): the retry's create, the late one deleted by the next cycle's stray check.
    name: 'audienceSync-late-create',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-late-create', client, taskQueue, ctx, { tokenAtStart: true, record: 'late-create' }),
  },
  {
    name: 'audienceSync-paused',
    run: (client, taskQueue, ctx) => audienceScenario('audienceSync-paused', client, taskQueue, ctx, { tokenAtStart: true, record: 'paused' }),
  },
  {
    name: 'healthCheck-signals',
    async run(client, taskQueue) {
      const h = await client.workflow.start(healthCheck, {
        taskQueue,
        workflowId: 'healthCheck-signals',
        args: [{ timer: '200ms', waitForReleaseUpTo: '1m', note: 'recorded' }],
      });
      await until(async () => (await h.query(healthStatusQuery)).phase === 'awaiting_release');
      await h.signal(healthPingSignal);
      await until(async () => (await h.query(healthStatusQuery)).pings === 2);
      await h.signal(healthReleaseSignal);
      await h.result();
      return h;
    },
  },
  {
    name: 'healthCheck-plain',
    async run(client, taskQueue) {
      const h = await client.workflow.start(healthCheck, { taskQueue, workflowId: 'healthCheck-plain', args: [{ timer: '200ms' }] });
      await h.result();
      return h;
    },
  },
  {
    // What a schedule starts: the tick's activity starts the destination's audienceSync
    // (idle: this config has no storage.snapshot, so there is nothing to sync yet).
    name: 'audienceSyncTick-start',
    async run(client, taskQueue) {
      const config = {
        destinationId: 'history-tick',
        advertiserId: '7000000000000000003',
        audienceName: 'ttsync history tick',
        action: 'create' as const,
        identifiers: { email: 'email' as const },
        accessToken: 'env:TTSYNC_HISTORY_SCENARIO_TOKEN',
        sourceSegmentId: 'history-tick-segment',
      };
      const h = await client.workflow.start(audienceSyncTick, { taskQueue, workflowId: 'audienceSyncTick-start', args: [{ config, timing: { cadence: '1h' } }] });
      const r = await h.result();
      if (!r.started) throw new Error(`tick scenario did not start the audience sync: ${JSON.stringify(r)}`);
      await client.workflow.getHandle(r.workflowId).terminate('history recorded');
      return h;
    },
  },
  { name: 'sanMigration-lifecycle', run: (client, taskQueue, ctx) => sanMigrationScenario(client, taskQueue, ctx) },
  { name: 'usageReport-month', run: (client, taskQueue, ctx) => usageScenario('report', client, taskQueue, ctx) },
  { name: 'usageReportTick-start', run: (client, taskQueue, ctx) => usageScenario('monthlyTick', client, taskQueue, ctx) },
  { name: 'usageTargetingTick-record', run: (client, taskQueue, ctx) => usageScenario('targetingTick', client, taskQueue, ctx) },
];
