import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { cycleSummary, getAudienceStatus, isSuccess, requestAudienceSync, waitForAudienceCycle, type AudienceCycleSummary } from '../client';
import type { DestinationConfigInput } from '../config';
import { workflowUiUrl } from '../../temporal/uiLinks';
import { WorkflowIds } from '../../temporal/workflowIds';
import type { AudienceSyncStatus, AudienceSyncTiming } from '../messages';
import { TikTokClient } from '../../tiktok';
import { emulatorAudience, seedAdvertiserToken } from './emulatorControl';
import { SYNTHETIC_COLUMNS, SYNTHETIC_DEFAULT_COUNTRY, churned, expectedValues, peopleOf, writeSyntheticSnapshot, type SyntheticSpec, type SyntheticStats } from './synthetic';

/*
 * The quickstart demo: a synthetic audience synced to the TikTok emulator by the real
 * audienceSync workflow, on whatever stack the client, the emulator URL and the queues name
 * (`ttsync dev --demo` runs it on the dev stack it starts; tests on theirs). Two snapshots:
 * a first sync, then one with people leaving and entering. It drives the workflow through
 * src/audience-sync/client (signalWithStart + status polling), exactly as the CLI does.
 */

export const DEMO_DEFAULTS = {
  /** People in the first snapshot (each has an email, most a phone, two in three a MAID). */
  people: 60_000,
  /** One invalid row (rotating through six reject reasons) per this many people. */
  invalidEvery: 500,
  /** Share of people who leave between the snapshots; as many new people enter. */
  churn: 0.05,
  advertiserId: '7000000000000000001',
  destinationId: 'demo',
  /** Short processing polls: the emulator's processing takes seconds, not TikTok's hours. */
  timing: { cadence: '1h', pollInitial: '250ms', pollMax: '2s' } satisfies AudienceSyncTiming,
  cycleTimeoutMs: 10 * 60_000,
};

export interface DemoOptions {
  client: Client;
  namespace: string;
  /** The TikTok emulator the stack's workers talk to (its /_emulator/ control API). */
  emulatorUrl: string;
  /** The demo's folder: snapshots, the token file, the destination's workdir. Wiped at start. */
  dir: string;
  /** Temporal Web UI base, e.g. http://127.0.0.1:8233. */
  uiUrl: string;
  people?: number;
  churn?: number;
  destinationId?: string;
  advertiserId?: string;
  /** Control task queue, and the data/TikTok queues (tests use unique ones). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
  cycleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DemoSync {
  snapshot: SyntheticStats & { spec: SyntheticSpec; uri: string };
  /** Valid ids in the snapshot, by the generator's own account. */
  expectedIds: number;
  status: AudienceSyncStatus;
  summary: AudienceCycleSummary;
  seconds: number;
}

export interface DemoResult {
  destinationId: string;
  advertiserId: string;
  workflowId: string;
  workflowUrl: string;
  audienceId: string;
  audienceName: string;
  /** The emulator's own count of ids in the audience, and its cover_num. */
  emulatorSize: number;
  coverNum: number;
  syncs: DemoSync[];
  dir: string;
  workdir: string;
}

/** Ids a snapshot holds: every person's email, and their phone and MAID when they have one. */
export function expectedIdCount(spec: SyntheticSpec): number {
  let n = 0;
  for (const i of peopleOf(spec)) {
    const v = expectedValues(i);
    n += 1 + (v.phone === null ? 0 : 1) + (v.maid === null ? 0 : 1);
  }
  return n;
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return workflowUiUrl(uiUrl, namespace, workflowId);
}

/** UTC seconds, digits and one hyphen, so each demo run's audience name is new. */
const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/**
 * A previous demo run of this destination is ended, so this one starts from an empty
 * workdir; returns the audience it had made, if any.
 */
