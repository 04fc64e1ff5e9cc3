import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceCutover, applyProgram, importAccounts, recordDecision } from '../../../src/san-migration/client';
import { markSelfConfigured } from '../../../src/san-migration/provision';
import { noticeMessageId } from '../../../src/notices';
import { SAN_NETWORK_NAME } from '../../../src/san-migration/model';
import { openBlob } from '../../../src/storage';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { decodedText } from '../../helpers/workflowHistory';
import { OPERATORS, account, app, program, startSanWorld, waitForStatus, type SanWorld } from './harness';

/*
 * The seed's first program, compressed to seconds by its dates: opt-in, reminders before the
 * deadline, provisioning of the account that opted in, the one that did nothing left on
 * legacy, the self-configured app left alone; then TikTok's cutover of one app with 3 "days"
 * of notice against noticeDays 7 (a day is a second here: noticeDays 7/86400).
 */

const ADV = { a: '7000000000000000101', b: '7000000000000000102', c: '7000000000000000103' };
let w: SanWorld;

beforeAll(async () => {
  w = await startSanWorld('optin', Object.values(ADV));
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('opt-in program', () => {
  it('opts in / does nothing / self-configures; cutover with short notice at TikTok time; campaigns never touched', async () => {
    await importAccounts(w.stores.config, [
      account('acct-a', ADV.a, [app('a-android', 'android', '7200000000000000101'), app('a-ios', 'ios', 'N/A')]),
      account('acct-b', ADV.b, [app('b-android', 'android', '7200000000000000102')]),
      account('acct-c', ADV.c, [app('c-ios', 'ios', '7200000000000000103')]),
    ]);
    // The advertiser of C configured SAN itself, with TikTok's approval; the MMP recorded it.
    await markSelfConfigured(w.stores.config, 'acct-c', 'c-ios', new Date('2026-01-01T00:00:00Z'));
    const cBefore = (await w.stores.config.getAccount('acct-c'))!.value.apps[0]!.san;
    // A paused the first campaign in Ads Manager: the migration reports it, never touches it.
    const campaigns = (await fetch(`${w.emu.apiBaseUrl}/campaign/get/?advertiser_id=${ADV.a}`, { headers: { 'Access-Token': w.token } }).then((r) => r.json())) as { data: { list: { campaign_id: string }[] } };
    const pausedId = campaigns.data.list[0]!.campaign_id;
    await fetch(`${w.emu.url}/_emulator/campaigns`, { method: 'POST', body: JSON.stringify({ advertiser_id: ADV.a, campaign_id: pausedId, operation_status: 'DISABLE' }) });

    const p = program({ programId: 'tiktok-san', revision: 'optin-1', mode: 'opt_in', deadlineIn: 20, provisioningIn: 22, targetIn: 45, noticeDays: 7 / 86_400, reminderOffsets: ['17s', '10s'] });
    const applied = await applyProgram(w.client, w.stores.config, p, w.queues);
    expect(applied.map((x) => x.workflowId)).toEqual(['san-migration:acct-a', 'san-migration:acct-b', 'san-migration:acct-c']);

    const a = await recordDecision(w.client, 'acct-a', 'opt_in', { by: 'cto@acct-a.example', message: 'count us in' }, w.queues);
    expect(a).toMatchObject({ noop: false, decision: { kind: 'opt_in', by: 'cto@acct-a.example', sentence: p.sentences.optIn, message: 'count us in', programId: 'tiktok-san', programRevision: 'optin-1' } });
    await recordDecision(w.client, 'acct-c', 'opt_in', { by: 'ops@acct-c.example' }, w.queues);
    // The decision is in the store, so a later program finds it.
    expect((await w.stores.config.getAccount('acct-a'))!.value.decision).toEqual(a.decision);

    // B does nothing: reminders at 17 s and 10 s before the deadline, then the legacy integration stays.
    const b = await waitForStatus(w, 'acct-b', (s) => s.phase === 'not_enrolled', 'not_enrolled');
    expect(b.apps.map((x) => x.state)).toEqual(['legacy']);
    expect(b.finalNote).toContain('did not opt in');
    expect(b.notices.filter((n) => n.kind === 'reminder').map((n) => n.key)).toEqual([
      `san-migration/acct-b/reminder/${p.decisionDeadline}/17s`,
      `san-migration/acct-b/reminder/${p.decisionDeadline}/10s`,
    ]);
    expect((await w.stores.config.getAccount('acct-b'))!.value.apps[0]!.san).toBeUndefined();

    // A opted in: provisioned on the date, mirroring the legacy setup; the N/A app needs an App ID.
    const aProv = await waitForStatus(w, 'acct-a', (s) => s.phase === 'awaiting_cutover', 'provisioning');
    expect(aProv.apps.map((x) => [x.appId, x.state])).toEqual([
      ['a-android', 'provisioned'],
      ['a-ios', 'needs_app_id'],
    ]);
    expect(aProv.apps[1]!.advice).toContain('record it in the partner-config store');
    expect(aProv.alerts.map((x) => x.kind)).toEqual(expect.arrayContaining(['paused_campaigns', 'needs_app_id']));
    expect(aProv.lastCampaignCheck).toMatchObject({ campaigns: 3, paused: 1, pausedCampaignIds: [pausedId] });
    expect(aProv.notices.filter((n) => n.kind === 'reminder')).toEqual([]);
    const storedA = (await w.stores.config.getAccount('acct-a'))!.value;
    expect(storedA.apps[0]!.san).toMatchObject({ tiktokAppId: '7200000000000000101', eventMapping: storedA.apps[0]!.legacy.eventMapping, fraudPostbacks: true, source: 'provisioned' });
    expect(storedA.apps[1]!.san).toBeUndefined();

    // C: its own SAN integration stands, untouched.
    const c = await waitForStatus(w, 'acct-c', (s) => s.phase === 'awaiting_cutover', 'awaiting cutover');
    expect(c.apps.map((x) => [x.state, x.sanSource])).toEqual([['self_configured', 'self_configured']]);
    expect((await w.stores.config.getAccount('acct-c'))!.value.apps[0]!.san).toEqual(cBefore);

    // TikTok announces A's android cutover with 3 "days" of notice (3 s; noticeDays is 7 s here).
    const at = new Date(Date.now() + 3_000).toISOString();
    const accepted = await announceCutover(w.client, 'acct-a', { appId: 'a-android', at }, w.queues);
    expect(accepted).toMatchObject({ appId: 'a-android', at, shortNotice: true });
    const cut = await waitForStatus(w, 'acct-a', (s) => s.notices.some((n) => n.kind === 'cut_over'), 'cutover');
    expect(cut.apps[0]).toMatchObject({ state: 'cut_over', cutAt: at, networkName: SAN_NETWORK_NAME, cutover: { at, shortNotice: true } });
    expect(cut.alerts.map((x) => x.kind)).toContain('short_notice');
    expect(cut.notices.map((n) => [n.kind, n.route])).toEqual(expect.arrayContaining([['cutover_notice', 'contacts'], ['short_notice', 'operators'], ['cut_over', 'contacts']]));

    // The store and the BI mapping file carry the rename, effective at TikTok's time.
    const storedCut = (await w.stores.config.getAccount('acct-a'))!.value.apps[0]!;
    expect(storedCut).toMatchObject({ active: 'san', reportingNetworkName: SAN_NETWORK_NAME, cutover: { at } });
    const { store, key } = openBlob(cut.apps[0]!.mappingUri!);
    expect((await store.readBuffer(key)).toString('utf8')).toBe(`old_network_name,new_network_name,app_id,platform,effective_time\nTikTok for Business – Android,TikTok for Business – SAN,a-android,android,${at}\n`);

    // The target date flags what is still on legacy: the app without an App ID.
    const flagged = await waitForStatus(w, 'acct-a', (s) => s.notices.some((n) => n.kind === 'target_missed'), 'target check', 60_000);
    expect(flagged.apps.map((x) => [x.appId, x.targetMissed])).toEqual([
      ['a-android', false],
      ['a-ios', true],
    ]);

    // Notices: each written once to the outbox and delivered over SMTP (Mailpit), under a
    // Message-ID derived from its key; contacts get the sentence, operators the alerts.
    const reminderKeys = [`san-migration/acct-b/reminder/${p.decisionDeadline}/17s`, `san-migration/acct-b/reminder/${p.decisionDeadline}/10s`];
    for (const key of reminderKeys) {
      const n = (await w.outbox.get(key))!;
      expect(n.route).toEqual({ email: ['ua@acct-b.example'] });
      expect(n.text).toContain(p.sentences.optIn);
      expect(n.text).toContain(p.decisionDeadline);
    }
    const cFlaggedFirst = await waitForStatus(w, 'acct-c', (s) => s.notices.some((n) => n.kind === 'target_missed'), 'target check of C');
    const mails = await w.mailpit.list();
    expect(new Set(mails.map((m) => m.MessageID)).size).toBe(mails.length);
    const byId = new Map(mails.map((m) => [`<${m.MessageID}>`, m]));
    for (const key of reminderKeys) expect(byId.get(noticeMessageId(key))?.To.map((t) => t.Address)).toEqual(['ua@acct-b.example']);
    const shortKey = cut.notices.find((n) => n.kind === 'short_notice')!.key;
    const shortMail = byId.get(noticeMessageId(shortKey))!;
    expect(shortMail.To.map((t) => t.Address)).toEqual([OPERATORS]);
    expect(shortMail.Subject).toContain('short notice: acct-a app a-android');
    const cutoverMail = byId.get(noticeMessageId(cut.notices.find((n) => n.kind === 'cutover_notice')!.key))!;
    expect(cutoverMail.To.map((t) => t.Address)).toEqual(['ua@acct-a.example']);
    expect((await w.mailpit.message(cutoverMail.ID)).Text).toContain('"TikTok for Business – SAN" instead of "TikTok for Business – Android"');
    // Every notice the workflows recorded arrived, and nothing else did.
    // C's self-configured app is not cut over either: flagged too, at the same date.
    const cFlagged = cFlaggedFirst;
    expect(cFlagged.apps.map((x) => [x.state, x.targetMissed])).toEqual([['self_configured', true]]);
    const recorded = [...b.notices, ...flagged.notices, ...cFlagged.notices].map((n) => noticeMessageId(n.key));
    expect(recorded.filter((id) => !byId.has(id))).toEqual([]);
    expect(mails).toHaveLength(recorded.length);

    // Never a status change: neither the dedicated log nor the call log has one.
    const changes = (await fetch(`${w.emu.url}/_emulator/status-changes`).then((r) => r.json())) as { statusChanges: unknown[] };
    expect(changes.statusChanges).toEqual([]);
    const calls = (await fetch(`${w.emu.url}/_emulator/calls`).then((r) => r.json())) as { calls: { path: string }[] };
    expect(calls.calls.some((x) => x.path === 'campaign/get/')).toBe(true);
    expect(calls.calls.filter((x) => /status\/update|\/update\/$/.test(x.path))).toEqual([]);

    // No token and no contact address in any history: the activities read them from the secret and the store.
    for (const id of ['acct-a', 'acct-b', 'acct-c']) {
      const text = decodedText(await w.client.workflow.getHandle(WorkflowIds.sanMigration(id)).fetchHistory());
      expect(text).toContain(id);
      expect(text).not.toContain(w.token);
      expect(text).not.toContain(`ua@${id}.example`);
    }
  }, 240_000);
});
