import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type ActivityInterceptorsFactory, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { PayloadCodec } from '@temporalio/common';
import { connectClient, connectNative, loadTemporalSettings, resolvePayloadCodec, type TemporalSettings } from './temporal/connection';
import { createNoticeService, noticeSettingsFromEnv } from './notices';
import { assertSearchAttributesRegistered } from './temporal/searchAttributes';
import { hostname } from 'node:os';
import { setProcessWorkerShare } from './tiktok/rateLimiter';
import { startWorkerShare } from './temporal/workerShare';
import { EVENTS_TASK_QUEUE, TIKTOK_MEMBERS_TASK_QUEUE, TaskQueues, type TaskQueueRole, ALL_TASK_QUEUE_ROLES } from './temporal/taskQueues';
import { PROJECT_ROOT } from './paths';
import { gcsDeadlinesFromEnv } from './storage';
import { applyHeapGrowth, heapGrowingPercentFromEnv } from './process/heapGrowth';
import { VERSION } from './version';

export interface WorkerConfig {
  /** Where to connect (default: the `temporal` CLI's profile and TEMPORAL_* variables). */
  temporal?: TemporalSettings;
  /** Which task queues this process polls; all by default. */
  roles?: TaskQueueRole[];
  /** Overrides for task queue names (tests use unique queues). */
  taskQueues?: Partial<Record<TaskQueueRole, string>>;
  /** How long in-flight activities may run after SIGINT/SIGTERM before they are cancelled. */
  shutdownGraceTime?: string;
  /** Use a prebuilt bundle (production) instead of bundling workflows/ at start-up. */
  workflowBundlePath?: string;
  /** Skip the search-attribute check (only for servers that forbid the operator API). */
  skipSearchAttributeCheck?: boolean;
  connection?: NativeConnection;
  /**
   * The Events API queue, polled with the `tiktok` role (default ttsync-events), and the
   * activities per second the Temporal server lets that queue start across all workers
   * (default TTSYNC_EVENTS_ACTIVITIES_PER_SECOND, else 40: each sends up to 20 requests, so
   * 40/s stays within TikTok's 1,000 requests per second per app).
   */
  events?: { taskQueue?: string; activitiesPerSecond?: number };
  /** Dependencies of the data-plane and TikTok activities (tests point them at the emulator and temp dirs). */
  activityDeps?: Omit<ActivityDeps, 'health'>;
  /** Payload encryption (default: TTSYNC_PAYLOAD_KEYS's keys when set; null: none). */
  payloadCodec?: PayloadCodec | null;
  /**
   * How this process appears in the history (ActivityTaskStarted, WorkflowTaskStarted) and
   * in a queue's pollers; default the SDK's `<pid>@<host>`.
   */
  identity?: string;
  /** The idle queue whose pollers are the live workers sharing TikTok's limits (TIKTOK_QPS_WORKERS=auto); tests use unique ones. */
  tiktokMembersTaskQueue?: string;
  /** Activities each task queue of this process runs at once (the SDK's default otherwise): bounds a data worker's memory. */
  maxConcurrentActivities?: number;
  /** Around every activity this process runs (a benchmark times the data plane's activities with them). */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

export function workflowsPath(): string {
  // In dev we point webpack at the TypeScript sources; the compiled dist/ tree also works.
  const ts = join(PROJECT_ROOT, 'workflows', 'index.ts');
  return existsSync(ts) ? ts : join(PROJECT_ROOT, 'dist', 'workflows', 'index.js');
}

export function defaultWorkflowBundlePath(): string {
  return join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
}

/**
 * Production (NODE_ENV=production or TTSYNC_WORKFLOW_BUNDLE set) loads the prebuilt bundle,
 * so workers start in a second and every worker runs byte-identical workflow code.
 */
export function workflowSource(cfg: WorkerConfig): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle =
    cfg.workflowBundlePath ??
    process.env.TTSYNC_WORKFLOW_BUNDLE ??
    (process.env.NODE_ENV === 'production' ? defaultWorkflowBundlePath() : undefined);
  if (bundle) {
    if (!existsSync(bundle)) throw new Error(`workflow bundle ${bundle} is missing; build it with npm run build`);
    return { workflowBundle: { codePath: bundle } };
  }
  return { workflowsPath: workflowsPath() };
}

export interface RunningWorkers {
  workers: Worker[];
  /** Where they connected. */
  temporal: TemporalSettings;
  /** Resolves when every worker has stopped (after shutdown, or a fatal error). */
  done: Promise<void>;
  shutdown(): void;
  /** The key id that encrypts payloads, when encryption is on. */
  encryption?: string;
}

