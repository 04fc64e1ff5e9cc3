import type { NoticeRequest, NoticeRoute } from '../notices/schema';
import type { AudienceSyncPhase, CarriedAlerts, OpenAlert, SyncError } from './messages';

export type { CarriedAlerts, OpenAlert } from './messages';

/*
 * When an audience sync needs a person, and when it no longer does. Each state below is
 * announced once when the destination enters it and once when it leaves it, never every
 * cycle: the open alerts are workflow state, carried across continue-as-new. Pure: the
 * workflow feeds it phases and cycle ends, and posts the notices it returns.
 *
 * Two kinds of state:
 * - parks, inside a cycle (processing_overdue, reauthorization_required): open when the phase
 *   becomes the state, clear when the phase moves on (processing_overdue stays open while a
 *   reauthorization park interrupts it: its poll comes back to it);
 * - outcomes, how a cycle ended (error, stale_snapshot, …): open when a cycle ends in the
 *   state, clear when a later cycle ends settled in another one (synced, or another outcome).
 *   A cycle that fails the same way again keeps the alert open and announces nothing.
 */

export const PARK_ALERT_STATES = ['processing_overdue', 'reauthorization_required'] as const;
export const OUTCOME_ALERT_STATES = [
  'error',
  'too_small_to_target',
  'stale_snapshot',
  'audience_conflict',
  'segment_conflict',
  'audience_missing',
  'audience_cap_reached',
] as const satisfies readonly AudienceSyncPhase[];

export type AlertState = (typeof PARK_ALERT_STATES)[number] | (typeof OUTCOME_ALERT_STATES)[number];
export const ALERT_STATES: readonly AlertState[] = [...OUTCOME_ALERT_STATES, ...PARK_ALERT_STATES];

/** Phases a cycle settles in that end an outcome alert (besides another outcome). */
const SETTLED: readonly AudienceSyncPhase[] = ['synced', ...OUTCOME_ALERT_STATES];

const isPark = (p: string): p is (typeof PARK_ALERT_STATES)[number] => (PARK_ALERT_STATES as readonly string[]).includes(p);
const isOutcome = (p: string): p is (typeof OUTCOME_ALERT_STATES)[number] => (OUTCOME_ALERT_STATES as readonly string[]).includes(p);

export interface AlertEvent {
  kind: 'entered' | 'cleared';
  alert: OpenAlert;
  /** The phase that cleared it (cleared only). */
  now?: AudienceSyncPhase;
}

/** Undelivered alert notices kept for another try; the oldest go first past this (each is still in the outbox). */
export const MAX_UNSENT = 20;

export class AlertBook {
  readonly epoch: string;
  private seq: number;
  private readonly open: OpenAlert[];
  private unsent: NoticeRequest[];

  constructor(carried: CarriedAlerts | undefined, epoch: string) {
    this.epoch = carried?.epoch ?? epoch;
    this.seq = carried?.seq ?? 0;
    this.open = [...(carried?.open ?? [])];
    this.unsent = [...(carried?.unsent ?? [])];
  }

  /**
   * A notice whose delivery failed for a reason that may pass (receiver down, refused for
   * now): posted again by takeUnsent() at the next cycle. Its key is kept, so the outbox
   * delivers only what is missing and receivers see no second copy of what arrived.
   */
  failed(notice: NoticeRequest): void {
    if (this.unsent.some((n) => n.key === notice.key)) return;
    this.unsent.push(notice);
    this.unsent.splice(0, Math.max(0, this.unsent.length - MAX_UNSENT));
  }

  /** The notices to post again now (they come back through failed() if they fail again). */
  takeUnsent(): NoticeRequest[] {
    return this.unsent.splice(0);
  }

  get openAlerts(): readonly OpenAlert[] {
    return this.open;
  }

