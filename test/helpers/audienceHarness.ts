import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import type { DestinationConfigInput } from '../../src/audience-sync/config';
import type { EmulatorOptionsInput, RunningEmulator } from '../../src/emulator';
import type { NoticeActivityDeps } from '../../activities/notices';
import { createNoticeService } from '../../src/notices';
import { DEFAULT_UI_URL } from '../../src/temporal/uiLinks';
import { openBlobStore } from '../../src/storage';
import type { TaskQueueRole } from '../../src/temporal/taskQueues';
import { createWorkers, type RunningWorkers } from '../../src/worker';
import { audienceSync } from '../../workflows/index';
import { type AudienceSyncInput } from '../../src/audience-sync/messages';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import type { TemporalSettings } from '../../src/temporal/connection';
import { emulatorControl, emulatorFor } from '../integration/tiktok/helpers';
import { temporalClient, testTemporal, uniqueId } from './temporal';

/*
 * The setup every audience sync integration test shares: its own TikTok emulator, a temp
 * dir, a client of the test dev server and ONE set of real workers (control, data, TikTok)
 * on unique queues for the file (bundling the workflows once keeps a file fast), with
 * activityDeps pointing at the emulator and the temp dir. useAudienceHarness registers the
 * beforeAll/afterAll that start and stop it all; the returned object is usable inside tests
 * and hooks registered after it (its methods may be destructured at module level).
 */

export const DEFAULT_TIMING = { cadence: '1h', pollInitial: '100ms', pollMax: '1s' };

/** One request in the emulator's call log (GET /_emulator/calls). */
export interface EmulatorCall {
  seq: number;
  path: string;
  code: number | null;
  httpStatus: number | null;
  outcome: string;
}

export interface AudienceHarnessOptions {
  /** Names the temp dir, the task queues and (by default) the destination ids. */
  name: string;
  emulator: EmulatorOptionsInput;
  /** The env var destinations name as their accessToken; issueToken fills it, the file's end removes it. */
  tokenVar?: string;
  /** First digits of the advertiser ids newAdvertiser makes. */
  advertiserPrefix?: string;
  destinations?: {
    idPrefix?: string;
    /** Audience names are `ttsync <label> <destinationId>`. */
    label?: string;
    /** Default: email and phone columns, US phones. */
    identifiers?: Pick<DestinationConfigInput, 'identifiers' | 'defaultCountry'>;
    /** Default: <temp dir>/<destinationId>/work. */
    workdir?: (destinationId: string) => string;
  };
  /** Runs once the emulator, temp dir and client exist, before the workers start. */
  beforeWorkers?: (h: AudienceHarness) => Promise<void>;
  /** Where the TikTok activities send their requests (read after beforeWorkers); the emulator by default. */
  tiktokApiBaseUrl?: () => string;
  tiktokTimeoutMs?: number;
  /** Keep segment claims in <temp dir>/registry. */
  segmentRegistry?: boolean;
  /** Only the control worker here (the data and TikTok activities run elsewhere), from the prebuilt bundle when given. */
  controlOnly?: { workflowBundlePath: string };
  /** Another Temporal server than the run's shared one (read in beforeAll, e.g. one the file started with the Web UI). */
  temporal?: () => TemporalSettings;
  /** The notices outbox and adapters (read after beforeWorkers); default an outbox in <temp dir>/notices with no route. */
  notices?: () => NoticeActivityDeps;
}

export interface AudienceHarness {
  readonly emu: RunningEmulator;
  readonly dir: string;
  readonly client: Client;
  readonly taskQueue: string;
  readonly queues: { data: string; tiktok: string };
  /** Every workflow start() started, with its first run: for checks over all their runs. */
  readonly started: { workflowId: string; firstRunId: string }[];
  /** Every token issueToken issued. */
  readonly tokens: string[];
  control<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** A token for these advertisers, put in the destinations' env var. */
  issueToken(...advertiserIds: string[]): Promise<string>;
  newAdvertiser(): string;
  destination(advertiserId: string, extra?: Partial<DestinationConfigInput>): DestinationConfigInput;
  /** Starts the destination's workflow on this file's queues; the handle follows continue-as-new. */
  start(input: Omit<AudienceSyncInput, 'queues' | 'timing'>, timing?: AudienceSyncInput['timing']): Promise<WorkflowHandle<typeof audienceSync>>;
  /** The digests an audience holds in the emulator, sorted. */
  audienceIds(audienceId: string): Promise<string[]>;
  /** The last sequence number in the emulator's call log (0 when empty). */
  callSeq(): Promise<number>;
  callsSince(seq: number): Promise<EmulatorCall[]>;
}

