import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyProgram, importAccounts, recordDecision } from '../../../src/san-migration/client';
import { noticeMessageId } from '../../../src/notices';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { account, app, program, startSanWorld, waitForStatus, type SanWorld } from './harness';
import { runHistories } from '../../helpers/workflowHistory';
import { announceCutover } from '../../../src/san-migration/client';
import type { SanMigrationWorkflow } from '../../../src/san-migration/messages';
import { sanMigrationRerun } from '../../../src/san-migration/rerun';
import { rerun, RerunRefused } from '../../../src/temporal/rerun';
import { rejectionOf } from '../../helpers/rejection';

/*
 * The seed's update of February 14, compressed to seconds: opt-out mode. One account opts
 * out in time, one tries after the deadline and is refused with the deadline named, one does
 * nothing and is provisioned. Then a program switched mid-way from opt-in to opt-out re-plans
 * running workflows, keeping the decisions it allows.
 */

const ADV = ['7000000000000000201', '7000000000000000202', '7000000000000000203', '7000000000000000204', '7000000000000000205', '7000000000000000206', '7000000000000000207'];
let w: SanWorld;

beforeAll(async () => {
  w = await startSanWorld('optout', ADV);
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('opt-out program', () => {
  it('opts out before the deadline / refused after it, naming the deadline / does nothing and is provisioned', async () => {
    await importAccounts(w.stores.config, [
      account('acct-d', ADV[0]!, [app('d-android', 'android', '7200000000000000201')]),
      account('acct-e', ADV[1]!, [app('e-ios', 'ios', '7200000000000000202')]),
      account('acct-f', ADV[2]!, [app('f-android', 'android', '7200000000000000203'), app('f-ios', 'ios', '7200000000000000204')]),
    ]);
    const p = program({ programId: 'tiktok-san', revision: 'optout-1', mode: 'opt_out', deadlineIn: 16, provisioningIn: 18, targetIn: 60, reminderOffsets: ['5s'] });
    await applyProgram(w.client, w.stores.config, p, w.queues);

    const d = await recordDecision(w.client, 'acct-d', 'opt_out', { by: 'ceo@acct-d.example' }, w.queues);
    expect(d).toMatchObject({ noop: false, decision: { kind: 'opt_out', sentence: p.sentences.optOut } });
    const dFinal = await waitForStatus(w, 'acct-d', (s) => s.phase === 'opted_out', 'opted_out');
    expect(dFinal.apps.map((a) => a.state)).toEqual(['opted_out']);
    expect(dFinal.finalNote).toContain('legacy integration stays untouched');
    // Its workflow ended with that status, and the legacy integration is as it was.
    expect(await w.client.workflow.getHandle(WorkflowIds.sanMigration('acct-d')).result()).toMatchObject({ phase: 'opted_out' });
    expect((await w.stores.config.getAccount('acct-d'))!.value.apps[0]).toMatchObject({ active: 'legacy' });
    expect((await w.stores.config.getAccount('acct-d'))!.value.apps[0]!.san).toBeUndefined();

    // E waits past the deadline (D's settling comes after it), then tries: refused, naming it.
    const err = await rejectionOf(recordDecision(w.client, 'acct-e', 'opt_out', { by: 'late@acct-e.example' }, w.queues), WorkflowUpdateFailedError);
    expect(err.cause?.message).toContain(`the decision deadline of program tiktok-san was ${p.decisionDeadline}`);
    expect((await w.stores.config.getAccount('acct-e'))!.value.decision).toBeUndefined();

    // E and F are provisioned (enrolled unless they opted out), both apps of F.
    const f = await waitForStatus(w, 'acct-f', (s) => s.phase === 'awaiting_cutover', 'provisioning');
    expect(f.apps.map((a) => a.state)).toEqual(['provisioned', 'provisioned']);
    expect(f.decision).toBeNull();
    const e = await waitForStatus(w, 'acct-e', (s) => s.phase === 'awaiting_cutover', 'provisioning');
    expect(e.decision).toBeNull();
    expect((await w.stores.config.getAccount('acct-f'))!.value.apps.map((a) => a.san?.source)).toEqual(['provisioned', 'provisioned']);

    // Reminders in opt-out mode carry the opt-out sentence; D, who answered early, got none.
    const fKey = `san-migration/acct-f/reminder/${p.decisionDeadline}/5s`;
    expect((await w.outbox.get(fKey))!.text).toContain(p.sentences.optOut);
    expect(await w.outbox.get(`san-migration/acct-d/reminder/${p.decisionDeadline}/5s`)).toBeNull();
    const fMail = (await w.mailpit.list()).find((m) => `<${m.MessageID}>` === noticeMessageId(fKey))!;
    expect(fMail.To.map((t) => t.Address)).toEqual(['ua@acct-f.example']);
    expect((await w.mailpit.message(fMail.ID)).Text).toContain(p.sentences.optOut);

    // Provisioning again (a program re-applied) writes nothing new: the same SAN integrations.
    const before = (await w.stores.config.getAccount('acct-f'))!;
    await applyProgram(w.client, w.stores.config, p, w.queues);
    await waitForStatus(w, 'acct-f', (s) => s.phase === 'awaiting_cutover', 'awaiting cutover again');
    expect((await w.stores.config.getAccount('acct-f'))!.version).toBe(before.version);
  }, 240_000);

  it('a program switched from opt-in to opt-out mid-way re-plans running workflows and keeps the decisions it allows', async () => {
    const store = w.stores.config;
    await importAccounts(store, [account('acct-g', ADV[3]!, [app('g-android', 'android', '7200000000000000205')]), account('acct-h', ADV[4]!, [app('h-ios', 'ios', '7200000000000000206')])]);
    // Program apply reaches every account of the store; D, E and F keep what they decided and got.
    const first = program({ programId: 'tiktok-san', revision: 'switch-1', mode: 'opt_in', deadlineIn: 3600, provisioningIn: 3700, targetIn: 7200 });
    await applyProgram(w.client, store, first, w.queues);
    // H says no under opt-in: a no-op there, recorded.
    const h = await recordDecision(w.client, 'acct-h', 'opt_out', { by: 'cmo@acct-h.example' }, w.queues);
    expect(h.noop).toBe(true);
    const g0 = await waitForStatus(w, 'acct-g', (s) => s.program.revision === 'switch-1' && s.next !== null, 'first program');
    expect(g0.next).toMatchObject({ at: expect.any(String) });
    expect(Date.parse(g0.next!.at)).toBeGreaterThan(Date.now() + 60_000);

    // The update: opt-out, deadline in seconds. G's sleeping timer moves; H's opt-out now counts.
    const second = program({ programId: 'tiktok-san', revision: 'switch-2', mode: 'opt_out', deadlineIn: 5, provisioningIn: 7, targetIn: 60, reminderOffsets: ['3s'] });
    await applyProgram(w.client, store, second, w.queues);
    const g = await waitForStatus(w, 'acct-g', (s) => s.phase === 'awaiting_cutover', 'provisioned under the new program');
    expect(g.program.revision).toBe('switch-2');
    expect(g.apps.map((a) => a.state)).toEqual(['provisioned']);
    const hFinal = await waitForStatus(w, 'acct-h', (s) => s.phase === 'opted_out', 'opted out under the new program');
    expect(hFinal.decision).toMatchObject({ kind: 'opt_out', by: 'cmo@acct-h.example', programRevision: 'switch-1' });
    expect((await store.getAccount('acct-h'))!.value.apps[0]!.san).toBeUndefined();
  }, 240_000);

  it('refuses to run under any id but san-migration:<accountId>, before any activity', async () => {
    const h = await w.client.workflow.start('sanMigration', { taskQueue: w.queues.taskQueue, workflowId: `stray-${Date.now()}`, args: [{ accountId: 'acct-d', activityQueue: w.queues.activityQueue }] });
    const err = await rejectionOf(h.result(), WorkflowFailedError);
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    expect((err.cause as ApplicationFailure).type).toBe('WrongWorkflowId');
    expect(err.cause?.message).toContain('must run as workflow id "san-migration:acct-d"');
    const history = await h.fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  }, 60_000);

  it('continues as new after its steps, carrying decision, notices and app states into the next run', async () => {
    await importAccounts(w.stores.config, [account('acct-k', ADV[5]!, [app('k-android', 'android', '7200000000000000207')])]);
    const p = program({ programId: 'tiktok-san', revision: 'can-1', mode: 'opt_out', deadlineIn: 8, provisioningIn: 9, targetIn: 600, reminderOffsets: ['3s'], noticeDays: 7 / 86_400 });
    // One step per run: the provisioning ends the first run (a reminder before the decision, if
    // the machine is slow, one more), the cutover is in the last, which completes.
    const h = await w.client.workflow.start<SanMigrationWorkflow>('sanMigration', {
      taskQueue: w.queues.taskQueue,
      workflowId: WorkflowIds.sanMigration('acct-k'),
      args: [{ accountId: 'acct-k', program: p, activityQueue: w.queues.activityQueue, stepsPerRun: 1 }],
    });
    await recordDecision(w.client, 'acct-k', 'opt_in', { by: 'ops@acct-k.example' }, w.queues);
    await waitForStatus(w, 'acct-k', (s) => s.phase === 'awaiting_cutover', 'provisioned');
    await announceCutover(w.client, 'acct-k', { appId: 'k-android', at: new Date(Date.now() + 1000).toISOString() }, w.queues);
    const done = await h.result();
    expect(done).toMatchObject({ phase: 'completed', decision: { kind: 'opt_in', by: 'ops@acct-k.example' }, apps: [{ state: 'cut_over' }] });
    expect(done.notices.map((n) => n.kind).filter((k) => k !== 'reminder')).toEqual(['provisioned', 'cutover_notice', 'short_notice', 'cut_over']);
    let runs = 0;
    for await (const history of runHistories(w.client, h.workflowId, h.firstExecutionRunId)) {
      runs++;
      expect(history.events!.length).toBeLessThan(100);
    }
    expect(runs).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a run failed on a missing account re-runs from its failed step once the account is imported (ttsync rerun)', async () => {
    const p = program({ programId: 'tiktok-san', revision: 'rerun-1', mode: 'opt_out', deadlineIn: 3600, provisioningIn: 3700, targetIn: 7200 });
    const h = await w.client.workflow.start<SanMigrationWorkflow>('sanMigration', {
      taskQueue: w.queues.taskQueue,
      workflowId: WorkflowIds.sanMigration('acct-z'),
      args: [{ accountId: 'acct-z', program: p, activityQueue: w.queues.activityQueue }],
    });
    const failed = await rejectionOf(h.result(), WorkflowFailedError);
    expect(String((failed.cause as Error & { cause?: Error })?.cause?.message)).toContain('account acct-z is not in the partner-config store');
    await importAccounts(w.stores.config, [account('acct-z', ADV[6]!, [app('z-ios', 'ios', '7200000000000000208')])]);
    const r = await rerun(w.client, [sanMigrationRerun], { workflowId: h.workflowId, uiUrl: 'http://127.0.0.1:8233' });
    expect(r).toMatchObject({ action: 'reset', resetTo: 'last-good', lifecycle: 'san-migration', fromRunId: h.firstExecutionRunId });
    const s = await waitForStatus(w, 'acct-z', (x) => x.phase === 'awaiting_decision' && x.next !== null, 'running again');
    expect(s.apps.map((a) => a.appId)).toEqual(['z-ios']);
    // Running, it has nothing to re-run: refused with what to do instead.
    const refused = await rejectionOf(rerun(w.client, [sanMigrationRerun], { workflowId: h.workflowId, uiUrl: 'http://127.0.0.1:8233' }), RerunRefused);
    expect(refused.message).toContain('has nothing to re-run');
    await w.client.workflow.getHandle(h.workflowId).terminate('test over');
  }, 120_000);
});
