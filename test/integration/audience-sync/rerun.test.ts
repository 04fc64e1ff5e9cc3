import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { addChangeBatchSignal, snapshotLandedSignal, type AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { runAudiencePreview } from '../../../src/audience-sync/previewClient';
import type { AudienceSyncPreviewResult } from '../../../src/audience-sync/previewMessages';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { DEFAULT_TIMING, useAudienceHarness, type EmulatorCall } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { BIN, ROOT } from '../../helpers/cli';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { testEnv, uniqueId } from '../../helpers/temporal';

/*
 * `ttsync rerun` of an audience sync cycle that failed on an injected TikTok fault. Each
 * destination syncs a first snapshot cleanly; the second snapshot's cycle sends its APPEND,
 * then TikTok refuses its REMOVE (the emulator's fault rule answers 40001, no permission, to
 * that advertiser's REMOVE calls only), so the cycle ends in `error` and the workflow waits.
 * The fault is removed (the engineer fixed the permission), then the failed cycle is re-run.
 * The result is compared with a clean run of the same two snapshots on another destination:
 * the same audience contents, the same TikTok edits in the audience's history, and the same
 * number of successful uploads, creates and edits in the call log (the APPEND and the
 * uploads are not sent again). Expected digests come from node:crypto (syntheticPeople).
 */

const harness = useAudienceHarness({
  name: 'rerun',
  emulator: { processingDelay: 200, matchRate: 0.7 },
  tokenVar: 'TTSYNC_TEST_RERUN_TOKEN',
  advertiserPrefix: '76',
});
const { control, issueToken, newAdvertiser, destination, start, audienceIds, callSeq, callsSince } = harness;

const FIRST = range(0, 1200);
const SECOND = range(100, 1400);
const UPDATE = 'dmp/custom_audience/update/';
const EDITS = ['dmp/custom_audience/file/upload/', 'dmp/custom_audience/create/', UPDATE];
const T = temporal.api.enums.v1.EventType;

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`)].join('\n') + '\n');
  return `file://${path}`;
}

/** `ttsync rerun` as an engineer runs it, without blocking this process (the workers run here). */
function rerunCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'rerun', ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: testEnv().TEMPORAL_NAMESPACE },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Successful calls per edit endpoint: what TikTok was asked to do. */
function editCounts(calls: EmulatorCall[]): Record<string, number> {
  return Object.fromEntries(EDITS.map((p) => [p, calls.filter((c) => c.path === p && c.outcome === 'ok').length]));
}

/** The audience's own history of operations in the emulator (create, append, remove), oldest first, with the ids each affected. */
async function audienceOps(audienceId: string): Promise<string[]> {
  const a = await control<{ history: { action: string; action_detail: string }[] }>('GET', `audiences/${audienceId}?ids=false`);
  return a.history.map((h) => `${h.action}:${h.action_detail}`);
}

interface Synced {
  handle: WorkflowHandle;
  status: AudienceSyncStatus;
  calls: EmulatorCall[];
  workflowId: string;
}

/** Both snapshots on a fresh destination; `beforeSecond` runs between them (e.g. plants the fault). */
async function syncBoth(beforeSecond?: (advertiserId: string) => Promise<unknown>, afterSecond?: (s: AudienceSyncStatus, handle: WorkflowHandle) => Promise<void>): Promise<Synced> {
  const advertiserId = newAdvertiser();
  await issueToken(advertiserId);
  const config = destination(advertiserId);
  const seq = await callSeq();
  const handle = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, FIRST) } });
  const s1 = await waitForStatus(handle, cycleDone(1), 90_000);
  expect(s1.phase).toBe('synced');
  await beforeSecond?.(advertiserId);
  await handle.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, SECOND) } });
  let status = await waitForStatus(handle, cycleDone(2), 90_000);
  if (afterSecond) {
    await afterSecond(status, handle);
    status = await waitForStatus(handle, (s) => cycleDone(2)(s) && s.phase === 'synced', 90_000);
  }
  return { handle, status, calls: await callsSince(seq), workflowId: WorkflowIds.audienceSync(config.destinationId) };
}