export function useAudienceHarness(opts: AudienceHarnessOptions): AudienceHarness {
  let emu: RunningEmulator | undefined;
  let dir: string | undefined;
  let client: Client | undefined;
  let workers: RunningWorkers | undefined;
  let native: NativeConnection | undefined;
  const d = opts.destinations ?? {};
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error(`the ${opts.name} harness is used before its beforeAll ran`);
    return v;
  };
  const h: AudienceHarness = {
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
    queues: { data: uniqueId(`${opts.name}-data`), tiktok: uniqueId(`${opts.name}-tiktok`) },
    started: [],
    tokens: [],
    control: <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(h.emu, method, path, body),
    issueToken: async (...advertiserIds: string[]): Promise<string> => {
      const { access_token } = await h.control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: advertiserIds });
      h.tokens.push(access_token);
      if (opts.tokenVar) process.env[opts.tokenVar] = access_token;
      return access_token;
    },
    newAdvertiser: (): string => `${opts.advertiserPrefix ?? '72'}${String(randomBytes(6).readUIntBE(0, 6)).padStart(16, '0')}`,
    destination: (advertiserId: string, extra: Partial<DestinationConfigInput> = {}): DestinationConfigInput => {
      const destinationId = uniqueId(d.idPrefix ?? opts.name).toLowerCase();
      return {
        destinationId,
        advertiserId,
        audienceName: `ttsync ${d.label ?? opts.name} ${destinationId}`,
        action: 'create',
        ...(d.identifiers ?? { identifiers: { email: 'email', phone: 'phone' }, defaultCountry: 'US' }),
        accessToken: `env:${opts.tokenVar ?? 'TTSYNC_TEST_TOKEN'}`,
        sourceSegmentId: `segment-${destinationId}`,
        maxProcessingWait: '1m',
        storage: { workdir: d.workdir ? d.workdir(destinationId) : join(h.dir, destinationId, 'work') },
        ...extra,
      };
    },
    start: async (input: Omit<AudienceSyncInput, 'queues' | 'timing'>, timing: AudienceSyncInput['timing'] = DEFAULT_TIMING) => {
      const workflowId = WorkflowIds.audienceSync(input.config.destinationId);
      const first = await h.client.workflow.start(audienceSync, { taskQueue: h.taskQueue, workflowId, args: [{ ...input, queues: h.queues, timing }] });
      h.started.push({ workflowId, firstRunId: first.firstExecutionRunId });
      return h.client.workflow.getHandle<typeof audienceSync>(workflowId);
    },
    audienceIds: async (audienceId: string): Promise<string[]> => (await h.control<{ ids: string[] }>('GET', `audiences/${audienceId}`)).ids.sort(),
    callSeq: async (): Promise<number> => Math.max(0, ...(await h.control<{ calls: { seq: number }[] }>('GET', 'calls')).calls.map((c) => c.seq)),
    callsSince: async (seq: number): Promise<EmulatorCall[]> => (await h.control<{ calls: EmulatorCall[] }>('GET', `calls?since=${seq}`)).calls,
  };

  beforeAll(async () => {
    emu = await emulatorFor(opts.emulator);
    dir = mkdtempSync(join(tmpdir(), `ttsync-${opts.name}-`));
    const temporal = opts.temporal?.() ?? testTemporal();
    client = await temporalClient(temporal);
    await opts.beforeWorkers?.(h);
    native = await NativeConnection.connect({ address: temporal.address });
    const roles: TaskQueueRole[] = opts.controlOnly ? ['control'] : ['control', 'data', 'tiktok'];
    workers = await createWorkers({
      temporal,
      connection: native,
      roles,
      taskQueues: { control: h.taskQueue, ...h.queues },
      shutdownGraceTime: '1s',
      ...(opts.controlOnly
        ? { workflowBundlePath: opts.controlOnly.workflowBundlePath }
        : {
            activityDeps: {
              audienceData: {
                openStore: (uri: string) => openBlobStore(uri),
                defaultWorkdir: join(h.dir, 'default-work'),
                ...(opts.segmentRegistry ? { segmentRegistry: join(h.dir, 'registry') } : {}),
              },
              tiktokAudience: {
                tiktokEnv: {
                  TIKTOK_API_BASE_URL: opts.tiktokApiBaseUrl ? opts.tiktokApiBaseUrl() : h.emu.apiBaseUrl,
                  TIKTOK_QPS: 1000,
                  TIKTOK_MAX_ATTEMPTS: 2,
                  TIKTOK_TIMEOUT_MS: opts.tiktokTimeoutMs ?? 5000,
                },
              },
              // Alerts go to the file's own outbox, never to the checkout's .data/.
              notices: opts.notices?.() ?? {
                service: () => createNoticeService({ storeUri: join(h.dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: DEFAULT_UI_URL, namespace: temporal.namespace }),
              },
            },
          }),
    });
  });

  afterAll(async () => {
    workers?.shutdown();
    await workers?.done;
    await native?.close();
    await client?.connection.close();
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (opts.tokenVar) delete process.env[opts.tokenVar];
  });

  return h;
}
