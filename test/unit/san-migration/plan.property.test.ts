import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProgramSchema, type DecisionKind } from '../../../src/san-migration/model';
import type { AppState, SanMigrationStatus } from '../../../src/san-migration/messages';
import { decide, isEnrolled, planNext } from '../../../src/san-migration/plan';

/* Invariants of the plan over arbitrary programs, decisions, app states and times. */

const T0 = Date.parse('2024-01-01T00:00:00Z');
const DAY = 86_400_000;
const APP_STATES: AppState[] = ['legacy', 'provisioned', 'self_configured', 'notice_sent', 'cut_over', 'opted_out', 'needs_app_id'];

const world = fc
  .record({
    mode: fc.constantFrom('opt_in' as const, 'opt_out' as const),
    deadline: fc.integer({ min: 0, max: 60 }),
    provisioningAfter: fc.integer({ min: 0, max: 10 }),
    targetAfter: fc.integer({ min: 0, max: 30 }),
    offsets: fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 3 }),
    decision: fc.constantFrom<DecisionKind | null>(null, 'opt_in', 'opt_out'),
    apps: fc.array(fc.record({ state: fc.constantFrom(...APP_STATES), cutoverIn: fc.integer({ min: -5, max: 90 }) }), { minLength: 1, maxLength: 4 }),
    now: fc.integer({ min: -10, max: 120 }),
    handledReminders: fc.boolean(),
    targetChecked: fc.boolean(),
    settled: fc.boolean(),
  })
  .map((w) => {
    const day = (d: number) => new Date(T0 + d * DAY).toISOString();
    const program = ProgramSchema.parse({
      programId: 'p',
      revision: 'r',
      mode: w.mode,
      decisionDeadline: day(w.deadline),
      provisioningDate: day(w.deadline + w.provisioningAfter),
      targetCompletionDate: day(w.deadline + w.provisioningAfter + w.targetAfter),
      reminderOffsets: w.offsets.map((o) => `${o}d`),
      sentences: { optIn: 'in', optOut: 'out' },
    });
    const status: SanMigrationStatus = {
      accountId: 'a',
      advertiserId: '1',
      phase: 'awaiting_decision',
      enrolled: false,
      program,
      decision: w.decision ? { kind: w.decision, by: 'x', at: day(0), sentence: 's', programId: 'p', programRevision: 'r' } : null,
      apps: w.apps.map((a, i) => ({
        appId: `app${i}`,
        platform: 'ios' as const,
        tiktokAppId: '1',
        state: a.state,
        networkName: 'n',
        targetMissed: false,
        ...(a.state === 'notice_sent' ? { cutover: { at: day(a.cutoverIn), announcedAt: day(0), shortNotice: false } } : {}),
      })),
      next: null,
      remindersHandled: w.handledReminders ? program.reminderOffsets.map((o) => `${program.decisionDeadline}|${o}`) : [],
      targetCheckedFor: w.targetChecked ? program.targetCompletionDate : null,
      notices: [],
      alerts: [],
      lastCampaignCheck: null,
      ...(w.settled ? { finalNote: 'settled' } : {}),
    };
    return { status, now: T0 + w.now * DAY };
  });

describe('plan invariants', () => {
  it('never provisions an account that is not enrolled, nor before the provisioning date', () => {
    fc.assert(
      fc.property(world, ({ status, now }) => {
        const p = planNext(status, now);
        if (p.step?.kind === 'provision') {
          expect(isEnrolled(status.program.mode, status.decision)).toBe(true);
          expect(now).toBeGreaterThanOrEqual(Date.parse(status.program.provisioningDate));
          expect(status.apps.some((a) => a.state === 'legacy')).toBe(true);
        }
      }),
    );
  });

  it('a plan that waits wakes strictly later; one with nothing dated is final or waits for TikTok', () => {
    fc.assert(
      fc.property(world, ({ status, now }) => {
        const p = planNext(status, now);
        if (p.step) return;
        if (p.wakeAt !== null) expect(p.wakeAt).toBeGreaterThan(now);
        else expect(['completed', 'not_enrolled', 'opted_out', 'awaiting_cutover']).toContain(p.phase);
      }),
    );
  });

  it('reminders only before the deadline and only to accounts that have not decided', () => {
    fc.assert(
      fc.property(world, ({ status, now }) => {
        const p = planNext(status, now);
        if (p.step?.kind !== 'remind') return;
        expect(now).toBeLessThan(Date.parse(status.program.decisionDeadline));
        expect(status.decision).toBeNull();
        expect(p.step.handled).toContain(p.step.key);
      }),
    );
  });

  it('a cutover is due exactly when an announced time has come', () => {
    fc.assert(
      fc.property(world, ({ status, now }) => {
        const due = status.apps.filter((a) => a.state === 'notice_sent' && Date.parse(a.cutover!.at) <= now);
        const p = planNext(status, now);
        if (due.length) expect(p.step).toMatchObject({ kind: 'cutover' });
        else expect(p.step?.kind).not.toBe('cutover');
      }),
    );
  });

  it('every decision after the deadline is refused and the message names the deadline', () => {
    fc.assert(
      fc.property(world, fc.constantFrom<DecisionKind>('opt_in', 'opt_out'), ({ status, now }, kind) => {
        const r = decide(status, kind, { by: 'someone@example.com' }, now);
        if (now > Date.parse(status.program.decisionDeadline)) {
          expect(r).toHaveProperty('problem');
          expect((r as { problem: string }).problem).toContain(status.program.decisionDeadline);
        } else if ('result' in r) {
          // An accepted decision never turns an account the mode did not ask about into the opposite.
          if (kind !== status.program.mode) expect(r.result.noop).toBe(true);
        }
      }),
    );
  });
});
