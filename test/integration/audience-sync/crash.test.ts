import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultWorkflowBundlePath } from '../../../src/worker';
import { audienceSyncStatusQuery, type AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { startHoldingProxy, type HoldingProxy, type ProxiedRequest } from '../../helpers/holdingProxy';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { testEnv } from '../../helpers/temporal';

/*
 * A worker killed with SIGKILL in the middle of prepare, of upload and of apply, then
 * restarted, still ends with the exact audience. The workflow's control worker runs here; the
 * data and TikTok activities run in a child process (test/fixtures/audience-worker.ts) that
 * the test kills at a moment it observes, never after a guessed sleep:
 *  - prepare: the child's read of the export stops at a chosen byte (the fixture's stall) and
 *    the activity's heartbeat with a checkpoint is visible in describe();
 *  - upload: the proxy in front of the emulator holds the 21st upload, and the heartbeat
 *    lists the 20 files before it;
 *  - apply: the proxy forwards the create, and later the first APPEND, to the emulator (TikTok
 *    applies it) and holds the answer.
 * Short heartbeat and call timeouts (timing input) let Temporal notice the dead worker in
 * seconds instead of minutes.
 */

const TOKEN_VAR = 'TTSYNC_TEST_CRASH_TOKEN';
const TIMING = { cadence: '1h', pollInitial: '100ms', pollMax: '1s', heartbeatTimeout: '2s', tiktokCallTimeout: '2s' };
// Small spill parts: prepare checkpoints every ~1,000 rows instead of every 64 MiB.
const TUNING = { maxBufferBytes: 64 << 10, maxRejectBytes: 8 << 10, checkpointIntervalMs: 60_000, readerPieceBytes: 16 << 10 };

let proxy: HoldingProxy;
let script: string;
const children = new Set<ChildProcessLines>();
beforeAll(() => {
  script = compileFixture('audience-worker');
});

// The child runs the compiled dist/ tree; the workflows run here from the bundle built from
// the same tree (and start in a second instead of bundling here).
const harness = useAudienceHarness({
  name: 'crash',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: TOKEN_VAR,
  controlOnly: { workflowBundlePath: defaultWorkflowBundlePath() },
  beforeWorkers: async (x) => {
    proxy = await startHoldingProxy(x.emu.apiBaseUrl);
  },
});
const { control: emuControl, newAdvertiser, destination, audienceIds, queues } = harness;
// The workflow ends its cycle in 45 s or the test fails with the last status.
const cycleEnd = (h: WorkflowHandle): Promise<AudienceSyncStatus> => waitForStatus(h, cycleDone(1), 45_000);
const start = (input: Parameters<typeof harness.start>[0]) => harness.start(input, TIMING);

/** Writes a CSV export of `ids`; bad rows near the start, in the middle and at the end. */
function writeExport(name: string, ids: number[]): { uri: string; size: number } {
  const rows = ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`);
  rows.splice(10, 0, 'not-an-email,');
  rows.splice(Math.floor(rows.length / 2), 0, '"broken"x,');
  rows.push(',123');
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...rows].join('\n') + '\n');
  return { uri: `file://${path}`, size: statSync(path).size };
}

interface EmulatorState {
  files: { path: string; advertiserId: string }[];
  audiences: { audience_id: string; advertiser_id: string; history: { action: string }[] }[];
}
const emulatorState = (): Promise<EmulatorState> => emuControl<EmulatorState>('GET', 'state');

/** A token for the advertiser, given only to the child worker (this process runs no activity). */
async function newToken(advertiserId: string): Promise<string> {
  return (await emuControl<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiserId] })).access_token;
}

/** A data + TikTok worker process for this advertiser's token. */
async function startChild(token: string, extra: Record<string, string> = {}): Promise<ChildProcessLines> {
  const env = testEnv();
  const child = await spawnFixture(script, {
    TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE,
    TIKTOK_API_BASE_URL: proxy.baseUrl,
    TIKTOK_QPS: '1000',
    TIKTOK_MAX_ATTEMPTS: '2',
    TIKTOK_TIMEOUT_MS: '5000',
    [TOKEN_VAR]: token,
    TTSYNC_FIXTURE_QUEUES: JSON.stringify(queues),
    TTSYNC_FIXTURE_TUNING: JSON.stringify(TUNING),
    ...extra,
  });
  children.add(child);
  return child;
}

async function kill(child: ChildProcessLines): Promise<void> {
  await child.stop('SIGKILL');
  children.delete(child);
}

/**
 * Polls describe() until the pending activity `type` has heartbeat details that `ok` accepts;
 * returns them. This is what a retry of the activity will resume from.
 */
