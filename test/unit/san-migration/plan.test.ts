import { describe, expect, it } from 'vitest';
import { ProgramSchema, SAN_NETWORK_NAME, type ProgramInput } from '../../../src/san-migration/model';
import type { AccountSummary, SanMigrationStatus } from '../../../src/san-migration/messages';
import { acceptCutover, decide, isEnrolled, planNext, settledApps } from '../../../src/san-migration/plan';
import { initialStatus, mergeAccount } from '../../../src/san-migration/status';

// The seed's two programs, with made-up sentences (dates as published: deadline, provisioning, target).
const optInProgram: ProgramInput = {
  programId: 'tiktok-san',
  revision: '2023-07-26',
  mode: 'opt_in',
  decisionDeadline: '2023-09-01T23:59:59Z',
  provisioningDate: '2023-09-05T00:00:00Z',
  targetCompletionDate: '2024-03-20T00:00:00Z',
  reminderOffsets: ['14d', '3d'],
  sentences: { optIn: 'Include us in the SAN migration.', optOut: 'Leave us out of the SAN migration.' },
};
const optOutProgram: ProgramInput = {
  ...optInProgram,
  revision: '2024-02-14',
  mode: 'opt_out',
  decisionDeadline: '2024-03-07T23:59:59Z',
  provisioningDate: '2024-03-11T00:00:00Z',
  targetCompletionDate: '2024-03-20T00:00:00Z',
};

const account: AccountSummary = {
  accountId: 'acme',
  advertiserId: '7000000000000000001',
  apps: [
    { appId: 'acme-android', platform: 'android', tiktokAppId: '7200000000000000001', sanSource: null, active: 'legacy', networkName: 'TikTok for Business – Android' },
    { appId: 'acme-ios', platform: 'ios', tiktokAppId: '7200000000000000002', sanSource: null, active: 'legacy', networkName: 'TikTok for Business – iOS' },
  ],
  decision: null,
};

const t = (iso: string) => Date.parse(iso);
const status = (program: ProgramInput, patch: Partial<SanMigrationStatus> = {}): SanMigrationStatus => ({ ...initialStatus(account, ProgramSchema.parse(program)), ...patch });
const decision = (kind: 'opt_in' | 'opt_out') => ({ kind, by: 'cto@acme.example', at: '2023-08-01T00:00:00.000Z', sentence: 's', programId: 'tiktok-san', programRevision: '2023-07-26' });

describe('enrolled', () => {
  it('opt-in mode enrols only an opt-in; opt-out mode everyone but an opt-out', () => {
    expect(isEnrolled('opt_in', null)).toBe(false);
    expect(isEnrolled('opt_in', { kind: 'opt_in' })).toBe(true);
    expect(isEnrolled('opt_in', { kind: 'opt_out' })).toBe(false);
    expect(isEnrolled('opt_out', null)).toBe(true);
    expect(isEnrolled('opt_out', { kind: 'opt_in' })).toBe(true);
    expect(isEnrolled('opt_out', { kind: 'opt_out' })).toBe(false);
  });
});

