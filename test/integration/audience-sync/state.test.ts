import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import { requestAudienceSync, waitForAudienceCycle } from '../../../src/audience-sync/client';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { AudienceSyncWorkflowType, type AudienceSyncStatus } from '../../../src/audience-sync/messages';
import { SearchAttributeKeys } from '../../../src/temporal/searchAttributes';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { cliAgainstTestServer } from '../../helpers/cli';
import { pad, range } from '../../helpers/syntheticPeople';

/*
 * Issue 12, "every state visible": what an operator sees of a destination in every state,
 * from the CLI (a separate process, as run by hand) and from Temporal's own views (list
 * filters on SyncState, the workflow's current details): a workflow that failed on its input,
 * one that was terminated, a paused one with requests queued behind it.
 */

const TOKEN_VAR = 'TTSYNC_TEST_AUDIENCE_STATE_TOKEN';
const harness = useAudienceHarness({ name: 'state', emulator: { processingDelay: 200 }, tokenVar: TOKEN_VAR, destinations: { label: 'state test' } });
const { taskQueue, queues } = harness;
const workflowIds: string[] = [];

afterAll(async () => {
  for (const id of workflowIds) await harness.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
});

function destination(advertiserId: string): DestinationConfigInput {
  const config = harness.destination(advertiserId);
  workflowIds.push(WorkflowIds.audienceSync(config.destinationId));
  return config;
}

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => `user${i}@example.com,(212) 201-${pad(i, 4)}`)].join('\n') + '\n');
  return `file://${path}`;
}

const cli = (args: string[]) => cliAgainstTestServer(args, { timeoutMs: 60_000 });

