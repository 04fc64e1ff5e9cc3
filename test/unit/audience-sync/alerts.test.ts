import { describe, expect, it } from 'vitest';
import { AlertBook, alertNotice, type AlertEvent } from '../../../src/audience-sync/alerts';
import { DestinationConfigError, parseDestinationConfig } from '../../../src/audience-sync/config';
import type { AudienceSyncPhase } from '../../../src/audience-sync/messages';
import { NoticeRequestSchema } from '../../../src/notices/schema';

const T = '2026-12-03T10:00:00.000Z';
const brief = (events: AlertEvent[]): string[] => events.map((e) => `${e.kind} ${e.alert.state}#${e.alert.seq}`);

/** Drives a book through cycles: each cycle is the phases it passed, its last phase being how it ended. */
function run(book: AlertBook, cycles: AudienceSyncPhase[][]): string[][] {
  return cycles.map((phases, i) => {
    const out: AlertEvent[] = [];
    for (const p of phases) out.push(...book.onPhase(p, T, i + 1));
    out.push(...book.onCycleEnd(phases[phases.length - 1]!, T, i + 1));
    return brief(out);
  });
}

describe('alerts: announced once on entering a state, once on leaving it', () => {
  it.each(['error', 'too_small_to_target', 'stale_snapshot', 'audience_conflict', 'segment_conflict', 'audience_missing', 'audience_cap_reached'] as const)(
    'outcome %s: entered when a cycle ends in it, silent while cycles keep ending in it, cleared by a synced cycle',
    (state) => {
      const book = new AlertBook(undefined, 'run-1');
      expect(run(book, [['inspecting', 'synced'], ['inspecting', state], ['inspecting', state], ['inspecting', state], ['inspecting', 'synced'], ['inspecting', 'synced']])).toEqual([
        [],
        [`entered ${state}#1`],
        [],
        [],
        [`cleared ${state}#1`],
        [],
      ]);
    },
  );

  it('a cycle ending in another alert state clears the first and enters the second', () => {
    const book = new AlertBook(undefined, 'run-1');
    expect(run(book, [['error'], ['stale_snapshot'], ['synced']])).toEqual([['entered error#1'], ['cleared error#1', 'entered stale_snapshot#2'], ['cleared stale_snapshot#2']]);
  });

  it('parks: entered when the phase becomes them (once, however often it is set), cleared when the phase moves on', () => {
    const book = new AlertBook(undefined, 'run-1');
    const phases: AudienceSyncPhase[] = ['uploading', 'waiting_for_processing', 'processing_overdue', 'processing_overdue', 'processing_overdue', 'appending', 'synced'];
    expect(run(book, [phases])).toEqual([['entered processing_overdue#1', 'cleared processing_overdue#1']]);
    expect(run(book, [['uploading', 'reauthorization_required', 'uploading', 'synced']])).toEqual([['entered reauthorization_required#2', 'cleared reauthorization_required#2']]);
  });

  it('a reauthorization park inside processing_overdue leaves the overdue alert open', () => {
    const book = new AlertBook(undefined, 'run-1');
    const out = run(book, [['waiting_for_processing', 'processing_overdue', 'reauthorization_required', 'processing_overdue', 'appending', 'synced']]);
    expect(out).toEqual([['entered processing_overdue#1', 'entered reauthorization_required#2', 'cleared reauthorization_required#2', 'cleared processing_overdue#1']]);
  });

  it('an open outcome survives a park in the next cycle and clears when that cycle syncs', () => {
    const book = new AlertBook(undefined, 'run-1');
    expect(run(book, [['error'], ['uploading', 'reauthorization_required', 'uploading', 'synced']])).toEqual([
      ['entered error#1'],
      ['entered reauthorization_required#2', 'cleared reauthorization_required#2', 'cleared error#1'],
    ]);
  });

  it('what continue-as-new carries keeps the open alerts and the numbering: no repeat, no reused number', () => {
    const first = new AlertBook(undefined, 'run-1');
    run(first, [['error']]);
    const carried = JSON.parse(JSON.stringify(first.carry())) as ReturnType<AlertBook['carry']>;
    const next = new AlertBook(carried, 'run-2');
    expect(next.epoch).toBe('run-1');
    expect(run(next, [['error'], ['synced'], ['error']])).toEqual([[], ['cleared error#1'], ['entered error#2']]);
  });

  it('undelivered notices are kept (once per key, the newest 20) for the next cycle, and carried across continue-as-new', () => {
    const book = new AlertBook(undefined, 'run-1');
    const notice = (i: number) => ({ key: `k/${i}`, subject: 's', text: 't', metadata: { lifecycle: 'audience_sync', subjectId: 'd' } });
    book.failed(notice(1));
    book.failed(notice(1));
    const next = new AlertBook(JSON.parse(JSON.stringify(book.carry())) as ReturnType<AlertBook['carry']>, 'run-2');
    expect(next.takeUnsent().map((n) => n.key)).toEqual(['k/1']);
    expect(next.takeUnsent()).toEqual([]);
    expect('unsent' in next.carry()).toBe(false);
    for (let i = 0; i < 25; i++) next.failed(notice(i));
    expect(next.takeUnsent().map((n) => n.key)).toEqual(Array.from({ length: 20 }, (_, i) => `k/${i + 5}`));
  });

  it('idle or an unsettled end (a skipped cadence) clears nothing', () => {
    const book = new AlertBook(undefined, 'run-1');
    run(book, [['stale_snapshot']]);
    expect(brief(book.onCycleEnd('idle', T, 2))).toEqual([]);
    expect(brief(book.onCycleEnd('inspecting', T, 2))).toEqual([]);
    expect(book.openAlerts.map((a) => a.state)).toEqual(['stale_snapshot']);
  });
});