describe('reminders', () => {
  it('wakes 14 days before the deadline, then 3 days before, then at the deadline', () => {
    const s = status(optInProgram);
    const p1 = planNext(s, t('2023-08-01T00:00:00Z'));
    expect(p1).toMatchObject({ phase: 'awaiting_decision', step: null, wakeAt: t('2023-08-18T23:59:59Z') });
    const p2 = planNext(s, t('2023-08-18T23:59:59Z'));
    expect(p2.step).toEqual({ kind: 'remind', key: '2023-09-01T23:59:59Z|14d', offset: '14d', handled: ['2023-09-01T23:59:59Z|14d'] });
    const after = { ...s, remindersHandled: ['2023-09-01T23:59:59Z|14d'] };
    expect(planNext(after, t('2023-08-20T00:00:00Z')).wakeAt).toBe(t('2023-08-29T23:59:59Z'));
    const all = { ...s, remindersHandled: ['2023-09-01T23:59:59Z|14d', '2023-09-01T23:59:59Z|3d'] };
    expect(planNext(all, t('2023-08-30T00:00:00Z'))).toMatchObject({ step: null, wakeAt: t('2023-09-01T23:59:59Z'), wakeFor: 'decision deadline' });
  });

  it('a late start sends only the latest due reminder and settles the earlier one', () => {
    const p = planNext(status(optInProgram), t('2023-08-30T12:00:00Z'));
    expect(p.step).toEqual({ kind: 'remind', key: '2023-09-01T23:59:59Z|3d', offset: '3d', handled: ['2023-09-01T23:59:59Z|14d', '2023-09-01T23:59:59Z|3d'] });
  });

  it('no reminder once the account decided, and none after the deadline', () => {
    expect(planNext(status(optInProgram, { decision: decision('opt_in') }), t('2023-08-30T00:00:00Z'))).toMatchObject({ step: null, wakeAt: t('2023-09-01T23:59:59Z') });
    expect(planNext(status(optInProgram), t('2023-09-02T00:00:00Z')).step).toEqual({ kind: 'settle' });
  });

  it('a program update with a new deadline gets reminders of its own', () => {
    const s = status(optOutProgram, { remindersHandled: ['2023-09-01T23:59:59Z|14d', '2023-09-01T23:59:59Z|3d'] });
    expect(planNext(s, t('2024-02-23T00:00:00Z')).step).toMatchObject({ kind: 'remind', key: '2024-03-07T23:59:59Z|14d' });
  });
});

describe('after the deadline', () => {
  it('opt-in program: no opt-in settles as not_enrolled, legacy kept', () => {
    const s = status(optInProgram);
    expect(planNext(s, t('2023-09-02T00:00:00Z'))).toMatchObject({ phase: 'not_enrolled', step: { kind: 'settle' } });
    expect(settledApps(s).map((a) => a.state)).toEqual(['legacy', 'legacy']);
    expect(planNext({ ...s, finalNote: 'x' }, t('2023-09-02T00:00:00Z'))).toMatchObject({ phase: 'not_enrolled', step: null, wakeAt: null });
  });

  it('opt-in program: an opt-in waits for the provisioning date, then provisions', () => {
    const s = status(optInProgram, { decision: decision('opt_in') });
    expect(planNext(s, t('2023-09-03T00:00:00Z'))).toMatchObject({ phase: 'awaiting_provisioning', step: null, wakeAt: t('2023-09-05T00:00:00Z'), wakeFor: 'provisioning date' });
    expect(planNext(s, t('2023-09-05T00:00:00Z'))).toMatchObject({ phase: 'provisioning', step: { kind: 'provision' } });
  });

  it('opt-out program: nothing said is enrolled; an opt-out settles with apps opted_out, self-configured ones kept', () => {
    expect(planNext(status(optOutProgram), t('2024-03-11T00:00:00Z')).step).toEqual({ kind: 'provision' });
    const out = status(optOutProgram, { decision: decision('opt_out') });
    out.apps[1] = { ...out.apps[1]!, state: 'self_configured', sanSource: 'self_configured' };
    expect(planNext(out, t('2024-03-08T00:00:00Z'))).toMatchObject({ phase: 'opted_out', step: { kind: 'settle' } });
    expect(settledApps(out).map((a) => a.state)).toEqual(['opted_out', 'self_configured']);
  });

  it('provisioned apps wait for cutover; the target date flags, once per date', () => {
    const s = status(optOutProgram);
    s.apps = s.apps.map((a) => ({ ...a, state: 'provisioned' as const }));
    expect(planNext(s, t('2024-03-12T00:00:00Z'))).toMatchObject({ phase: 'awaiting_cutover', step: null, wakeAt: t('2024-03-20T00:00:00Z') });
    expect(planNext(s, t('2024-03-20T00:00:00Z')).step).toEqual({ kind: 'target_check' });
    expect(planNext({ ...s, targetCheckedFor: '2024-03-20T00:00:00Z' }, t('2024-03-21T00:00:00Z'))).toMatchObject({ step: null, wakeAt: null });
  });

  it('a cutover is due at TikTok time, before anything else; all cut over is completed', () => {
    const s = status(optOutProgram);
    s.apps = [
      { ...s.apps[0]!, state: 'notice_sent', cutover: { at: '2024-03-14T09:00:00.000Z', announcedAt: '2024-03-11T09:00:00.000Z', shortNotice: true } },
      { ...s.apps[1]!, state: 'cut_over', networkName: SAN_NETWORK_NAME },
    ];
    expect(planNext(s, t('2024-03-13T00:00:00Z'))).toMatchObject({ step: null, wakeAt: t('2024-03-14T09:00:00Z'), wakeFor: 'cutover of app acme-android' });
    expect(planNext(s, t('2024-03-20T00:00:00Z')).step).toEqual({ kind: 'cutover', appId: 'acme-android' });
    s.apps[0] = { ...s.apps[0]!, state: 'cut_over' };
    expect(planNext(s, t('2024-03-15T00:00:00Z'))).toMatchObject({ phase: 'completed', step: null, wakeAt: null });
  });
});