/** Plants the fault: TikTok refuses this advertiser's REMOVE edits with 40001 until the rule is removed. */
const refuseRemoves = (advertiserId: string): Promise<unknown> => control('POST', 'faults', { rules: [{ endpoint: UPDATE, match: { action: 'REMOVE', advertiser_id: advertiserId }, code: 40001, message: 'No permission to operate advertiser' }] });
const fixFault = () => control('POST', 'faults', { rules: [] });

/** The cycle failed where the fault is: the APPEND went through, the REMOVE was refused once, and the workflow waits in error. */
function expectFailedOnRemove(s: AudienceSyncStatus, calls: EmulatorCall[]): void {
  expect(s.phase).toBe('error');
  expect(s.lastError?.type).toBe('PermissionDenied');
  expect(calls.filter((c) => c.outcome === 'injected_rule').map((c) => c.path)).toEqual([UPDATE]);
}

/**
 * Waits until the failed cycle's run has continued as new (it does once the notices it posted,
 * its error alert, have settled): the current run is then the idle one, with no failure in
 * its history.
 */
async function idleRunAfterFailure(handle: WorkflowHandle): Promise<void> {
  for (const deadline = Date.now() + 30_000; ; ) {
    const events = (await handle.fetchHistory()).events ?? [];
    if (!events.some((e) => e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_FAILED)) return;
    if (Date.now() > deadline) throw new Error("the failed cycle's run did not continue as new");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('ttsync rerun of an audience sync cycle that failed on a TikTok fault', { timeout: 240_000 }, () => {
  let clean: Synced;
  /** The destination re-run by `ttsync rerun`, and the run of its failed cycle. */
  const rerunOf = { workflowId: '', failedRunId: '' };

  it('a clean run of both snapshots, for comparison', async () => {
    clean = await syncBoth();
    expect(clean.status.phase).toBe('synced');
    expect(await audienceIds(clean.status.audienceId!)).toEqual(expectedDigests(SECOND));
    expect(clean.status.lastSync).toMatchObject({ added: 400, removed: 200 });
    // Each sync once: create with the first files; APPEND then REMOVE for the second.
    expect(await audienceOps(clean.status.audienceId!)).toEqual(['create:2400', 'append:400', 'remove:200']);
    // Nothing failed, so nothing to re-run: refused, exit 1, nothing changed.
    const refused = await rerunCli([clean.workflowId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/rerun refused: .*is running and its last cycle did not fail \(SyncState synced\)/);
  });

  it('rerun resets the failed cycle back to its REMOVE: the result equals the clean run, with no edit sent twice', async () => {
    const failedAt: { calls: EmulatorCall[] } = { calls: [] };
    let failedRunId = '';
    let waitingRunId = '';
    const seq0 = await callSeq();
    const run = await syncBoth(refuseRemoves, async (s, handle) => {
      failedAt.calls = await callsSince(seq0);
      expectFailedOnRemove(s, failedAt.calls);
      await idleRunAfterFailure(handle);
      const current = await handle.describe();
      waitingRunId = current.runId;
      // The idle run waiting after the failure continued from the failed cycle's run.
      const first = (await handle.fetchHistory()).events?.[0];
      failedRunId = first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? '';
      expect(failedRunId).not.toBe('');

      // A request the waiting run received (a change batch, held for the cadence): the reset
      // ends that run, and the batch must be in the new one.
      await handle.signal(addChangeBatchSignal, { enters: { uri: writeSnapshot(`${run0Id(handle)}-enters.csv`.replace(/:/g, '_'), range(5000, 5010)) } });
      await waitForStatus(handle, (st) => st.pendingBatches === 1);

      await fixFault();
      const r = await rerunCli([run0Id(handle), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({ action: 'reset', resetTo: 'last-good', fromRunId: failedRunId, terminatedRunId: waitingRunId, lifecycle: 'audience-sync', workflowType: 'audienceSync', signalsCarried: 1 });
      expect(out.failure).toMatch(/^activity updateCustomAudience failed: PermissionDenied: /);
      expect(out.url).toBe(`http://127.0.0.1:8233/namespaces/${testEnv().TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(run0Id(handle))}/${String(out.newRunId)}/history`);
      // The point is the workflow task that scheduled the refused REMOVE.
      const failedEvents = (await harness.client.workflow.getHandle(run0Id(handle), failedRunId).fetchHistory()).events ?? [];
      const refused = failedEvents.find((e) => e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_FAILED)!;
      const scheduled = failedEvents.find((e) => Number(e.eventId) === Number(refused.activityTaskFailedEventAttributes?.scheduledEventId))!;
      expect(out.eventId).toBe(Number(scheduled.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId));
    });
    expect(run.status.lastError).toBeNull();
    expect(run.status.lastSync).toMatchObject({ added: 400, removed: 200 });
    // The waiting run's change batch was carried to the new run (it waits for the cadence).
    expect(run.status.pendingBatches).toBe(1);
    // Same audience as the clean run, and the digests expected from the snapshot itself.
    expect(await audienceIds(run.status.audienceId!)).toEqual(expectedDigests(SECOND));
    expect(await audienceIds(run.status.audienceId!)).toEqual(await audienceIds(clean.status.audienceId!));
    // The same operations in the audience's history: the APPEND was not sent again.
    expect(await audienceOps(run.status.audienceId!)).toEqual(await audienceOps(clean.status.audienceId!));
    // The same successful uploads, creates and edits over the whole life of each destination.
    expect(editCounts(run.calls)).toEqual(editCounts(clean.calls));
    // The waiting run was ended by the reset, and the new run carries the cycle to its end.
    const waiting = await harness.client.workflow.getHandle(run.workflowId, waitingRunId).describe();
    expect(waiting.status.name).toBe('TERMINATED');
    Object.assign(rerunOf, { workflowId: run.workflowId, failedRunId });
  });

  it('a reset from the Temporal UI to the failed run\'s first workflow task (the earliest point it offers) ends the same: the cycle runs whole again', async () => {
    const seq0 = await callSeq();
    const run = await syncBoth(refuseRemoves, async (s, handle) => {
      expectFailedOnRemove(s, await callsSince(seq0));
      await idleRunAfterFailure(handle);
      const first = (await handle.fetchHistory()).events?.[0];
      const failedRunId = first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? '';
      await fixFault();
      const events = (await harness.client.workflow.getHandle(run0Id(handle), failedRunId).fetchHistory()).events ?? [];
      const firstTask = events.find((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
      // What the UI's Reset sends: this run, a WorkflowTaskCompleted event of it, signals reapplied.
      await harness.client.workflowService.resetWorkflowExecution(
        temporal.api.workflowservice.v1.ResetWorkflowExecutionRequest.fromObject({
          namespace: harness.client.options.namespace,
          workflowExecution: { workflowId: run0Id(handle), runId: failedRunId },
          reason: 'reset from the UI',
          workflowTaskFinishEventId: Number(firstTask.eventId),
          requestId: `ui-${failedRunId}`,
          resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
        }),
      );
    });
    expect(run.status.lastError).toBeNull();
    expect(run.status.lastSync).toMatchObject({ added: 400, removed: 200 });
    expect(await audienceIds(run.status.audienceId!)).toEqual(expectedDigests(SECOND));
    // The reapplied snapshotLanded signal ran the cycle whole again: its APPEND went twice,
    // a set operation that changes nothing (append:0 the second time); the REMOVE once.
    expect(await audienceOps(run.status.audienceId!)).toEqual(['create:2400', 'append:400', 'append:0', 'remove:200']);
  });

  it('a sync started under a free id (it fails with WrongWorkflowId) is started again under audience-sync:<destinationId>, once', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const wrongId = uniqueId('typed-in-the-ui');
    const input = { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, FIRST) }, queues: harness.queues, timing: DEFAULT_TIMING };
    const wrong = await harness.client.workflow.start('audienceSync', { taskQueue: harness.taskQueue, workflowId: wrongId, args: [input] });
    await expect(wrong.result()).rejects.toThrow();
    expect((await wrong.describe()).status.name).toBe('FAILED');

    const r = await rerunCli([wrongId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ownId = WorkflowIds.audienceSync(config.destinationId);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ action: 'restarted', workflowId: ownId, fromWorkflowId: wrongId, fromRunId: wrong.firstExecutionRunId });
    expect(out.failure).toMatch(/^the run failed: WrongWorkflowId: /);
    const s = await waitForStatus(harness.client.workflow.getHandle(ownId), cycleDone(1), 90_000);
    expect(s.phase).toBe('synced');
    expect(await audienceIds(s.audienceId!)).toEqual(expectedDigests(FIRST));
    // Again: the destination's workflow is open now, and a second would be a second writer.
    const again = await rerunCli([wrongId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/rerun refused: audience-sync:\S+ already has an open run: .*second writer; nothing was started/);
  });

  it('a dry run that failed (its snapshot was not there yet) runs again from its start once the file is there', async () => {
    const config = destination(newAdvertiser());
    const uri = `file://${join(harness.dir, `${config.destinationId}-late.csv`)}`;
    await expect(runAudiencePreview(harness.client, { config, snapshot: { uri }, taskQueue: harness.taskQueue, queues: harness.queues })).rejects.toThrow(/failed: inspectSnapshot: ENOENT/);
    writeSnapshot(`${config.destinationId}-late.csv`, FIRST);
    const previewId = WorkflowIds.audienceSyncPreview(config.destinationId);
    const r = await rerunCli([previewId, '--reset-to', 'last-good']);
    expect(r.code, r.stderr).toBe(0);
    // A failed dry run trims its run folder: only its start is a point to go back to.
    expect(r.stdout).toMatch(new RegExp(`^reset ${previewId} run \\S+ to event \\d+ \\(start: the first workflow task`, 'm'));
    expect(r.stdout).toMatch(/^note: audienceSyncPreview allows only reset to start, so start instead of last-good$/m);
    expect(r.stdout).toMatch(new RegExp(`^new run (\\S+): http://127\\.0\\.0\\.1:8233/namespaces/\\S+/workflows/${encodeURIComponent(previewId)}/\\1/history$`, 'm'));
    const result = (await harness.client.workflow.getHandle(previewId).result()) as AudienceSyncPreviewResult;
    expect(result).toMatchObject({ added: 2400, removed: 0, rows: 1200, stop: null });
  });

  it('refuses what is not a failed run, or a failed run that later runs have moved past; nothing changes', async () => {
    // A run that did not fail.
    const notFailed = await rerunCli([clean.workflowId, '--run-id', firstRunOf(clean.workflowId)]);
    expect(notFailed.code).toBe(1);
    expect(notFailed.stderr).toMatch(/rerun refused: run \S+ of \S+ did not fail/);
    // The failed cycle's run again, now that the re-run cycle committed after it: a reset
    // would terminate the current run and send the old cycle's edits over the new state.
    const before = await harness.client.workflow.getHandle(rerunOf.workflowId).describe();
    const moved = await rerunCli([rerunOf.workflowId, '--run-id', rerunOf.failedRunId]);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toMatch(/rerun refused: run \S+ is not the run before the current one .*nothing was changed/);
    const after = await harness.client.workflow.getHandle(rerunOf.workflowId).describe();
    expect({ runId: after.runId, status: after.status.name }).toEqual({ runId: before.runId, status: 'RUNNING' });
    // No such workflow; a workflow type no lifecycle re-runs.
    const none = await rerunCli([uniqueId('no-such-workflow')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/rerun refused: no workflow no-such-workflow-\S+ in namespace "[^"]+"/);
    const health = await harness.client.workflow.start('healthCheck', { taskQueue: harness.taskQueue, workflowId: uniqueId('health'), args: [{ timer: '10ms' }] });
    await health.result();
    const unknown = await rerunCli([health.workflowId, '--json']);
    expect(unknown.code).toBe(1);
    // The list names every lifecycle's re-runnable types; audience sync's are among them.
    const refused = (JSON.parse(unknown.stdout) as { refused: string }).refused;
    expect(refused).toMatch(/^ttsync does not know how to re-run workflows of type healthCheck \(it re-runs [^)]+\)/);
    for (const type of ['audienceSync', 'audienceSyncTick', 'audienceSyncPreview']) expect(refused.match(/\(it re-runs ([^)]+)\)/)![1]!.split(', ')).toContain(type);
  });
});

const run0Id = (handle: WorkflowHandle): string => handle.workflowId;
const firstRunOf = (workflowId: string): string => harness.started.find((s) => s.workflowId === workflowId)!.firstRunId;
