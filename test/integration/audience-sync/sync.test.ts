import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { SearchAttributeKeys } from '../../../src/temporal/searchAttributes';
import { requestAudienceSync } from '../../../src/audience-sync/client';
import { addChangeBatchSignal, audienceSyncConfigQuery, audienceSyncStatusQuery, pauseSignal, reauthorizedSignal, resumeSignal, syncNowSignal, snapshotLandedSignal, updateConfigUpdate } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { uniqueId } from '../../helpers/temporal';
import { decodedText, runHistories } from '../../helpers/workflowHistory';
import { rejectionOf } from '../../helpers/rejection';

/*
 * The audience sync workflow end to end: real dev server, control + data + TikTok workers
 * on unique queues, the TikTok emulator over HTTP, local storage in a temp dir. Expected
 * digests are computed here from the normalized values with node:crypto.
 */

const TOKEN_VAR = 'TTSYNC_TEST_SYNC_TOKEN';

/*
 * The workers reach the emulator through this pass-through proxy, so a test can act as
 * another editor (Ads Manager) at the exact moment between the workflow's status poll and
 * its edit. Closed after the harness stops the workers (after hooks run in reverse order).
 */
let proxy: Server | undefined;
let proxyBaseUrl: string;
let beforeUpdate: ((body: { custom_audience_id: string }) => Promise<void>) | undefined;
afterAll(() => new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r())));

const harness = useAudienceHarness({
  name: 'sync',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: TOKEN_VAR,
  advertiserPrefix: '71',
  destinations: { label: 'test' },
  beforeWorkers: startProxy,
  tiktokApiBaseUrl: () => proxyBaseUrl,
});
const { control, issueToken, newAdvertiser, destination, start, audienceIds, callSeq, callsSince } = harness;
const rawValues = new Set<string>();

const BAD_ROWS = [
  { row: 'not-an-email,', reason: 'invalid_email' },
  { row: ',123', reason: 'invalid_phone' },
  { row: '"broken"x,', reason: 'malformed_row' },
];