async function endPreviousRun(client: Client, destinationId: string): Promise<{ ended: boolean; audienceId: string | null }> {
  const handle = client.workflow.getHandle(WorkflowIds.audienceSync(destinationId));
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return { ended: false, audienceId: null };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { ended: false, audienceId: null };
    throw err;
  }
  const audienceId = await getAudienceStatus(client, destinationId).then(
    (s) => s.audienceId,
    () => null,
  );
  await handle.terminate('a new demo run starts from scratch');
  return { ended: true, audienceId };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = opts.log ?? (() => undefined);
  const destinationId = opts.destinationId ?? DEMO_DEFAULTS.destinationId;
  const advertiserId = opts.advertiserId ?? DEMO_DEFAULTS.advertiserId;
  const workflowId = WorkflowIds.audienceSync(destinationId);
  const people = opts.people ?? DEMO_DEFAULTS.people;
  if (!Number.isSafeInteger(people) || people < 1) throw new Error(`people must be a positive whole number, not ${people}`);

  const previous = await endPreviousRun(opts.client, destinationId);
  if (previous.ended) log(`ended the previous demo run of ${workflowId}`);
  const snapshotsDir = join(opts.dir, 'snapshots');
  const workdir = join(opts.dir, 'work');
  await rm(snapshotsDir, { recursive: true, force: true });
  await rm(workdir, { recursive: true, force: true });
  await mkdir(opts.dir, { recursive: true });

  // The token goes to a file the worker reads (file: reference): workers in another process
  // see it too, and it never enters workflow history.
  const token = await seedAdvertiserToken(opts.emulatorUrl, advertiserId, 'ttsync demo advertiser');
  const tokenFile = join(opts.dir, 'tiktok-access-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  await chmod(tokenFile, 0o600);
  if (previous.audienceId) {
    // Its audience goes too (through the API, as an operator would), so repeated demos do not
    // pile up audiences in the emulator's saved state.
    const tiktok = new TikTokClient({ accessToken: token, env: { TIKTOK_API_BASE_URL: `${opts.emulatorUrl.replace(/\/+$/, '')}/open_api/v1.3` } });
    await tiktok.deleteAudiences({ advertiserId, audienceIds: [previous.audienceId] }).then(
      () => log(`deleted the previous demo audience ${previous.audienceId}`),
      (err: unknown) => log(`could not delete the previous demo audience ${previous.audienceId}: ${(err as Error).message}`),
    );
  }

  const audienceName = `ttsync demo ${stamp(new Date())}`;
  const config: DestinationConfigInput = {
    destinationId,
    advertiserId,
    audienceName,
    action: 'create',
    identifiers: { [SYNTHETIC_COLUMNS.email]: 'email', [SYNTHETIC_COLUMNS.phone]: 'phone', [SYNTHETIC_COLUMNS.maid]: 'maid' },
    defaultCountry: SYNTHETIC_DEFAULT_COUNTRY,
    accessToken: `file:${tokenFile}`,
    sourceSegmentId: 'ttsync-demo-synthetic',
    maxProcessingWait: '5m',
    storage: { workdir },
  };

  const first: SyntheticSpec = { people, invalidEvery: DEMO_DEFAULTS.invalidEvery };
  const specs = [first, churned(first, opts.churn ?? DEMO_DEFAULTS.churn)];
  const syncs: DemoSync[] = [];
  for (const [n, spec] of specs.entries()) {
    const path = join(snapshotsDir, `audience-${n + 1}.csv`);
    const stats = await writeSyntheticSnapshot(path, spec);
    log(`snapshot ${n + 1}: ${stats.rows.toLocaleString('en-US')} rows written to ${path}`);
    const uri = pathToFileURL(path).href;
    const t0 = performance.now();
    const req = await requestAudienceSync(opts.client, {
      config,
      snapshot: { uri },
      ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
      ...(opts.queues ? { queues: opts.queues } : {}),
      timing: opts.timing ?? DEMO_DEFAULTS.timing,
    });
    if (n === 0) log(`workflow ${workflowId}: ${workflowUrl(opts.uiUrl, opts.namespace, workflowId)}`);
    const status = await waitForAudienceCycle(opts.client, destinationId, req.cyclesBefore, {
      requestId: req.requestId,
      pollMs: 250,
      timeoutMs: opts.cycleTimeoutMs ?? DEMO_DEFAULTS.cycleTimeoutMs,
      onStatus: (s) => {
        if (s.currentRunId !== null) log(`sync ${n + 1}: ${s.phase}${s.advice ? ` (${s.advice})` : ''}`);
      },
    });
    const summary = cycleSummary(status);
    if (!isSuccess(status))
      throw new Error(`demo sync ${n + 1} ended in ${status.phase}: ${status.lastError?.message ?? status.advice ?? 'no error recorded'} (see ${workflowUrl(opts.uiUrl, opts.namespace, workflowId)})`);
    syncs.push({ snapshot: { ...stats, spec, uri }, expectedIds: expectedIdCount(spec), status, summary, seconds: (performance.now() - t0) / 1000 });
  }

  const last = syncs[syncs.length - 1]!.status;
  const audienceId = last.audienceId;
  if (!audienceId) throw new Error('the demo syncs finished without an audience id');
  const audience = await emulatorAudience(opts.emulatorUrl, audienceId);
  return {
    destinationId,
    advertiserId,
    workflowId,
    workflowUrl: workflowUrl(opts.uiUrl, opts.namespace, workflowId),
    audienceId,
    // As TikTok holds it: the configured name and the create's marker (createMarker.ts).
    audienceName: audience.name,
    emulatorSize: audience.size,
    coverNum: audience.cover_num,
    syncs,
    dir: opts.dir,
    workdir,
  };
}
