import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import type { EmulatorOptionsInput, RunningEmulator } from '../../src/emulator';
import { requestEventsExport, waitForEventsRun } from '../../src/events-export/client';
import type { EventsDestinationConfigInput } from '../../src/events-export/config';
import type { EventsExportStatus, EventsInputObject } from '../../src/events-export/messages';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import type { TemporalSettings } from '../../src/temporal/connection';
import type { TikTokEnv } from '../../src/tiktok';
import { createWorkers, type RunningWorkers } from '../../src/worker';
import { createNoticeService, NoticeOutbox } from '../../src/notices';
import { openBlobStore } from '../../src/storage';
import { emulatorControl, emulatorFor } from '../integration/tiktok/helpers';
import { temporalClient, testTemporal, uniqueId } from './temporal';

/*
 * The setup every events export integration test shares: its own TikTok emulator, a temp
 * dir, a client of the test dev server and ONE set of real workers (control, data, TikTok
 * with the events queue) on unique queues, with the events activities pointed at the
 * emulator and the temp dir.
 */

export interface EmulatedEvent {
  receivedAt: number;
  eventSource: string;
  eventSourceId: string;
  event: string;
  eventTime: number;
  eventId: string | null;
  testEventCode: string | null;
  deduplicated: boolean;
  payload: Record<string, unknown>;
}

export interface SourceInspection {
  event_source_id: string;
  advertiser_id: string | null;
  received: number;
  deduplicated: number;
  rejected: number;
  rejectedRequests: number;
  events: EmulatedEvent[];
}

export interface EventsHarness {
  readonly emu: RunningEmulator;
  readonly dir: string;
  readonly client: Client;
  readonly taskQueue: string;
  readonly queues: { data: string; events: string };
  /** The TikTok role's own queue (audience calls): nothing here uses it, but `doctor` checks it. */
  readonly tiktokQueue: string;
  /** Workflow ids started, for history checks. */
  readonly started: string[];
  control<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** The token of one event source, put in the env var `envVar`. */
  sourceToken(eventSourceId: string, advertiserId: string, envVar: string): Promise<string>;
  source(eventSourceId: string): Promise<SourceInspection>;
  /** The notices outbox the workers post alerts to (no route: kept, sent nowhere). */
  outbox(): NoticeOutbox;
  /** Requests an export (starting the workflow when missing) and waits for its run. */
  exportAndWait(config: EventsDestinationConfigInput, input?: EventsInputObject, timeoutMs?: number): Promise<{ status: EventsExportStatus; ok: boolean }>;
}

export function useEventsHarness(opts: {
  name: string;
  emulator?: EmulatorOptionsInput;
  tiktokEnv?: Partial<TikTokEnv>;
  /** Another dev server than the suite's (the Web UI test runs its own, which serves the UI). */
  temporal?: () => TemporalSettings;
}): EventsHarness {
  let emu: RunningEmulator | undefined;
  let dir: string | undefined;
  let client: Client | undefined;
  let workers: RunningWorkers | undefined;
  let native: NativeConnection | undefined;
  const envVars: string[] = [];
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error(`the ${opts.name} harness is used before its beforeAll ran`);
    return v;
  };
  const h: EventsHarness = {
    get emu() {
      return ready(emu);
    },
    get dir() {
      return ready(dir);
    },
    get client() {
      return ready(client);
    },
    taskQueue: uniqueId(`${opts.name}-control`),
    queues: { data: uniqueId(`${opts.name}-data`), events: uniqueId(`${opts.name}-events`) },
    tiktokQueue: uniqueId(`${opts.name}-tiktok`),
    started: [],
    control: <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(h.emu, method, path, body),
    sourceToken: async (eventSourceId, advertiserId, envVar) => {
      const { access_token } = await h.control<{ access_token: string }>('POST', 'event-source-tokens', { event_source_id: eventSourceId, advertiser_id: advertiserId });
      process.env[envVar] = access_token;
      envVars.push(envVar);
      return access_token;
    },
    source: (id) => h.control<SourceInspection>('GET', `event-sources/${encodeURIComponent(id)}`),
    outbox: () => new NoticeOutbox(openBlobStore(join(h.dir, 'notices'))),
    exportAndWait: async (config, input, timeoutMs = 90_000) => {
      const r = await requestEventsExport(h.client, { config, ...(input ? { input } : {}), taskQueue: h.taskQueue, queues: h.queues, timing: { cadence: '1h', heartbeatTimeout: '30s' } });
      const id = WorkflowIds.eventsExport(config.destinationId);
      if (!h.started.includes(id)) h.started.push(id);
      return waitForEventsRun(h.client, config.destinationId, r.requestId, { timeoutMs, pollMs: 200 });
    },
  };

  beforeAll(async () => {
    emu = await emulatorFor(opts.emulator ?? {});
    dir = mkdtempSync(join(tmpdir(), `ttsync-${opts.name}-`));
    const temporal = opts.temporal?.() ?? testTemporal();
    client = await temporalClient(temporal);
    native = await NativeConnection.connect({ address: temporal.address });
    workers = await createWorkers({
      temporal,
      connection: native,
      roles: ['control', 'data', 'tiktok'],
      taskQueues: { control: h.taskQueue, data: h.queues.data, tiktok: h.tiktokQueue },
      events: { taskQueue: h.queues.events, activitiesPerSecond: 200 },
      shutdownGraceTime: '1s',
      activityDeps: {
        notices: { service: () => createNoticeService({ storeUri: join(h.dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: temporal.namespace }) },
        eventsExport: {
          defaultWorkdir: join(dir, 'work'),
          tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_EVENTS_QPS: 1000, TIKTOK_MAX_ATTEMPTS: 3, TIKTOK_TIMEOUT_MS: 5000, ...opts.tiktokEnv },
        },
      },
    });
  });

  afterAll(async () => {
    // Workflows keep waiting for inputs: end them so the server does not hold them for the next file.
    for (const id of h.started) await client?.workflow.getHandle(id).terminate('test file done').catch(() => undefined);
    workers?.shutdown();
    await workers?.done;
    await native?.close();
    await client?.connection.close();
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const v of envVars) delete process.env[v];
  });

  return h;
}