/** Writes a CSV snapshot of people `ids` (emails padded with spaces) plus the bad rows; returns its file:// URI. */
function writeSnapshot(name: string, ids: number[]): string {
  const lines = ['email,phone'];
  for (const i of ids) {
    const p = person(i);
    lines.push(` ${p.raw.email} ,${p.raw.phone}`);
    for (const v of [...Object.values(p.raw), ...p.normalized]) rawValues.add(v);
  }
  for (const b of BAD_ROWS) lines.push(b.row);
  const path = join(harness.dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return `file://${path}`;
}

/** Every run of a workflow (following continue-as-new) as decoded text: strings and payload bytes. */
async function historiesText(workflowId: string, firstRunId: string): Promise<{ runs: number; text: string }> {
  const parts: string[] = [];
  for await (const history of runHistories(harness.client, workflowId, firstRunId)) parts.push(decodedText(history));
  return { runs: parts.length, text: parts.join('\n') };
}

async function startProxy(): Promise<void> {

  proxy = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      const body = Buffer.concat(chunks);
      const hook = beforeUpdate;
      if (hook && req.method === 'POST' && req.url?.includes('dmp/custom_audience/update/')) {
        beforeUpdate = undefined;
        await hook(JSON.parse(body.toString('utf8')) as { custom_audience_id: string });
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'access-token']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const upstream = await fetch(`${harness.emu.url}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  proxyBaseUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${new URL(harness.emu.apiBaseUrl).pathname}`;
}

/** An edit by someone else (file upload + APPEND straight to the emulator): the audience processes again. */
async function externalAppend(token: string, advertiserId: string, audienceId: string, digests: string[]): Promise<void> {
  const content = Buffer.from(digests.join('\n') + '\n');
  const form = new FormData();
  form.set('advertiser_id', advertiserId);
  form.set('calculate_type', 'MULTIPLE_TYPES');
  form.set('file_signature', createHash('md5').update(content).digest('hex'));
  form.set('file', new Blob([content]), 'other-editor.csv');
  const up = (await (await fetch(`${harness.emu.apiBaseUrl}/dmp/custom_audience/file/upload/`, { method: 'POST', headers: { 'Access-Token': token }, body: form })).json()) as {
    code: number;
    data: { file_path: string };
  };
  expect(up.code).toBe(0);
  const r = (await (
    await fetch(`${harness.emu.apiBaseUrl}/dmp/custom_audience/update/`, {
      method: 'POST',
      headers: { 'Access-Token': token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ advertiser_id: advertiserId, custom_audience_id: audienceId, action: 'APPEND', file_paths: [up.data.file_path] }),
    })
  ).json()) as { code: number };
  expect(r.code).toBe(0);
}

// Several cycles per test, each with processing waits: generous room for a loaded 2-core CI.
describe('audience sync workflow on the dev server, TikTok emulator over HTTP', { timeout: 120_000 }, () => {
  it('first sync holds exactly the expected digests; a second snapshot APPENDs only enters and REMOVEs only exits; no edit during processing', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const seq0 = await callSeq();
    const first = range(0, 1500);
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, first) } });

    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.lastError).toBeNull();
    expect(s1.phase).toBe('synced');
    expect(s1.audienceId).toMatch(/^\d+$/);
    expect(s1.isValid).toBe(true);
    expect(s1.coverNum).toBeGreaterThan(1000);
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));
    expect(s1.lastSync).toMatchObject({ kind: 'snapshot', added: 3000, removed: 0, rejected: { invalid_email: 1, invalid_phone: 1, malformed_row: 1 } });
    // The rejects file lists each bad row with its reason.
    const rejects = readFileSync(new URL(s1.lastSync!.rejectsUris[0]!), 'utf8').trim().split('\n').slice(1);
    expect(rejects.map((l) => BAD_ROWS.findIndex((b) => l.includes(b.reason)))).toEqual([0, 1, 2]);
    expect(rejects[0]).toContain(`${first.length + 2},`);
    // One writer, findable by ops: search attributes of the destination.
    const sa = (await h.describe()).typedSearchAttributes;
    expect(sa.get(SearchAttributeKeys.DestinationId)).toBe(config.destinationId);
    expect(sa.get(SearchAttributeKeys.AdvertiserId)).toBe(advertiserId);
    expect(sa.get(SearchAttributeKeys.AudienceId)).toBe(s1.audienceId);
    expect(sa.get(SearchAttributeKeys.Lifecycle)).toBe('audience_sync');
    expect(sa.get(SearchAttributeKeys.SyncState)).toBe('synced');

    // Second snapshot: 100 exits (0..99), 300 enters (1500..1799), the rest unchanged.
    const state1 = await control<{ files: { path: string; advertiserId: string }[] }>('GET', 'state');
    const filesBefore = new Set(state1.files.filter((f) => f.advertiserId === advertiserId).map((f) => f.path));
    const second = range(100, 1800);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastError).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(s2.audienceId).toBe(s1.audienceId);
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    expect(s2.lastSync).toMatchObject({ added: 600, removed: 200, files: 4 });
    // Only the enters and exits went to TikTok: the new files hold 600 + 200 ids.
    const state2 = await control<{ files: { path: string; advertiserId: string; ids: number; calculateType: string }[] }>('GET', 'state');
    const newFiles = state2.files.filter((f) => f.advertiserId === advertiserId && !filesBefore.has(f.path));
    expect(newFiles.map((f) => f.ids).reduce((a, b) => a + b, 0)).toBe(800);
    // Two identifier types: a MULTIPLE_TYPES audience, every file uploaded as MULTIPLE_TYPES.
    expect(new Set(newFiles.map((f) => f.calculateType))).toEqual(new Set(['MULTIPLE_TYPES']));
    const history = (await control<{ history: { action: string; action_detail: string }[]; calculate_type?: string }>('GET', `audiences/${s1.audienceId}`)).history;
    expect(history.map((e) => `${e.action}:${e.action_detail}`)).toEqual(expect.arrayContaining(['append:600', 'remove:200']));

    // The processing wait held: the emulator never answered "not editable" (40002).
    const calls = await callsSince(seq0);
    expect(calls.filter((c) => c.path.includes('custom_audience/update')).length).toBe(2);
    expect(calls.filter((c) => c.code === 40002)).toEqual([]);

    // Config updates are validated before they are accepted.
    const rejected = async (next: DestinationConfigInput): Promise<string> => {
      const e = await rejectionOf(h.executeUpdate(updateConfigUpdate, { args: [next] }), WorkflowUpdateFailedError);
      return e.cause?.message ?? '';
    };
    expect(await rejected({ ...config, advertiserId: 'not digits' })).toMatch(/\$\.advertiserId: advertiserId must be digits only/);
    expect(await rejected({ ...config, advertiserId: '123456' })).toMatch(/advertiserId cannot change/);
    expect(await h.executeUpdate(updateConfigUpdate, { args: [{ ...config, retentionDays: 30 }] })).toEqual({ destinationId: config.destinationId, appliesFrom: 'next_cycle' });

    // A caller (a schedule tick, the CLI) sends updateConfig only when its config differs from
    // the one the workflow holds, so Updates stay rare (audienceSyncConfigQuery says why).
    const started = harness.started.find((x) => x.workflowId === h.workflowId)!;
    const updatesAccepted = async (): Promise<number> => {
      let n = 0;
      for await (const history of runHistories(harness.client, h.workflowId, started.firstRunId)) n += (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
      return n;
    };
    const accepted = await updatesAccepted();
    expect(accepted).toBe(1);
    const tick = (next: DestinationConfigInput) => requestAudienceSync(harness.client, { config: next, taskQueue: harness.taskQueue, queues: harness.queues, onCadence: true });
    await tick({ ...config, retentionDays: 30 });
    expect(await updatesAccepted()).toBe(accepted);
    await tick({ ...config, retentionDays: 45 });
    expect(await updatesAccepted()).toBe(accepted + 1);
    expect((await h.query(audienceSyncConfigQuery)).retentionDays).toBe(45);
    await h.terminate('test done');
  });

  it('another editor makes the audience busy between the poll and the edit: the 40002 is waited out, then the edit goes through', async () => {
    const advertiserId = newAdvertiser();
    const token = await issueToken(advertiserId);
    const config = destination(advertiserId);
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1200)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');

    const other = expectedDigests(range(7000, 7010));
    let hooked = false;
    beforeUpdate = async (body) => {
      hooked = true;
      await externalAppend(token, advertiserId, body.custom_audience_id, other);
    };
    const seq0 = await callSeq();
    const second = range(100, 1300);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(hooked).toBe(true);
    expect(s2.lastError).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(await audienceIds(s2.audienceId!)).toEqual([...expectedDigests(second), ...other].sort());
    const updates = (await callsSince(seq0)).filter((c) => c.path.includes('custom_audience/update'));
    // The other editor's APPEND, our refused APPEND (40002), our APPEND again, our REMOVE.
    expect(updates.map((c) => c.code)).toEqual([0, 40002, 0, 0]);
    await h.terminate('test done');
  });

  it('revoked token: parks in reauthorization_required, then completes exactly after the secret changes and the signal', async () => {
    const advertiserId = newAdvertiser();
    const oldToken = await issueToken(advertiserId);
    const config = destination(advertiserId);
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1200)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');

    // Revoked between cycles: the second cycle prepares, diffs and builds, then its first
    // TikTok call fails with 40105.
    await control('POST', 'tokens/revoke', { access_token: oldToken });
    const second = range(300, 1500);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) } });
    const parked = await waitForStatus(h, (s) => s.phase === 'reauthorization_required');
    expect(parked.lastError?.type).toBe('ReauthorizationRequired');
    expect(parked.advice).toContain(`env:${TOKEN_VAR}`);
    expect(parked.currentRunId).not.toBeNull();
    expect((await h.describe()).typedSearchAttributes.get(SearchAttributeKeys.SyncState)).toBe('reauthorization_required');
    // It stays parked: no silent retry with the revoked token.
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.query(audienceSyncStatusQuery)).phase).toBe('reauthorization_required');

    await issueToken(advertiserId);
    await h.signal(reauthorizedSignal);
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastError).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(s2.lastSync?.runId).toBe(parked.currentRunId);
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    // Nothing was prepared twice: one data-plane run folder per cycle.
    expect(readdirSync(join(harness.dir, config.destinationId, 'work', 'runs')).length).toBe(2);

    // A secret that cannot be resolved parks the same way; `resume` also releases it.
    delete process.env[TOKEN_VAR];
    const third = range(300, 1400);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-3.csv`, third) } });
    const unset = await waitForStatus(h, (s) => s.phase === 'reauthorization_required');
    expect(unset.lastError?.type).toBe('SecretUnavailable');
    expect(unset.lastError?.message).toContain(TOKEN_VAR);
    await issueToken(advertiserId);
    await h.signal(resumeSignal);
    const s3 = await waitForStatus(h, cycleDone(3));
    expect(s3.phase).toBe('synced');
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(third));
    await h.terminate('test done');
  });

  it('refusals: invalid config fails the run at once with the zod message; a stale snapshot gets stale_snapshot and no TikTok call', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const bad = { ...destination(advertiserId), advertiserId: '12ab' };
    const hb = await start({ config: bad });
    const cause = (await rejectionOf(hb.result(), WorkflowFailedError)).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidConfig');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(cause?.message).toContain('$.advertiserId: advertiserId must be digits only');

    const config = destination(advertiserId);
    const seq0 = await callSeq();
    const uri = writeSnapshot(`${config.destinationId}-stale.csv`, range(0, 50));
    const h = await start({ config, snapshot: { uri, createdAt: new Date(Date.now() - 3 * 86_400_000).toISOString() } });
    const s = await waitForStatus(h, cycleDone(1));
    expect(s.phase).toBe('stale_snapshot');
    expect(s.lastError?.message).toMatch(/older than the readiness window \(36h\)/);
    expect(s.advice).toMatch(/fresh snapshot/);
    expect(s.audienceId).toBeNull();
    expect((await h.describe()).typedSearchAttributes.get(SearchAttributeKeys.SyncState)).toBe('stale_snapshot');
    expect(await callsSince(seq0)).toEqual([]);
    await h.terminate('test done');
  });

  it('change batches: a batch announcing 500,000 users flushes at once; others wait for syncNow or the cadence; pause holds every cycle', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1200)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');

    // A big batch (as announced by its sender) flushes without waiting for the hourly cadence.
    await h.signal(addChangeBatchSignal, {
      enters: { uri: writeSnapshot(`${config.destinationId}-enters-1.csv`, range(1200, 1300)) },
      exits: { uri: writeSnapshot(`${config.destinationId}-exits-1.csv`, range(0, 50)) },
      users: 500_000,
    });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastSync).toMatchObject({ kind: 'changes', added: 200, removed: 100 });
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(range(50, 1300)));

    // Small batches wait (in order) for the timer or syncNow; paused, nothing runs at all.
    await h.signal(pauseSignal);
    await h.signal(addChangeBatchSignal, { enters: { uri: writeSnapshot(`${config.destinationId}-enters-2.csv`, range(1300, 1310)) } });
    await h.signal(addChangeBatchSignal, { exits: { uri: writeSnapshot(`${config.destinationId}-exits-2.csv`, range(1300, 1305)) } });
    // A later batch re-enters 1300 and exits 60: the last word on an id wins.
    await h.signal(addChangeBatchSignal, {
      enters: { uri: writeSnapshot(`${config.destinationId}-enters-3.csv`, [1300]) },
      exits: { uri: writeSnapshot(`${config.destinationId}-exits-3.csv`, [60]) },
    });
    await h.signal(syncNowSignal);
    await new Promise((r) => setTimeout(r, 800));
    const held = await h.query(audienceSyncStatusQuery);
    expect(held).toMatchObject({ paused: true, cycles: 2, pendingBatches: 3 });
    const seq = await callSeq();
    await h.signal(resumeSignal);
    // All three pending batches flush in ONE cycle: one prepare, one APPEND, one REMOVE.
    const s3 = await waitForStatus(h, (s) => cycleDone(3)(s) && s.pendingBatches === 0);
    expect(s3.cycles).toBe(3);
    expect(s3.phase).toBe('synced');
    expect(s3.paused).toBe(false);
    expect(s3.lastSync).toMatchObject({ kind: 'changes', added: 12, removed: 10 });
    expect(s3.lastSync?.rejectsUris).toHaveLength(4);
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests([...range(50, 60), ...range(61, 1300), 1300, ...range(1305, 1310)]));
    expect((await callsSince(seq)).filter((c) => c.path.includes('custom_audience/update')).length).toBe(2);
    await h.terminate('test done');
  });

  it('cadence: the timer syncs storage.snapshot, skips an export it already applied, flushes small batches, and picks up a new export', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const current = join(harness.dir, `${uniqueId('current')}.csv`);
    // Exports land by rename, as a writer that never exposes a half-written file does.
    const land = (ids: number[]) => renameSync(writeSnapshot(`${uniqueId('export')}.csv`, ids).slice('file://'.length), current);
    land(range(0, 1200));
    const config = destination(advertiserId, { storage: { snapshot: `file://${current}` } });
    config.storage = { ...config.storage, workdir: join(harness.dir, config.destinationId, 'work') };
    const h = await start({ config }, { cadence: '1500ms', pollInitial: '100ms', pollMax: '1s' });
    const s1 = await waitForStatus(h, (s) => cycleDone(1)(s) && s.lastSync !== null);
    expect(s1.lastSync).toMatchObject({ kind: 'snapshot', added: 2400 });
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(range(0, 1200)));

    // Next tick: the same export, nothing prepared or sent.
    const seq = await callSeq();
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastSync?.runId).toBe(s1.lastSync?.runId);
    expect(s2.phase).toBe('synced');
    expect((await callsSince(seq)).filter((c) => !c.path.includes('custom_audience/get'))).toEqual([]);

    // A batch without announced sizes waits for the timer.
    await h.signal(addChangeBatchSignal, { enters: { uri: writeSnapshot(`${config.destinationId}-enters.csv`, range(1200, 1250)) } });
    const s3 = await waitForStatus(h, (s) => s.currentRunId === null && s.pendingBatches === 0 && s.lastSync?.kind === 'changes');
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(range(0, 1250)));

    land(range(100, 1300));
    const s4 = await waitForStatus(h, (s) => s.currentRunId === null && s.lastSync?.kind === 'snapshot' && s.lastSync.runId !== s1.lastSync?.runId);
    expect(s4.lastSync).toMatchObject({ added: 100, removed: 200 });
    expect(await audienceIds(s4.audienceId!)).toEqual(expectedDigests(range(100, 1300)));
    await h.terminate('test done');
  });

  it('processing longer than maxProcessingWait: processing_overdue is visible, then the sync completes when TikTok is done', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId, { maxProcessingWait: '1s' });
    await control('POST', 'config', { processingDelay: 3000 });
    try {
      const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1100)) } });
      const overdue = await waitForStatus(h, (s) => s.phase === 'processing_overdue');
      expect(overdue.lastError?.message).toMatch(/longer than maxProcessingWait \(1s\)/);
      expect(overdue.audienceId).not.toBeNull();
      expect((await h.describe()).typedSearchAttributes.get(SearchAttributeKeys.SyncState)).toBe('processing_overdue');
      const done = await waitForStatus(h, cycleDone(1));
      expect(done.phase).toBe('synced');
      expect(done.lastError).toBeNull();
      expect(await audienceIds(done.audienceId!)).toEqual(expectedDigests(range(0, 1100)));
      await h.terminate('test done');
    } finally {
      await control('POST', 'config', { processingDelay: 300 });
    }
  });

  it('fewer than 1,000 matched users: too_small_to_target with the advice', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    // 1,200 ids (600 emails, 600 phones); the emulator's population matches about 70%.
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 600)) } });
    const s = await waitForStatus(h, cycleDone(1));
    expect(s.phase).toBe('too_small_to_target');
    expect(s.coverNum).toBeGreaterThan(0);
    expect(s.coverNum).toBeLessThan(1000);
    expect(s.advice).toContain('send at least 5,000 phones or 10,000 emails');
    expect(await audienceIds(s.audienceId!)).toEqual(expectedDigests(range(0, 600)));
    expect((await h.describe()).typedSearchAttributes.get(SearchAttributeKeys.SyncState)).toBe('too_small_to_target');
    await h.terminate('test done');
  });

  it('audience cap: with 400 audiences in the advertiser the sync stops before any upload', async () => {
    const advertiserId = newAdvertiser();
    const token = await issueToken(advertiserId);
    // 400 audiences made directly through the emulator's API (one shared file).
    const form = new FormData();
    const ids = expectedDigests(range(5000, 5600));
    const content = Buffer.from(ids.join('\n') + '\n');
    form.set('advertiser_id', advertiserId);
    form.set('calculate_type', 'EMAIL_SHA256');
    form.set('file_signature', createHash('md5').update(content).digest('hex'));
    form.set('file', new Blob([content]), 'cap.csv');
    const up = (await (await fetch(`${harness.emu.apiBaseUrl}/dmp/custom_audience/file/upload/`, { method: 'POST', headers: { 'Access-Token': token }, body: form })).json()) as {
      data: { file_path: string };
    };
    for (let i = 0; i < 400; i++) {
      const r = (await (
        await fetch(`${harness.emu.apiBaseUrl}/dmp/custom_audience/create/`, {
          method: 'POST',
          headers: { 'Access-Token': token, 'Content-Type': 'application/json' },
          body: JSON.stringify({ advertiser_id: advertiserId, custom_audience_name: `filler ${i}`, calculate_type: 'EMAIL_SHA256', file_paths: [up.data.file_path] }),
        })
      ).json()) as { code: number };
      expect(r.code).toBe(0);
    }
    const config = destination(advertiserId);
    const seq0 = await callSeq();
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1100)) } });
    const s = await waitForStatus(h, cycleDone(1));
    expect(s.phase).toBe('audience_cap_reached');
    expect(s.lastError?.message).toMatch(/already has 400 custom audiences/);
    expect((await callsSince(seq0)).filter((c) => c.path.includes('file/upload') || c.path.includes('custom_audience/create'))).toEqual([]);
    await h.terminate('test done');
  });

  it('privacy: no history of any run contains a raw email, phone or token', async () => {
    expect(harness.started.length).toBeGreaterThanOrEqual(10);
    expect(rawValues.size).toBeGreaterThan(1000);
    let runs = 0;
    for (const { workflowId: id, firstRunId } of harness.started) {
      const { runs: n, text } = await historiesText(id, firstRunId);
      runs += n;
      // Payloads were decoded (JSON input visible), so the search below sees their contents.
      expect(text).toContain('"destinationId"');
      for (const v of rawValues) if (text.includes(v)) throw new Error(`history of ${id} contains the personal value ${v}`);
      for (const t of harness.tokens) expect(text.includes(t), `history of ${id} contains a token`).toBe(false);
    }
    expect(runs).toBeGreaterThan(harness.started.length);
  });
});