export async function createWorkers(cfg: WorkerConfig = {}): Promise<RunningWorkers> {
  const temporal = cfg.temporal ?? loadTemporalSettings();
  // Every GCS store an activity opens reads these; a bad value stops the worker here, once,
  // instead of failing each activity that touches a bucket.
  gcsDeadlinesFromEnv();
  const roles = cfg.roles ?? ALL_TASK_QUEUE_ROLES;
  // The data plane's buffers: fewer full collections for a little more memory (src/process/heapGrowth.ts).
  if (roles.includes('data')) applyHeapGrowth(heapGrowingPercentFromEnv());
  const codec = await resolvePayloadCodec(cfg.payloadCodec);
  const dataConverter = codec ? { dataConverter: { payloadCodecs: [codec] } } : {};
  if (!cfg.skipSearchAttributeCheck) {
    const client = await connectClient(temporal, { payloadCodec: null });
    try {
      await assertSearchAttributesRegistered(client.connection.operatorService, temporal.namespace);
    } finally {
      await client.connection.close();
    }
  }
  const connection = cfg.connection ?? (await connectNative(temporal));
  // Schedule ticks signal the audience sync workflows through the worker's own connection.
  const temporalClient = new Client({ connection, namespace: temporal.namespace, ...dataConverter });
  const audienceControl = cfg.activityDeps?.audienceControl ?? { client: temporalClient };
  const eventsControl = cfg.activityDeps?.eventsControl ?? { client: temporalClient };
  const retentionControl = cfg.activityDeps?.retentionControl ?? { client: temporalClient };
  const usageControl = cfg.activityDeps?.usageControl ?? { client: temporalClient };
  // Notice links name the namespace the worker really serves (a TOML profile may set it, not only the env).
  const notices = cfg.activityDeps?.notices ?? { service: () => createNoticeService(noticeSettingsFromEnv({ ...process.env, TEMPORAL_NAMESPACE: temporal.namespace })) };
  const activities = createActivities({ ...cfg.activityDeps, audienceControl, eventsControl, retentionControl, usageControl, notices, health: { version: VERSION } });
  const shutdownGraceTime = cfg.shutdownGraceTime ?? process.env.TTSYNC_SHUTDOWN_GRACE ?? '30s';
  const source = roles.includes('control') ? workflowSource(cfg) : {};

  const perProcess = {
    ...(cfg.identity ? { identity: cfg.identity } : {}),
    ...(cfg.maxConcurrentActivities ? { maxConcurrentActivityTaskExecutions: cfg.maxConcurrentActivities } : {}),
    ...(cfg.activityInterceptors?.length ? { interceptors: { activity: cfg.activityInterceptors } } : {}),
  };
  const workers: Worker[] = [];
  for (const role of roles) {
    const taskQueue = cfg.taskQueues?.[role] ?? TaskQueues[role];
    workers.push(
      await Worker.create({
        connection,
        namespace: temporal.namespace,
        taskQueue,
        // Workflows run only on the control queue; data and TikTok queues are activity-only.
        ...(role === 'control' ? source : {}),
        activities,
        shutdownGraceTime,
        ...perProcess,
        ...dataConverter,
      }),
    );
  }
  if (roles.includes('tiktok')) {
    const perSecond = cfg.events?.activitiesPerSecond ?? Number(process.env.TTSYNC_EVENTS_ACTIVITIES_PER_SECOND ?? 40);
    if (!(perSecond > 0)) throw new Error('TTSYNC_EVENTS_ACTIVITIES_PER_SECOND must be a positive number');
    workers.push(
      await Worker.create({
        connection,
        namespace: temporal.namespace,
        taskQueue: cfg.events?.taskQueue ?? EVENTS_TASK_QUEUE,
        activities,
        shutdownGraceTime,
        // Enforced by the server across every worker polling the queue: the cluster-wide limit.
        maxTaskQueueActivitiesPerSecond: perSecond,
        ...perProcess,
        ...dataConverter,
      }),
    );
  }
  let stopShare = () => undefined as void;
  // TIKTOK_QPS_WORKERS=auto: this process's share of TikTok's per-app limits follows the live worker count.
  if (roles.includes('tiktok') && process.env.TIKTOK_QPS_WORKERS?.trim() === 'auto') {
    const share = await startWorkerShare({
      connection,
      namespace: temporal.namespace,
      taskQueue: cfg.tiktokMembersTaskQueue ?? TIKTOK_MEMBERS_TASK_QUEUE,
      identity: cfg.identity ?? `${process.pid}@${hostname()}`,
      log: (line) => process.stderr.write(`ttsync worker: ${line}\n`),
    });
    setProcessWorkerShare(share);
    workers.push(share.worker);
    stopShare = () => {
      share.stop();
      setProcessWorkerShare(undefined);
    };
  }
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    stopShare();
    if (!cfg.connection) await connection.close();
  });
  // The SDK Runtime may already have begun shutting a worker down on SIGINT/SIGTERM;
  // shutdown() throws unless the worker is RUNNING, so ask only those that still are.
  const shutdown = () => workers.filter((w) => w.getState() === 'RUNNING').forEach((w) => w.shutdown());
  const encryption = codec && 'encryptingKeyId' in codec ? String(codec.encryptingKeyId) : undefined;
  return { workers, temporal, done, shutdown, ...(encryption ? { encryption } : {}) };
}

/** Entry for `ttsync worker`: runs until SIGINT/SIGTERM, then drains gracefully. */
export async function runWorker(cfg: WorkerConfig = {}): Promise<void> {
  // The SDK's default Runtime already turns SIGINT/SIGTERM into a graceful shutdown of every
  // worker: polling stops, in-flight tasks get shutdownGraceTime, then activities are cancelled.
  const running = await createWorkers(cfg);
  const queues = running.workers.map((w) => w.options.taskQueue).join(', ');
  const t = running.temporal;
  process.stderr.write(`ttsync worker ${VERSION}${cfg.identity ? ` (${cfg.identity})` : ''} polling ${queues} on ${t.address}, namespace ${t.namespace} (${t.source})${running.encryption ? `; payloads encrypted with key ${running.encryption}` : ''}\n`);
  await running.done;
  process.stderr.write('ttsync worker stopped\n');
}