describe('alert notices', () => {
  const facts = {
    destinationId: 'vip-buyers',
    advertiserId: '7000000000000000001',
    audienceId: '123456',
    workflowId: 'audience-sync:vip-buyers',
    route: { email: ['ops@example.com'] },
    lastError: { at: T, phase: 'stale_snapshot' as const, type: 'StaleSnapshot', message: 'snapshot gs://x/y.csv was created 2026-11-01' },
    advice: 'export a fresh snapshot and signal snapshotLanded (or syncNow)',
  };

  it('keys name destination, epoch, alert number, state and event: the same event gives the same key, entering and clearing differ', () => {
    const book = new AlertBook(undefined, 'f3b1c2d4-0000-4000-8000-000000000001');
    const [entered] = book.onCycleEnd('stale_snapshot', T, 4);
    const a = alertNotice(entered!, book.epoch, facts);
    expect(a.key).toBe('audience-sync/vip-buyers/f3b1c2d4-0000-4000-8000-000000000001/1-stale_snapshot/entered');
    expect(alertNotice(entered!, book.epoch, facts)).toEqual(a);
    const [cleared] = book.onCycleEnd('synced', T, 5);
    const c = alertNotice(cleared!, book.epoch, { ...facts, lastError: null, advice: null });
    expect(c.key).toBe('audience-sync/vip-buyers/f3b1c2d4-0000-4000-8000-000000000001/1-stale_snapshot/cleared');
    expect(NoticeRequestSchema.parse(a)).toEqual(a);
    expect(NoticeRequestSchema.parse(c)).toEqual(c);
  });

  it('say destination, state, what happened and the advice; the route is the destination\'s, or none for the default', () => {
    const book = new AlertBook(undefined, 'e1');
    const [entered] = book.onCycleEnd('stale_snapshot', T, 4);
    const n = alertNotice(entered!, book.epoch, facts);
    expect(n.subject).toBe('[ttsync] audience vip-buyers: stale_snapshot entered');
    expect(n.text).toContain('Destination vip-buyers (advertiser 7000000000000000001, audience 123456)');
    expect(n.text).toContain('entered stale_snapshot at 2026-12-03T10:00:00.000Z (cycle 4)');
    expect(n.text).toContain('What happened: StaleSnapshot: snapshot gs://x/y.csv was created 2026-11-01');
    expect(n.text).toContain('Advice: export a fresh snapshot');
    expect(n.route).toEqual({ email: ['ops@example.com'] });
    expect(n.metadata).toEqual({ lifecycle: 'audience_sync', subjectId: 'vip-buyers', state: 'stale_snapshot', event: 'entered', workflowId: 'audience-sync:vip-buyers' });
    const { route: _r, ...noRoute } = facts;
    expect('route' in alertNotice(entered!, book.epoch, { ...noRoute, route: undefined })).toBe(false);
    // No advice in status: the state's own.
    const [err] = new AlertBook(undefined, 'e2').onCycleEnd('error', T, 1);
    expect(alertNotice(err!, 'e2', { ...facts, advice: null }).text).toContain('Advice: read the last error');
  });
});

describe('a destination\'s alert contacts', () => {
  const base = {
    destinationId: 'vip-buyers',
    advertiserId: '7000000000000000001',
    audienceName: 'VIP buyers',
    action: 'create',
    identifiers: { email: 'email' },
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: 'crm-vip',
  };

  it('are optional, and take email addresses and a webhook with its token by reference', () => {
    expect(parseDestinationConfig(base).alerts).toBeUndefined();
    const alerts = { email: ['ops@example.com'], webhook: { url: 'https://hooks.example.com/x', tokenRef: 'env:HOOK' } };
    expect(parseDestinationConfig({ ...base, alerts }).alerts).toEqual(alerts);
  });

  it.each([
    [{ email: ['not an address'] }, '$.alerts.email[0]: must be an email address'],
    [{ webhook: { url: 'https://hooks.example.com/x', tokenRef: 'sk_live_abc' } }, '$.alerts.webhook.tokenRef: must be a secret reference'],
    [{ webhook: { url: 'mailto:ops@example.com' } }, '$.alerts.webhook.url'],
    [{}, '$.alerts: name at least one of "email"'],
    [{ slack: '#ops' }, '$.alerts']
  ])('refuses %j, naming %s', (alerts, path) => {
    let err: unknown;
    try {
      parseDestinationConfig({ ...base, alerts }, 'vip.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DestinationConfigError);
    expect((err as DestinationConfigError).message).toContain('vip.json');
    expect((err as DestinationConfigError).message).toContain(path);
    expect((err as DestinationConfigError).message).not.toContain('sk_live_abc');
  });
});