async function waitForHeartbeat<T>(h: WorkflowHandle, type: string, ok: (details: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen: unknown;
  for (;;) {
    const pending = (await h.describe()).raw.pendingActivities ?? [];
    const a = pending.find((p) => p.activityType?.name === type);
    const payload = a?.heartbeatDetails?.payloads?.[0];
    if (payload) {
      seen = defaultPayloadConverter.fromPayload(payload as Payload);
      if (ok(seen as T)) return seen as T;
    }
    if (Date.now() > deadline) throw new Error(`no heartbeat of ${type} as expected; pending: ${JSON.stringify(pending.map((p) => p.activityType?.name))}, last details: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const isUpload = (r: ProxiedRequest): boolean => r.url.includes('/dmp/custom_audience/file/upload/');
const isUpdate = (r: ProxiedRequest): boolean => r.url.includes('/dmp/custom_audience/update/');
const isCreate = (r: ProxiedRequest): boolean => r.url.includes('/dmp/custom_audience/create/');
const jsonOf = (r: ProxiedRequest) => JSON.parse(r.body.toString('utf8')) as { action: string; file_paths: string[] };
const codeOf = (r: ProxiedRequest): number | undefined => (r.upstream ? (JSON.parse(r.upstream.body) as { code: number }).code : undefined);

/** Exactly the expected ids, status synced, and the one audience of the advertiser (no duplicate create). */
async function expectExactSync(s: AudienceSyncStatus, advertiserId: string, people: number[]): Promise<void> {
  expect(s.lastError).toBeNull();
  expect(s.phase).toBe('synced');
  expect(s.audienceId).toMatch(/^\d+$/);
  expect(await audienceIds(s.audienceId!)).toEqual(expectedDigests(people));
  expect(s.lastSync).toMatchObject({
    kind: 'snapshot',
    added: people.length * 2,
    removed: 0,
    rejected: { invalid_email: 1, malformed_row: 1, invalid_phone: 1 },
    appliedCounts: { EMAIL_SHA256: people.length, PHONE_SHA256: people.length },
  });
  const audiences = (await emulatorState()).audiences.filter((a) => a.advertiser_id === advertiserId);
  expect(audiences.map((a) => a.audience_id)).toEqual([s.audienceId]);
}

afterEach(async () => {
  for (const c of [...children]) await kill(c);
});

// Registered after the harness, so it runs before the harness stops the control worker.
afterAll(async () => {
  for (const c of [...children]) await kill(c);
  await proxy?.close();
});

describe('audience sync survives a SIGKILLed worker', { timeout: 60_000 }, () => {
  it('killed in the middle of prepare: the retry on a new worker resumes from the heartbeated checkpoint; exact audience', async () => {
    const advertiserId = newAdvertiser();
    const token = await newToken(advertiserId);
    const config = destination(advertiserId);
    const people = range(0, 20_000);
    const name = `${config.destinationId}-export.csv`;
    const exp = writeExport(name, people);
    const stallAt = Math.floor(exp.size * 0.6);
    const first = await startChild(token, { TTSYNC_FIXTURE_WATCH: name, TTSYNC_FIXTURE_STALL_AT: String(stallAt) });
    const h = await start({ config, snapshot: { uri: exp.uri } });

    expect((await first.waitForLine(/^read \S+ (\d+)$/))[1]).toBe('0');
    expect((await first.waitForLine(/^stalled \S+ (\d+)$/))[1]).toBe(String(stallAt));
    // The checkpoints before the stall reach the server with the (throttled) heartbeats.
    const hb = await waitForHeartbeat<{ current: { position: { byteOffset: number } | null } | null }>(
      h,
      'prepareSnapshot',
      (d) => (d.current?.position?.byteOffset ?? 0) > stallAt / 2,
    );
    // Killed at once: the heartbeat timeout runs from the last heartbeat the server got.
    await kill(first);
    expect((await h.query(audienceSyncStatusQuery)).phase).toBe('preparing');

    const second = await startChild(token, { TTSYNC_FIXTURE_WATCH: name });
    // The retry reads the export from the checkpoint's byte offset, not from the start.
    const resumedAt = Number((await second.waitForLine(/^read \S+ (\d+)$/))[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(hb.current!.position!.byteOffset);
    expect(resumedAt).toBeLessThanOrEqual(stallAt);
    const s = await cycleEnd(h);
    await expectExactSync(s, advertiserId, people);
    expect(second.lines.filter((l) => l.startsWith('read '))).toHaveLength(1);
    // Each bad row is in the rejects file once: none lost before the checkpoint, none repeated after it.
    const rejects = readFileSync(new URL(s.lastSync!.rejectsUris[0]!), 'utf8').trim().split('\n').slice(1);
    expect(rejects.map((l) => /invalid_email|malformed_row|invalid_phone/.exec(l)?.[0])).toEqual(['invalid_email', 'malformed_row', 'invalid_phone']);
    await h.terminate('test done');
  });

  it('killed in the middle of upload: the retry uploads only the files its heartbeat did not list; exact audience', async () => {
    const advertiserId = newAdvertiser();
    const token = await newToken(advertiserId);
    // 20,000 ids at 500 a file: 40 customer files.
    const config = destination(advertiserId, { maxIdsPerFile: 500 });
    const people = range(0, 10_000);
    const n0 = proxy.requests.length;
    let uploads = 0;
    const held = proxy.holdNext((r) => isUpload(r) && ++uploads === 21, 'hold');
    const first = await startChild(token);
    const h = await start({ config, snapshot: { uri: writeExport(`${config.destinationId}-export.csv`, people).uri } });

    const heldUpload = await held;
    const hb = await waitForHeartbeat<{ uri: string; filePath: string }[]>(h, 'uploadCustomerFiles', (d) => d.length === 20);
    await kill(first);
    expect(new Set(hb.map((u) => u.filePath)).size).toBe(20);
    expect((await h.query(audienceSyncStatusQuery)).phase).toBe('uploading');
    await startChild(token);

    const s = await cycleEnd(h);
    await expectExactSync(s, advertiserId, people);
    const files = s.lastSync!.files;
    expect(files).toBe(40);
    const after = proxy.requests.filter((r) => r.n > heldUpload.n && isUpload(r));
    expect(after).toHaveLength(files - 20);
    // Every file reached TikTok once: the 20 before the kill were not sent again.
    const forwarded = proxy.requests.filter((r) => r.n > n0 && isUpload(r) && codeOf(r) === 0);
    expect(forwarded).toHaveLength(files);
    expect((await emulatorState()).files.filter((f) => f.advertiserId === advertiserId)).toHaveLength(files);
    await h.terminate('test done');
  });

  it('killed in the middle of apply, twice: after TikTok created the audience, and after it applied an APPEND, neither confirmed; exact audience, one audience', async () => {
    const advertiserId = newAdvertiser();
    const token = await newToken(advertiserId);
    // 20,000 ids at 180 a file: 112 files; create takes 50, then APPEND 50 and APPEND 12.
    const config = destination(advertiserId, { maxIdsPerFile: 180 });
    const people = range(0, 10_000);
    const n0 = proxy.requests.length;
    const heldCreate = proxy.holdNext(isCreate, 'forward-then-hold');
    const first = await startChild(token);
    const h = await start({ config, snapshot: { uri: writeExport(`${config.destinationId}-export.csv`, people).uri } });

    // TikTok made the audience; the worker dies before it learns the id.
    const create = await heldCreate;
    // Killed at once, well inside the call's start-to-close timeout.
    await kill(first);
    expect(codeOf(create)).toBe(0);
    const createdId = (JSON.parse(create.upstream!.body) as { data: { custom_audience_id: string } }).data.custom_audience_id;
    const createPaths = (JSON.parse(create.body.toString('utf8')) as { file_paths: string[] }).file_paths;
    expect(createPaths).toHaveLength(50);
    expect((await h.query(audienceSyncStatusQuery)).phase).toBe('creating');

    // The retried create finds that audience by name instead of making a second one, and its
    // first files go in as an APPEND: TikTok applies it, the worker dies before the answer.
    const heldAppend = proxy.holdNext(isUpdate, 'forward-then-hold');
    const second = await startChild(token);
    const firstAppend = await heldAppend;
    await kill(second);
    expect(jsonOf(firstAppend).action).toBe('APPEND');
    expect(codeOf(firstAppend)).toBe(0);
    const during = await h.query(audienceSyncStatusQuery);
    expect(during).toMatchObject({ phase: 'appending', audienceId: createdId });
    expect((await emuControl<{ history: { action: string }[] }>('GET', `audiences/${createdId}?ids=false`)).history.map((e) => e.action)).toEqual([
      'create',
      'append',
    ]);
    await startChild(token);

    const s = await cycleEnd(h);
    expect(s.audienceId).toBe(createdId);
    await expectExactSync(s, advertiserId, people);
    expect(proxy.requests.filter((r) => r.n > n0 && isCreate(r))).toHaveLength(1);
    const accepted = proxy.requests.filter((r) => r.n > n0 && isUpdate(r) && codeOf(r) === 0).map((r) => jsonOf(r));
    // The create's files, the unconfirmed APPEND of them again (set semantics make repeats
    // harmless), then the other two chunks.
    expect(accepted.map((u) => [u.action, u.file_paths.length])).toEqual([
      ['APPEND', 50],
      ['APPEND', 50],
      ['APPEND', 50],
      ['APPEND', 12],
    ]);
    expect(accepted[0]!.file_paths).toEqual(createPaths);
    expect(accepted[1]!.file_paths).toEqual(createPaths);
    await h.terminate('test done');
  });
});