describe('decisions', () => {
  const at = t('2023-08-10T10:00:00Z');
  it('an opt-in in an opt-in program is recorded with who, when and the sentence', () => {
    const r = decide(status(optInProgram), 'opt_in', { by: 'cto@acme.example', message: 'yes please' }, at);
    expect(r).toEqual({
      result: {
        noop: false,
        decision: { kind: 'opt_in', by: 'cto@acme.example', at: '2023-08-10T10:00:00.000Z', sentence: 'Include us in the SAN migration.', message: 'yes please', programId: 'tiktok-san', programRevision: '2023-07-26' },
      },
    });
  });

  it('after the deadline it is refused, naming the deadline', () => {
    const r = decide(status(optOutProgram), 'opt_out', { by: 'x@acme.example' }, t('2024-03-08T00:00:00Z'));
    expect('problem' in r && r.problem).toContain('2024-03-07T23:59:59Z');
    expect('problem' in r && r.problem).toContain('provisioned on 2024-03-11T00:00:00Z');
  });

  it('the deadline itself still counts', () => {
    expect('result' in decide(status(optOutProgram), 'opt_out', { by: 'x@acme.example' }, t('2024-03-07T23:59:59Z'))).toBe(true);
  });

  it('against the mode only as a no-op', () => {
    // Opt-out in an opt-in program without an opt-in: changes nothing, recorded.
    const noop = decide(status(optInProgram), 'opt_out', { by: 'a@acme.example' }, at);
    expect(noop).toMatchObject({ result: { noop: true, decision: { kind: 'opt_out' } } });
    // After an opt-in it would undo it: refused.
    const undo = decide(status(optInProgram, { decision: decision('opt_in') }), 'opt_out', { by: 'a@acme.example' }, at);
    expect('problem' in undo && undo.problem).toMatch(/opt-in mode .* already recorded an opt-in/);
    const undoOut = decide(status(optOutProgram, { decision: decision('opt_out') }), 'opt_in', { by: 'a@acme.example' }, t('2024-03-01T00:00:00Z'));
    expect('problem' in undoOut && undoOut.problem).toMatch(/opt-out mode .* already recorded an opt-out/);
    expect(decide(status(optOutProgram), 'opt_in', { by: 'a@acme.example' }, t('2024-03-01T00:00:00Z'))).toMatchObject({ result: { noop: true } });
  });

  it('the same decision twice keeps the first record', () => {
    const first = decision('opt_in');
    expect(decide(status(optInProgram, { decision: first }), 'opt_in', { by: 'other@acme.example' }, at)).toEqual({ result: { decision: first, noop: true } });
  });

  it('needs who decided', () => {
    expect(decide(status(optInProgram), 'opt_in', { by: ' ' }, at)).toHaveProperty('problem');
  });

  it('a decision recorded under opt-in stays valid under opt-out where it fits', () => {
    expect(planNext(status(optOutProgram, { decision: decision('opt_out') }), t('2024-03-08T00:00:00Z')).phase).toBe('opted_out');
    expect(planNext(status(optOutProgram, { decision: decision('opt_in') }), t('2024-03-11T00:00:00Z')).phase).toBe('provisioning');
  });
});