/** Visibility is eventually consistent: polls a list query until it finds `workflowId` (or not, with `present` false). */
async function listed(query: string, workflowId: string, present = true, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids: string[] = [];
    for await (const w of harness.client.workflow.list({ query })) ids.push(w.workflowId);
    if (ids.includes(workflowId) === present) return;
    if (Date.now() > deadline) throw new Error(`${query}: ${workflowId} ${present ? 'never listed' : 'still listed'} (got ${ids.join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The run id of a workflow's first run (its continue-as-new chain starts there). */
async function firstRun(workflowId: string): Promise<string> {
  const d = await harness.client.workflow.getHandle(workflowId).describe();
  const id = d.raw.workflowExecutionInfo?.firstRunId;
  if (!id) throw new Error(`${workflowId}: the server gives no first run id`);
  return id;
}

/** The workflow's current details, as the UI reads them (the SDK's built-in metadata query). */
async function currentDetails(workflowId: string): Promise<string> {
  const meta = await harness.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

describe('every state visible', { timeout: 120_000 }, () => {
  it('a destination config pasted as the whole input fails with the expected shape, and status shows that failure', async () => {
    const config = destination(harness.newAdvertiser());
    const workflowId = WorkflowIds.audienceSync(config.destinationId);
    // What an operator does in the UI's start form: the config alone, without {"config": …}.
    const handle = await harness.client.workflow.start(AudienceSyncWorkflowType.sync, { taskQueue, workflowId, args: [config] });
    const err: unknown = await handle.result().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidConfig');
    expect(cause?.message).toContain('looks like a destination config on its own; wrap it as {"config": {...}, "snapshot": {"uri": ...}}');

    const shown = await cli(['audience', 'status', config.destinationId]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/state +failed at \d{4}-.*, not running\n/);
    expect(shown.stdout).toMatch(/failure +InvalidConfig: invalid workflow input: it looks like a destination config on its own/);
    // It failed before its status query existed: nothing to show, and no wait for an answer.
    expect(shown.stdout).not.toContain('last_phase');
    expect(shown.stderr).toBe(`ttsync: ${workflowId} is failed, not running\n`);

    // By the workflow id too, as copied from the UI; --json for scripts.
    const json = await cli(['audience', 'status', workflowId, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      destinationId: config.destinationId,
      running: false,
      workflowId,
      runId: handle.firstExecutionRunId,
      executionStatus: 'FAILED',
      failure: { type: 'InvalidConfig', message: expect.stringContaining('wrap it as') },
      lastStatus: null,
    });
    // A control command says why it cannot reach the workflow.
    const paused = await cli(['audience', 'pause', workflowId]);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toContain('is failed, not running: InvalidConfig: invalid workflow input');
  });

  it('a terminated workflow: status gives the reason, and the last phase it reached', async () => {
    const advertiserId = harness.newAdvertiser();
    await harness.issueToken(advertiserId);
    const config = destination(advertiserId);
    const handle = await harness.start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}.csv`, range(0, 50)) } });
    await waitForStatus(handle, cycleDone(1));
    await handle.terminate('retired by the operator');
    const shown = await cli(['audience', 'status', config.destinationId]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/state +terminated at .*, not running\n/);
    expect(shown.stdout).toMatch(/failure +TerminatedFailure: retired by the operator\n/);
    // The worker still answers the closed run's status query (it replays it).
    expect(shown.stdout).toMatch(/last_phase +(synced|too_small_to_target) after 1 cycle\n/);
  });

  it('paused: SyncState=paused in list filters, queued requests in status and current details; resume restores the phase and runs them', async () => {
    const advertiserId = harness.newAdvertiser();
    await harness.issueToken(advertiserId);
    const config = destination(advertiserId);
    const workflowId = WorkflowIds.audienceSync(config.destinationId);
    const r1 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1200)) }, taskQueue, queues, timing: DEFAULT_TIMING });
    const s1 = await waitForAudienceCycle(harness.client, config.destinationId, 0, { requestId: r1.requestId, pollMs: 50 });
    expect(s1.phase).toBe('synced');
    expect(await currentDetails(workflowId)).toContain(`**synced** · destination ${config.destinationId} · advertiser ${advertiserId} · audience ${s1.audienceId}`);
    expect(await currentDetails(workflowId)).toMatch(/Last sync .* \(snapshot\): \+2400 \/ -0, 0 rejected, \d+ files/);
    // The UI's summary of the workflow, given at its start: on the first run only (1.24's continue-as-new takes no user metadata).
    const first = harness.client.workflow.getHandle(workflowId, await firstRun(workflowId));
    expect(await (await first.describe()).staticSummary()).toBe(`TikTok audience sync: destination ${config.destinationId} → advertiser ${advertiserId}`);
    expect(await (await harness.client.workflow.getHandle(workflowId).describe()).staticSummary()).toBeUndefined();

    const byDestination = `DestinationId="${config.destinationId}"`;
    await listed(`SyncState="synced" AND ${byDestination}`, workflowId);
    // Paused by the workflow id, as copied from the UI.
    const paused = await cli(['audience', 'pause', workflowId]);
    expect(paused).toMatchObject({ code: 0, stdout: `pause: signalled ${workflowId} (phase was synced)\n` });
    await listed(`SyncState="paused" AND ${byDestination}`, workflowId);
    expect((await harness.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(SearchAttributeKeys.SyncState)).toBe('paused');

    // A request made while paused is queued, and status says so (it used to show pendingBatches 0 and nothing else).
    const snapshot2 = writeSnapshot(`${config.destinationId}-2.csv`, range(100, 1300));
    const r2 = await requestAudienceSync(harness.client, { config, snapshot: { uri: snapshot2 }, taskQueue, queues, timing: DEFAULT_TIMING });
    expect(r2.heldBy).toContain('paused');
    const held: AudienceSyncStatus = await waitForStatus(harness.client.workflow.getHandle(workflowId), (s) => (s.queued?.snapshot?.requestIds ?? []).includes(r2.requestId!));
    expect(held).toMatchObject({ phase: 'synced', paused: true, cycles: 1, queued: { snapshot: { uri: snapshot2, requestIds: [r2.requestId] }, batches: 0, flushRequestIds: [] } });
    const status = await cli(['audience', 'status', config.destinationId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/\nphase +synced \(paused\)\n/);
    expect(status.stdout).toMatch(new RegExp(`queued +snapshot ${snapshot2.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\[request ${r2.requestId}\\] \\(held: paused, signal resume\\)\\n`));
    const json = JSON.parse((await cli(['audience', 'status', workflowId, '--json'])).stdout) as AudienceSyncStatus;
    expect(json.queued).toEqual({ snapshot: { uri: snapshot2, requestIds: [r2.requestId] }, batches: 0, flushRequested: false, flushRequestIds: [] });
    expect(await currentDetails(workflowId)).toContain(`**paused (synced)**`);
    expect(await currentDetails(workflowId)).toContain(`Queued: snapshot ${snapshot2}`);

    const resumed = await cli(['audience', 'resume', config.destinationId]);
    expect(resumed.code).toBe(0);
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, r2.cyclesBefore, { requestId: r2.requestId, pollMs: 50 });
    expect(s2).toMatchObject({ phase: 'synced', paused: false, cycles: 2, queued: { batches: 0, flushRequested: false, flushRequestIds: [] } });
    expect(s2.queued?.snapshot).toBeUndefined();
    await listed(`SyncState="synced" AND ${byDestination}`, workflowId);
    await listed(`SyncState="paused" AND ${byDestination}`, workflowId, false);
  });
});