  /** The phase changed (any time): parks open and clear here. */
  onPhase(phase: AudienceSyncPhase, at: string, cycle: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const a of [...this.open]) {
      if (!isPark(a.state) || a.state === phase) continue;
      if (a.state === 'processing_overdue' && phase === 'reauthorization_required') continue;
      events.push(this.close(a, phase));
    }
    if (isPark(phase) && !this.has(phase)) events.push(this.enter(phase, at, cycle));
    return events;
  }

  /** A cycle ended in `phase`: outcomes open and clear here. */
  onCycleEnd(phase: AudienceSyncPhase, at: string, cycle: number): AlertEvent[] {
    if (!SETTLED.includes(phase)) return [];
    const events: AlertEvent[] = [];
    for (const a of [...this.open]) if (isOutcome(a.state) && a.state !== phase) events.push(this.close(a, phase));
    if (isOutcome(phase) && !this.has(phase)) events.push(this.enter(phase, at, cycle));
    return events;
  }

  carry(): CarriedAlerts {
    return { epoch: this.epoch, seq: this.seq, open: [...this.open], ...(this.unsent.length ? { unsent: [...this.unsent] } : {}) };
  }

  private has(state: AudienceSyncPhase): boolean {
    return this.open.some((a) => a.state === state);
  }

  private enter(state: AlertState, at: string, cycle: number): AlertEvent {
    this.seq += 1;
    const alert: OpenAlert = { state, seq: this.seq, since: at, cycle };
    this.open.push(alert);
    return { kind: 'entered', alert };
  }

  private close(alert: OpenAlert, now: AudienceSyncPhase): AlertEvent {
    this.open.splice(this.open.indexOf(alert), 1);
    return { kind: 'cleared', alert, now };
  }
}

/** What to do, when the status has no advice of its own for the state. */
const FALLBACK_ADVICE: Record<AlertState, string> = {
  error: 'read the last error (ttsync audience status <destinationId>), fix its cause, then signal syncNow or wait for the next cadence',
  too_small_to_target: 'send more people: at least 5,000 phones or 10,000 emails',
  stale_snapshot: 'export a fresh snapshot and signal snapshotLanded (or syncNow)',
  audience_conflict: 'another destination writes this audience: retire one of them (ttsync audience release) or give this one its own audience',
  segment_conflict: 'the source segment is synced to another advertiser: set separateCopy with an audienceName of its own, or release the other destination',
  audience_missing: 'signal recreateAudience to create the audience again (or create it in TikTok under its configured name first)',
  audience_cap_reached: 'delete unused audiences in TikTok, or set audienceId to feed an existing audience',
  processing_overdue: 'check the audience in TikTok Ads Manager; ttsync keeps polling and continues when it becomes valid',
  reauthorization_required: 'replace the token behind the destination\'s accessToken secret, then signal "reauthorized"',
};

export interface AlertFacts {
  destinationId: string;
  advertiserId: string;
  audienceId: string | null;
  workflowId: string;
  /** The destination's own contacts; absent: the deployment's default route. */
  route: NoticeRoute | undefined;
  lastError: SyncError | null;
  advice: string | null;
}

/**
 * The notice announcing an alert event. Its key is made of the destination, the epoch, the
 * alert's number and state, and the event: the same event always makes the same key, so a
 * retried activity or a replay never makes a second notice.
 */
export function alertNotice(event: AlertEvent, epoch: string, facts: AlertFacts): NoticeRequest {
  const { alert } = event;
  const key = `audience-sync/${facts.destinationId}/${epoch}/${alert.seq}-${alert.state}/${event.kind}`;
  const who = `Destination ${facts.destinationId} (advertiser ${facts.advertiserId}, audience ${facts.audienceId ?? 'none yet'})`;
  const advice = facts.advice ?? ((ALERT_STATES as readonly string[]).includes(alert.state) ? FALLBACK_ADVICE[alert.state as AlertState] : null);
  const lines =
    event.kind === 'entered'
      ? [
          `${who} needs a person: it entered ${alert.state} at ${alert.since} (cycle ${alert.cycle}).`,
          '',
          ...(facts.lastError ? [`What happened: ${facts.lastError.type ? `${facts.lastError.type}: ` : ''}${facts.lastError.message}`] : []),
          ...(advice ? [`Advice: ${advice}`] : []),
          '',
          `ttsync announces this once, and once more when it clears.`,
        ]
      : [`${who} left ${alert.state}, which it had entered at ${alert.since} (cycle ${alert.cycle}); it is now ${event.now ?? 'running'}.`, '', 'Nothing more to do for this alert.'];
  return {
    key,
    ...(facts.route ? { route: facts.route } : {}),
    subject: `[ttsync] audience ${facts.destinationId}: ${alert.state} ${event.kind === 'entered' ? 'entered' : 'cleared'}`,
    text: `${lines.join('\n')}\n`,
    metadata: { lifecycle: 'audience_sync', subjectId: facts.destinationId, state: alert.state, event: event.kind, workflowId: facts.workflowId },
  };
}
