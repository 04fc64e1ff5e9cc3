import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AudienceSyncNotFoundError,
  NoWorkerAnswerError,
  cycleFinished,
  getAudienceStatus,
  requestAudienceSync,
  waitForAudienceCycle,
} from '../../../src/audience-sync/client';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { addChangeBatchSignal, pauseSignal, reauthorizedSignal, resumeSignal, syncNowSignal } from '../../../src/audience-sync/messages';
import { audienceSync } from '../../../workflows/index';
import { type AudienceSyncTickInput } from '../../../src/audience-sync/messages';
import { ScheduleIds } from '../../../src/temporal/workflowIds';
import { SearchAttributeKeys } from '../../../src/temporal/searchAttributes';
import type { ScheduledSyncResult } from '../../../activities/audience-sync/control';
import { ScheduleNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { waitForStatus } from '../../helpers/audienceStatus';
import { cliAgainstTestServer } from '../../helpers/cli';
import { pad, range, sha, sortedDigests } from '../../helpers/syntheticPeople';
import { uniqueId } from '../../helpers/temporal';
import { rejectionOf } from '../../helpers/rejection';

/*
 * The client side of audience sync (src/audience-sync/client.ts) and the `ttsync audience`
 * commands, as a user runs them: the CLI is a separate process talking to the real dev
 * server; the workers run here (control, data, TikTok on unique queues) and call the TikTok
 * emulator over HTTP. The token lives only in this process's environment, where the
 * activities resolve the config's secret reference.
 */

const TOKEN_VAR = 'TTSYNC_TEST_AUDIENCE_CLI_TOKEN';
const harness = useAudienceHarness({
  name: 'cli',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: TOKEN_VAR,
  destinations: { label: 'cli test' },
});
const { taskQueue, queues } = harness;
const { issueToken, newAdvertiser, audienceIds, callSeq, callsSince } = harness;
const timing = DEFAULT_TIMING;
const workflowIds: string[] = [];
const scheduleIds = new Set<string>();

// Registered after the harness, so it runs while the harness's client is still open.
afterAll(async () => {
  for (const id of scheduleIds) await harness.client.schedule.getHandle(id).delete().catch(() => undefined);
  for (const id of workflowIds) await harness.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
});

/** A CSV of people `ids` (email + US phone) plus two bad rows; returns its file:// URI. */
function writeSnapshot(name: string, ids: number[]): string {
  const lines = ['email,phone', ...ids.map((i) => ` User${i}@Example.com ,(212) 201-${pad(i, 4)}`), 'not-an-email,', ',123'];
  const path = join(harness.dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return `file://${path}`;
}

const expectedDigests = (ids: number[]): string[] => sortedDigests(ids.flatMap((i) => [`user${i}@example.com`, `1212201${pad(i, 4)}`]));

function destination(advertiserId: string, extra: Partial<DestinationConfigInput> = {}): DestinationConfigInput {
  const config = harness.destination(advertiserId, extra);
  workflowIds.push(WorkflowIds.audienceSync(config.destinationId));
  return config;
}

function writeConfig(config: DestinationConfigInput, name = `${config.destinationId}.json`): string {
  const path = isAbsolute(name) ? name : join(harness.dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

const cli = (args: string[], timeoutMs?: number, onStderr?: (soFar: string) => void) =>
  cliAgainstTestServer(args, { ...(timeoutMs ? { timeoutMs } : {}), ...(onStderr ? { onStderr } : {}) });

const queueFlags = (): string[] => ['--task-queue', taskQueue, '--data-queue', queues.data, '--tiktok-queue', queues.tiktok, '--poll-initial', '100ms', '--poll-max', '1s'];

describe('audience sync control: request, wait, status', { timeout: 120_000 }, () => {
  it('requestAudienceSync starts the one workflow, then signals it; waitForAudienceCycle returns each requested cycle', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    await expect(getAudienceStatus(harness.client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);

    const first = range(0, 1200);
    const r1 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, first) }, taskQueue, queues, timing });
    expect(r1).toEqual({ workflowId: WorkflowIds.audienceSync(config.destinationId), started: true, cyclesBefore: 0, signalled: true, requestId: expect.any(String) });
    const seen: AudienceSyncStatus[] = [];
    const s1 = await waitForAudienceCycle(harness.client, config.destinationId, r1.cyclesBefore, { requestId: r1.requestId, pollMs: 50, onStatus: (s) => seen.push(s) });
    expect(s1.phase).toBe('synced');
    expect(s1.cycles).toBe(1);
    expect(s1.lastSync).toMatchObject({ added: 2400, removed: 0, rejected: { invalid_email: 1, invalid_phone: 1 } });
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));
    // The waiter saw the cycle's phases on the way.
    expect(seen.map((s) => s.phase)).toEqual(expect.arrayContaining(['preparing', 'synced']));

    const second = range(100, 1300);
    const r2 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) }, taskQueue, queues, timing });
    expect(r2).toEqual({ workflowId: r1.workflowId, started: false, cyclesBefore: 1, signalled: true, requestId: expect.any(String) });
    expect(r2.requestId).not.toBe(r1.requestId);
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, r2.cyclesBefore, { requestId: r2.requestId, pollMs: 50 });
    expect(s2).toMatchObject({ phase: 'synced', cycles: 2, audienceId: s1.audienceId });
    expect(s2.lastSync).toMatchObject({ added: 200, removed: 200 });
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    expect(await getAudienceStatus(harness.client, config.destinationId)).toMatchObject({ phase: 'synced', cycles: 2 });

    // Paused: the request is queued and says it is held; resume lets it run.
    // Paused and resumed from the CLI, as an operator does.
    const paused = await cli(['audience', 'pause', config.destinationId]);
    expect(paused).toMatchObject({ code: 0, stdout: `pause: signalled ${r1.workflowId} (phase was synced)\n` });
    const r3 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-3.csv`, first) }, taskQueue, queues, timing });
    expect(r3).toMatchObject({ started: false, cyclesBefore: 2, heldBy: 'the workflow is paused: signal "resume" to let it sync' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await getAudienceStatus(harness.client, config.destinationId)).toMatchObject({ cycles: 2, paused: true });
    const resumed = await cli(['audience', 'resume', config.destinationId]);
    expect(resumed.code).toBe(0);
    const s3 = await waitForAudienceCycle(harness.client, config.destinationId, r3.cyclesBefore, { requestId: r3.requestId, pollMs: 50 });
    expect(s3).toMatchObject({ phase: 'synced', cycles: 3, paused: false });
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(first));

    // No snapshot and no storage.snapshot: refused before anything is signalled.
    await expect(requestAudienceSync(harness.client, { config, taskQueue, queues, timing })).rejects.toThrow(/nothing to sync .*--snapshot/);
    expect(s3.answered!.map((a) => [a.requestId, a.cycle, a.ok])).toEqual([
      [r1.requestId, 1, true],
      [r2.requestId, 2, true],
      [r3.requestId, 3, true],
    ]);
  });

  it('a waiter gets the cycle that ran its own request, not one that started just before its signal', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const r1 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1100)) }, taskQueue, queues, timing });
    const s1 = await waitForAudienceCycle(harness.client, config.destinationId, r1.cyclesBefore, { requestId: r1.requestId, pollMs: 50 });
    expect(s1).toMatchObject({ phase: 'synced', cycles: 1 });

    // The race: a client reads cycles = 1, then another cycle starts (a cadence cycle; here a
    // signal without a request id), then the client's own request arrives while it runs.
    const h = harness.client.workflow.getHandle(r1.workflowId);
    await h.signal(syncNowSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, range(0, 1200)) } });
    await waitForStatus(h, (s) => s.cycles === 2 && s.currentRunId !== null);
    // Paused, so the workflow holds between the two cycles, where the cycle-count rule alone would stop.
    await h.signal(pauseSignal);
    const mine = writeSnapshot(`${config.destinationId}-3.csv`, range(100, 1300));
    const r3 = await requestAudienceSync(harness.client, { config, snapshot: { uri: mine }, taskQueue, queues, timing });
    const waiting = waitForAudienceCycle(harness.client, config.destinationId, s1.cycles, { requestId: r3.requestId, pollMs: 50 });
    const between = await waitForStatus(h, (s) => s.cycles === 2 && s.currentRunId === null);
    expect(cycleFinished(between, s1.cycles)).toBe(true);
    expect(cycleFinished(between, s1.cycles, r3.requestId)).toBe(false);
    expect(between.appliedSnapshot?.uri).not.toBe(mine);
    await new Promise((r) => setTimeout(r, 300));
    await h.signal(resumeSignal);
    const s3 = await waiting;
    expect(s3).toMatchObject({ phase: 'synced', cycles: 3 });
    expect(s3.appliedSnapshot?.uri).toBe(mine);
    expect(s3.answered!.at(-1)).toEqual({ requestId: r3.requestId, cycle: 3, ok: true });
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(range(100, 1300)));
    // Statuses from workers older than request ids (no `answered`): the cycle count decides.
    expect(cycleFinished({ ...s3, answered: undefined }, 2, r3.requestId)).toBe(true);
    expect(cycleFinished({ ...s3, answered: undefined }, 3, r3.requestId)).toBe(false);
  });
});

describe('ttsync audience sync|status (CLI process)', { timeout: 120_000 }, () => {
  it('sync --wait --json: exits 0 with the summary of exactly this cycle; status shows it; without --wait it prints how to follow', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const file = writeConfig(config);
    const first = range(0, 1100);
    const r = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-1.csv`, first), '--wait', '--json', ...queueFlags()]);
    expect(r.stderr).not.toMatch(/ttsync:/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      destinationId: config.destinationId,
      ok: true,
      phase: 'synced',
      cycle: 1,
      added: 2200,
      removed: 0,
      rejected: { invalid_email: 1, invalid_phone: 1 },
      files: 2,
      isValid: true,
    });
    expect(summary.coverNum).toBeGreaterThanOrEqual(1000);
    expect(summary.bytes).toBeGreaterThan(0);
    const audienceId = summary.audienceId as string;
    expect(await audienceIds(audienceId)).toEqual(expectedDigests(first));
    // The rejects file the summary names lists both bad rows.
    const rejectsUri = (summary.rejectsUris as string[])[0]!;
    expect(readFileSync(new URL(rejectsUri), 'utf8')).toMatch(/invalid_email[\s\S]*invalid_phone/);
    // Not a TTY: one progress line per phase on stderr, the phases of the cycle in order.
    const bars = r.stderr.split('\n').flatMap((l) => /^\[([#.]+)\] (\w+)/.exec(l) ?? []);
    const phases = r.stderr.split('\n').flatMap((l) => /^\[[#.]{20}\] (\w+)/.exec(l)?.[1] ?? []);
    expect(phases.length).toBeGreaterThanOrEqual(2);
    expect(new Set(phases).size).toBe(phases.length);
    expect(phases.at(-1)).toBe('synced');
    // The bar only moves forward through a cycle and is full at the end.
    const filled = r.stderr.split('\n').flatMap((l) => /^\[(#*)\.*\]/.exec(l)?.[1]?.length ?? []);
    expect([...filled].sort((a, b) => a - b)).toEqual(filled);
    expect(filled.at(-1)).toBe(20);
    expect(bars.length).toBeGreaterThan(0);

    const st = await cli(['audience', 'status', config.destinationId]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/^phase\s+synced$/m);
    expect(st.stdout).toMatch(new RegExp(`^audience_id\\s+${audienceId}$`, 'm'));
    expect(st.stdout).toMatch(/^last_sync\s+snapshot .*added 2200, removed 0, rejected invalid_email 1, invalid_phone 1/m);
    const stJson = await cli(['audience', 'status', config.destinationId, '--json']);
    expect(JSON.parse(stJson.stdout)).toMatchObject({ phase: 'synced', cycles: 1, audienceId });

    // Without --wait: signalled, the next cycle runs; the output says how to follow it.
    const second = range(50, 1100);
    const nw = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-2.csv`, second), ...queueFlags()]);
    expect(nw.code).toBe(0);
    expect(nw.stdout).toContain(`signalled ${WorkflowIds.audienceSync(config.destinationId)}`);
    expect(nw.stdout).toContain(`ttsync audience status ${config.destinationId}`);
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, 1, { pollMs: 100, timeoutMs: 60_000 });
    expect(s2.lastSync).toMatchObject({ added: 0, removed: 100 });
    expect(await audienceIds(audienceId)).toEqual(expectedDigests(second));
  });

  it('too few matched users: exits 0 with the advice; a stale snapshot: exits 1 with the error, nothing sent to TikTok', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId, { readinessWindow: '1h' });
    const file = writeConfig(config);
    const small = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot(`${config.destinationId}-small.csv`, range(0, 20)), '--wait', ...queueFlags()]);
    expect(small.code).toBe(0);
    expect(small.stdout).toMatch(/^result\s+too_small_to_target$/m);
    expect(small.stdout).toMatch(/^added\s+40$/m);
    expect(small.stdout).toMatch(/^advice\s+audience \d+ matches \d+ TikTok users, fewer than 1000, so it cannot be targeted: send at least 5,000 phones or 10,000 emails$/m);

    const seq = await callSeq();
    const uri = writeSnapshot(`${config.destinationId}-old.csv`, range(0, 30));
    const createdAt = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const r = await cli(['audience', 'sync', '--config', file, '--snapshot', uri, '--created-at', createdAt, '--wait', ...queueFlags()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^result\s+stale_snapshot$/m);
    expect(r.stdout).toMatch(/^added\s+-$/m);
    expect(r.stderr).toMatch(/ttsync: sync ended in stale_snapshot: snapshot .* older than the readiness window \(1h\); nothing was sent to TikTok/);
    const calls = await callsSince(seq);
    expect(calls.filter((c) => c.path.includes('custom_audience'))).toEqual([]);
  });

  it('sync --wait prints the advice of a park and keeps waiting; the cycle completes after the token is replaced and reauthorized', async () => {
    const advertiserId = newAdvertiser();
    const config = destination(advertiserId);
    delete process.env[TOKEN_VAR];
    const people = range(0, 1000);
    let released = false;
    const release = async (): Promise<void> => {
      released = true;
      await issueToken(advertiserId);
      await harness.client.workflow.getHandle(WorkflowIds.audienceSync(config.destinationId)).signal(reauthorizedSignal);
    };
    let releasing: Promise<void> | undefined;
    const r = await cli(['audience', 'sync', '--config', writeConfig(config), '--snapshot', writeSnapshot(`${config.destinationId}.csv`, people), '--wait', ...queueFlags()], 90_000, (err) => {
      if (!released && err.includes('reauthorization_required: ')) releasing = release();
    });
    await releasing;
    expect(r.stderr).toMatch(new RegExp(`^reauthorization_required: update the secret env:${TOKEN_VAR} with a valid token for advertiser ${advertiserId}, then signal "reauthorized" \\(.*${TOKEN_VAR}.*\\)$`, 'm'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^result\s+synced$/m);
    expect(r.stdout).toMatch(/^added\s+2000$/m);
  });

  it('a running workflow whose worker is gone: the request fails with the queue to check instead of hanging', async () => {
    const config = destination(newAdvertiser());
    const nobody = uniqueId('nobody-polls');
    await harness.client.workflow.start(audienceSync, { taskQueue: nobody, workflowId: WorkflowIds.audienceSync(config.destinationId), args: [{ config }] });
    const err = await rejectionOf(requestAudienceSync(harness.client, { config, snapshot: { uri: 'file:///tmp/none.csv' }, answerTimeoutMs: 1500 }), NoWorkerAnswerError);
    expect(err.message).toBe(`no worker answered ${WorkflowIds.audienceSync(config.destinationId)} within 2s: is a ttsync worker polling the task queue ${nobody}?`);
  });

  it('bad usage exits 2 with a readable error and starts nothing', async () => {
    const advertiserId = newAdvertiser();
    const config = destination(advertiserId);
    const bad = writeConfig({ ...config, advertiserId: '12ab', identifiers: { email: 'emial' } } as unknown as DestinationConfigInput, 'bad.json');
    const good = writeConfig(config);
    const runs: string[][] = [
      ['audience', 'sync', '--config', bad, '--snapshot', '/tmp/x.csv', ...queueFlags()],
      ['audience', 'sync', '--config', join(harness.dir, 'nope.json'), ...queueFlags()],
      // No snapshot anywhere: refused before anything reaches Temporal.
      ['audience', 'sync', '--config', good, ...queueFlags()],
      ['audience', 'sync', '--config', good, '--json', ...queueFlags()],
      ['audience', 'sync', '--config', good, '--snapshot', 'http://example.com/x.csv'],
      ['audience', 'status', config.destinationId],
    ];
    const results: Awaited<ReturnType<typeof cli>>[] = [];
    for (const args of runs) results.push(await cli(args));
    const [r, missing, none, jsonAlone, http, st] = results;
    if (!r || !missing || !none || !jsonAlone || !http || !st) throw new Error('a CLI run is missing');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ttsync: invalid destination config ${bad}:`);
    expect(r.stderr).toMatch(/^ {2}\$\.advertiserId: advertiserId must be digits only$/m);
    expect(r.stderr).toMatch(/^ {2}\$\.identifiers\.email: /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json:\n {2}\$: the file does not exist/);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to sync for destination .*--snapshot/);
    expect(jsonAlone.code).toBe(2);
    expect(jsonAlone.stderr).toBe('ttsync: --json prints the summary of a finished cycle: use it with --wait\n');
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/--snapshot.*must be gs:\/\/bucket\/object, file:\/\/\/absolute\/path or a local file path/);
    await expect(getAudienceStatus(harness.client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain(`no audience sync workflow for destination "${config.destinationId}"`);
    // A control signal to a destination without a workflow is an error, not a signal to nothing.
    const recreate = await cli(['audience', 'recreate', config.destinationId]);
    expect(recreate.code).toBe(1);
    expect(recreate.stderr).toContain(`no audience sync workflow for destination "${config.destinationId}"`);
  });
});

/** Triggers a schedule now and returns what its tick workflow did. */
async function triggerTick(scheduleId: string): Promise<ScheduledSyncResult> {
  const handle = harness.client.schedule.getHandle(scheduleId);
  const before = (await handle.describe()).info.numActionsTaken;
  await handle.trigger();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = await handle.describe();
    const last = d.info.recentActions.at(-1);
    if (d.info.numActionsTaken > before && last) {
      const wf = harness.client.workflow.getHandle(last.action.workflow.workflowId, last.action.workflow.firstExecutionRunId);
      return (await wf.result()) as ScheduledSyncResult;
    }
    if (Date.now() > deadline) throw new Error(`schedule ${scheduleId} took no action after trigger`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type ApplyOut = { dryRun: boolean; changes: { destinationId: string; scheduleId: string; outcome: string; note?: string }[] };
const outcomes = (out: ApplyOut): Record<string, string> => Object.fromEntries(out.changes.map((c) => [c.destinationId, c.outcome]));

describe('ttsync schedules apply (CLI process) and the scheduled tick', { timeout: 120_000 }, () => {
  it('creates one schedule per destination, then reports unchanged, updated on a change, and prunes only with --prune', async () => {
    const folder = join(harness.dir, uniqueId('schedules'));
    mkdirSync(folder);
    const a = destination(newAdvertiser());
    const b = destination(newAdvertiser());
    await issueToken(a.advertiserId);
    writeConfig(a, join(folder, 'a.json'));
    writeConfig(b, join(folder, 'b.json'));
    for (const c of [a, b]) scheduleIds.add(ScheduleIds.audienceSync(c.destinationId));
    const apply = async (...extra: string[]): Promise<ApplyOut> => {
      const r = await cli(['schedules', 'apply', '--config', folder, '--json', ...queueFlags(), ...extra]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as ApplyOut;
    };

    expect(outcomes(await apply())).toEqual({ [a.destinationId]: 'created', [b.destinationId]: 'created' });
    const d = await harness.client.schedule.getHandle(ScheduleIds.audienceSync(a.destinationId)).describe();
    expect(d.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.action.workflowType).toBe('audienceSyncTick');
    expect(d.action.taskQueue).toBe(taskQueue);
    expect(d.typedSearchAttributes.get(SearchAttributeKeys.DestinationId)).toBe(a.destinationId);
    const tickAttrs = d.action.typedSearchAttributes;
    expect(tickAttrs instanceof TypedSearchAttributes ? tickAttrs.get(SearchAttributeKeys.Lifecycle) : tickAttrs).toBe('audience_sync_schedule');
    const input = d.action.args?.[0] as AudienceSyncTickInput;
    expect(input.config).toMatchObject({ destinationId: a.destinationId, accessToken: `env:${TOKEN_VAR}` });
    expect(input.queues).toEqual(queues);
    expect(input.timing).toMatchObject({ cadence: '1h' });
    // The schedule holds the secret reference, never the token.
    expect(JSON.stringify(d.raw)).not.toContain(process.env[TOKEN_VAR]!);

    // Same configs again: nothing changes. Human output names each destination.
    expect(outcomes(await apply())).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'unchanged' });
    const human = await cli(['schedules', 'apply', '--config', folder, ...queueFlags()]);
    expect(human.stdout).toMatch(new RegExp(`^${a.destinationId}\\s+unchanged\\s+audience-sync-schedule:${a.destinationId}$`, 'm'));

    // One config changes: a dry run says so and changes nothing; then only that schedule is updated.
    writeConfig({ ...b, retentionDays: 30 }, join(folder, 'b.json'));
    const dry = await apply('--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(outcomes(dry)).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'updated' });
    expect(outcomes(await apply())).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'updated' });
    const db = await harness.client.schedule.getHandle(ScheduleIds.audienceSync(b.destinationId)).describe();
    expect((db.action.args?.[0] as AudienceSyncTickInput).config).toMatchObject({ retentionDays: 30 });
    expect(outcomes(await apply())).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'unchanged' });
    // A new cadence changes every schedule.
    expect(outcomes(await apply('--cadence', '2h'))).toEqual({ [a.destinationId]: 'updated', [b.destinationId]: 'updated' });
    expect((await harness.client.schedule.getHandle(ScheduleIds.audienceSync(a.destinationId)).describe()).spec.intervals).toMatchObject([{ every: 7_200_000 }]);
    // Jitter spreads the actions: set on every schedule once, then unchanged; one not shorter than the cadence is refused.
    expect(outcomes(await apply('--cadence', '2h', '--jitter', '5m'))).toEqual({ [a.destinationId]: 'updated', [b.destinationId]: 'updated' });
    expect((await harness.client.schedule.getHandle(ScheduleIds.audienceSync(b.destinationId)).describe()).spec.jitter).toBe(300_000);
    expect(outcomes(await apply('--cadence', '2h', '--jitter', '5m'))).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'unchanged' });
    const tooMuch = await cli(['schedules', 'apply', '--config', folder, ...queueFlags(), '--cadence', '2h', '--jitter', '2h']);
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toContain('--jitter: jitter 2h is not shorter than the cadence 2h');
    expect(outcomes(await apply('--cadence', '2h'))).toEqual({ [a.destinationId]: 'updated', [b.destinationId]: 'updated' });
    expect((await harness.client.schedule.getHandle(ScheduleIds.audienceSync(b.destinationId)).describe()).spec.jitter).toBeFalsy();
    // The quick data steps' timeout goes into the workflow's timing; refused where no workflow has such steps.
    expect(outcomes(await apply('--cadence', '2h', '--data-step-timeout', '2m'))).toEqual({ [a.destinationId]: 'updated', [b.destinationId]: 'updated' });
    const timed = (await harness.client.schedule.getHandle(ScheduleIds.audienceSync(a.destinationId)).describe()).action.args?.[0] as AudienceSyncTickInput;
    expect(timed.timing).toEqual({ cadence: '2h', pollInitial: '100ms', pollMax: '1s', dataStepTimeout: '2m' });
    const notDuration = await cli(['schedules', 'apply', '--config', folder, ...queueFlags(), '--data-step-timeout', 'soon']);
    expect(notDuration.code).toBe(2);
    expect(notDuration.stderr).toContain("option '--data-step-timeout <duration>' argument 'soon' is invalid");
    const zero = await cli(['schedules', 'apply', '--config', folder, ...queueFlags(), '--data-step-timeout', '0s']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain("option '--data-step-timeout <duration>' argument '0s' is invalid. must be longer than zero");
    const otherLifecycle = await cli(['schedules', 'apply', '--config', folder, '--lifecycle', 'usage-report', ...queueFlags(), '--data-step-timeout', '2m']);
    expect(otherLifecycle.code).toBe(2);
    expect(otherLifecycle.stderr).toContain('--data-step-timeout applies to audience-sync and events-export schedules, not usage-report');
    expect(outcomes(await apply('--cadence', '2h'))).toEqual({ [a.destinationId]: 'updated', [b.destinationId]: 'updated' });

    // b leaves the folder: kept and listed without --prune, deleted with it (the list is eventually consistent).
    rmSync(join(folder, 'b.json'));
    const listed = async (): Promise<boolean> => {
      for await (const sc of harness.client.schedule.list()) if (sc.scheduleId === ScheduleIds.audienceSync(b.destinationId)) return true;
      return false;
    };
    for (let i = 0; i < 100 && !(await listed()); i++) await new Promise((r) => setTimeout(r, 100));
    const pruned = await apply('--cadence', '2h');
    expect(pruned.changes.find((c) => c.destinationId === b.destinationId)).toMatchObject({ outcome: 'kept', note: 'not in the config set; --prune deletes it' });
    expect(outcomes(await apply('--cadence', '2h', '--prune'))).toEqual({ [a.destinationId]: 'unchanged', [b.destinationId]: 'deleted' });
    await expect(harness.client.schedule.getHandle(ScheduleIds.audienceSync(b.destinationId)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('refuses the whole set, each problem on its own line, when two advertisers share a segment or a config is invalid', async () => {
    const folder = join(harness.dir, uniqueId('refused'));
    mkdirSync(folder);
    const owner = destination(newAdvertiser());
    const copy = destination(newAdvertiser(), { sourceSegmentId: owner.sourceSegmentId });
    const fine = destination(newAdvertiser());
    writeConfig(owner, join(folder, '1-owner.json'));
    writeConfig(copy, join(folder, '2-copy.json'));
    writeConfig(fine, join(folder, '3-fine.json'));
    const r = await cli(['schedules', 'apply', '--config', folder, ...queueFlags()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`2-copy\\.json:\\n {2}\\$\\.sourceSegmentId: source segment "${owner.sourceSegmentId}" is already synced to advertiser ${owner.advertiserId}`));
    expect(r.stderr).toMatch(/nothing was applied$/m);
    writeFileSync(join(folder, '4-bad.json'), '{"destinationId": "Bad Id"');
    const r2 = await cli(['schedules', 'apply', '--config', folder, ...queueFlags()]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/4-bad\.json:\n {2}line 1 column \d+: not valid JSON/);
    expect(r2.stderr).toMatch(/2-copy\.json:\n {2}\$\.sourceSegmentId: /);
    for (const c of [owner, copy, fine])
      await expect(harness.client.schedule.getHandle(ScheduleIds.audienceSync(c.destinationId)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    const cadence = await cli(['schedules', 'apply', '--config', join(folder, '3-fine.json'), '--cadence', '10s', ...queueFlags()]);
    expect(cadence.code).toBe(2);
    expect(cadence.stderr).toMatch(/--cadence: cadence 10s is shorter than 1m/);
  });

  it('a tick starts the missing workflow and syncs storage.snapshot; later ticks do what the cadence does: skip an unchanged export, sync a changed one, flush change batches without re-applying the export', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const people = range(0, 1100);
    const exportName = `${config.destinationId}-store.csv`;
    config.storage = { ...config.storage, snapshot: new URL(writeSnapshot(exportName, people)).pathname };
    const file = writeConfig(config);
    const scheduleId = ScheduleIds.audienceSync(config.destinationId);
    scheduleIds.add(scheduleId);
    const r = await cli(['schedules', 'apply', '--config', file, ...queueFlags()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\screated\s/);
    const handle = harness.client.workflow.getHandle(WorkflowIds.audienceSync(config.destinationId));

    const t1 = await triggerTick(scheduleId);
    expect(t1).toEqual({ workflowId: WorkflowIds.audienceSync(config.destinationId), started: true, cyclesBefore: 0, signalled: true });
    const s1 = await waitForAudienceCycle(harness.client, config.destinationId, 0, { pollMs: 100, timeoutMs: 60_000 });
    expect(s1.phase).toBe('synced');
    expect(s1.lastSync).toMatchObject({ kind: 'snapshot', added: 2200 });
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(people));

    const seqAfterFirst = await callSeq();
    // Running, export unchanged: the tick reaches the workflow (no second one), whose check
    // finds the export already applied and sends nothing.
    const t2 = await triggerTick(scheduleId);
    expect(t2).toMatchObject({ started: false, cyclesBefore: 1, signalled: true });
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, 1, { pollMs: 100, timeoutMs: 60_000 });
    expect(s2).toMatchObject({ phase: 'synced', cycles: 2 });
    expect(s2.lastSync?.runId).toBe(s1.lastSync?.runId);
    const since = await callsSince(seqAfterFirst);
    expect(since.filter((c) => /customer_file|custom_audience\/(create|update)/.test(c.path))).toEqual([]);

    // The export changes: the next tick syncs it, sending only the new people.
    const grown = range(0, 1150);
    writeSnapshot(exportName, grown);
    const t3 = await triggerTick(scheduleId);
    expect(t3).toMatchObject({ started: false, cyclesBefore: 2, signalled: true });
    const s3 = await waitForAudienceCycle(harness.client, config.destinationId, 2, { pollMs: 100, timeoutMs: 60_000 });
    expect(s3.lastSync).toMatchObject({ kind: 'snapshot', added: 100, removed: 0 });
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(grown));

    // A change batch: the tick flushes it and does not re-apply the unchanged export (which would undo it).
    const enters = join(harness.dir, `${config.destinationId}-enters.csv`);
    writeFileSync(enters, 'email,phone\nlate@example.com,\n');
    await handle.signal(addChangeBatchSignal, { enters: { uri: `file://${enters}` } });
    const deadline = Date.now() + 10_000;
    while ((await getAudienceStatus(harness.client, config.destinationId)).pendingBatches === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const t4 = await triggerTick(scheduleId);
    expect(t4).toMatchObject({ started: false, cyclesBefore: 3, signalled: true });
    const s4 = await waitForAudienceCycle(harness.client, config.destinationId, 3, { pollMs: 100, timeoutMs: 60_000 });
    expect(s4.lastSync).toMatchObject({ kind: 'changes', added: 1, removed: 0 });
    // The same tick also asked for the export check, as the timer does: it finds the export
    // applied and leaves the batch in place.
    const s5 = await waitForAudienceCycle(harness.client, config.destinationId, 4, { pollMs: 100, timeoutMs: 60_000 });
    expect(s5).toMatchObject({ phase: 'synced', cycles: 5, pendingBatches: 0 });
    expect(s5.lastSync?.runId).toBe(s4.lastSync?.runId);
    expect(await audienceIds(s1.audienceId!)).toEqual([...expectedDigests(grown), sha('late@example.com')].sort());
  });
});