describe('cutover announcements', () => {
  const provisioned = () => {
    const s = status(optOutProgram);
    s.apps = s.apps.map((a) => ({ ...a, state: 'provisioned' as const }));
    return s;
  };
  it('less than noticeDays is short notice', () => {
    const now = t('2024-03-12T00:00:00Z');
    expect(acceptCutover(provisioned(), { appId: 'acme-ios', at: '2024-03-15T00:00:00Z' }, now)).toEqual({ accepted: { appId: 'acme-ios', at: '2024-03-15T00:00:00.000Z', shortNotice: true, noticeHours: 72 } });
    expect(acceptCutover(provisioned(), { appId: 'acme-ios', at: '2024-03-19T00:00:00Z' }, now)).toMatchObject({ accepted: { shortNotice: false, noticeHours: 168 } });
  });
  it('noticeDays may be a fraction, for drills in seconds', () => {
    const s = { ...provisioned(), program: { ...provisioned().program, noticeDays: 7 / 86_400 } };
    const now = t('2024-03-12T00:00:00Z');
    expect(acceptCutover(s, { appId: 'acme-ios', at: '2024-03-12T00:00:03Z' }, now)).toMatchObject({ accepted: { shortNotice: true } });
    expect(acceptCutover(s, { appId: 'acme-ios', at: '2024-03-12T00:00:08Z' }, now)).toMatchObject({ accepted: { shortNotice: false } });
  });
  it('refuses unknown apps, apps without SAN, and times without a zone', () => {
    const now = t('2024-03-12T00:00:00Z');
    expect(acceptCutover(provisioned(), { appId: 'nope', at: '2024-03-19T00:00:00Z' }, now)).toHaveProperty('problem');
    expect(acceptCutover(status(optOutProgram), { appId: 'acme-ios', at: '2024-03-19T00:00:00Z' }, now)).toMatchObject({ problem: expect.stringContaining('no SAN integration (state legacy)') });
    expect(acceptCutover(provisioned(), { appId: 'acme-ios', at: '2024-03-19 00:00:00' }, now)).toMatchObject({ problem: expect.stringContaining('with its zone') });
  });
});

describe('the store is the truth about integrations', () => {
  it('a SAN integration made elsewhere shows as self_configured; an App ID recorded later re-opens provisioning', () => {
    const s = status(optOutProgram);
    s.apps[1] = { ...s.apps[1]!, state: 'needs_app_id', tiktokAppId: 'N/A', advice: 'x' };
    const merged = mergeAccount(s, {
      ...account,
      apps: [{ ...account.apps[0]!, sanSource: 'self_configured' }, account.apps[1]!, { appId: 'new', platform: 'ios', tiktokAppId: 'N/A', sanSource: null, active: 'legacy', networkName: 'n' }],
    });
    expect(merged.apps.map((a) => [a.appId, a.state])).toEqual([
      ['acme-android', 'self_configured'],
      ['acme-ios', 'legacy'],
      ['new', 'legacy'],
    ]);
  });
  it('a workflow-known state (notice sent) is kept over the store', () => {
    const s = status(optOutProgram);
    s.apps[0] = { ...s.apps[0]!, state: 'notice_sent', sanSource: 'provisioned' };
    const merged = mergeAccount(s, { ...account, apps: [{ ...account.apps[0]!, sanSource: 'provisioned' }] });
    expect(merged.apps).toHaveLength(1);
    expect(merged.apps[0]!.state).toBe('notice_sent');
  });
});
