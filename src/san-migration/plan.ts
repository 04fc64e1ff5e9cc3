import { durationMs } from '../config/duration';
import type { DecisionKind, Program, ProgramMode } from './model';
import { SAN_NETWORK_NAME } from './model';
import type {
  AppState,
  AppStatus,
  CutoverAnnouncement,
  CutoverAccepted,
  DecisionRecord,
  DecisionRequest,
  DecisionResult,
  MigrationPhase,
  SanMigrationStatus,
} from './messages';

/*
 * What happens next to one account, given the program, its decision, its apps and the time:
 * pure decisions the workflow follows (it only waits, runs the steps and records results),
 * so every rule is unit-tested without a server. Times are epoch milliseconds.
 */

const DAY_MS = 86_400_000;

/** Enrolled: opted in (opt-in program), or not opted out (opt-out program). */
export function isEnrolled(mode: ProgramMode, decision: Pick<DecisionRecord, 'kind'> | null): boolean {
  return mode === 'opt_in' ? decision?.kind === 'opt_in' : decision?.kind !== 'opt_out';
}

const deadlineMs = (p: Program): number => Date.parse(p.decisionDeadline);

/** Apps whose SAN integration exists, one way or the other: what TikTok can cut over. */
const HAS_SAN: readonly AppState[] = ['provisioned', 'self_configured', 'notice_sent', 'cut_over'];

export type Step =
  /** Notify the contacts of the deadline; `handled` are every reminder key this settles (earlier ones that came due together are not sent twice). */
  | { kind: 'remind'; key: string; offset: string; handled: string[] }
  /** The deadline passed and the account is not enrolled: record the final state. */
  | { kind: 'settle' }
  | { kind: 'provision' }
  | { kind: 'cutover'; appId: string }
  | { kind: 'target_check' };

export interface Plan {
  phase: MigrationPhase;
  enrolled: boolean;
  /** A step due now, if any (the workflow runs it, then asks again). */
  step: Step | null;
  /** The next date to wake at, if any; null: nothing is dated (wait for messages). */
  wakeAt: number | null;
  wakeFor: string | null;
}

export const reminderKey = (program: Program, offset: string): string => `${program.decisionDeadline}|${offset}`;

function reminderTimes(s: SanMigrationStatus): { key: string; offset: string; at: number }[] {
  const deadline = deadlineMs(s.program);
  return s.program.reminderOffsets
    .map((offset) => ({ key: reminderKey(s.program, offset), offset, at: deadline - (durationMs(offset) ?? 0) }))
    .filter((r) => !s.remindersHandled.includes(r.key))
    .sort((a, b) => a.at - b.at);
}

export function phaseOf(s: SanMigrationStatus, now: number): MigrationPhase {
  const p = s.program;
  if (now < deadlineMs(p)) return 'awaiting_decision';
  const enrolled = isEnrolled(p.mode, s.decision);
  // An announced cutover is TikTok's to make, enrolled or not (a self-configured app).
  const pendingCutover = s.apps.some((a) => a.state === 'notice_sent');
  if (!enrolled && !pendingCutover) return p.mode === 'opt_out' ? 'opted_out' : 'not_enrolled';
  if (!enrolled) return 'awaiting_cutover';
  if (now < Date.parse(p.provisioningDate)) return 'awaiting_provisioning';
  if (s.apps.some((a) => a.state === 'legacy')) return 'provisioning';
  if (s.apps.every((a) => a.state === 'cut_over')) return 'completed';
  return 'awaiting_cutover';
}

export function planNext(s: SanMigrationStatus, now: number): Plan {
  const p = s.program;
  const deadline = deadlineMs(p);
  const provisioning = Date.parse(p.provisioningDate);
  const target = Date.parse(p.targetCompletionDate);
  const enrolled = isEnrolled(p.mode, s.decision);
  const phase = phaseOf(s, now);
  const plan = (step: Step | null, wakeAt: number | null = null, wakeFor: string | null = null): Plan => ({ phase, enrolled, step, wakeAt, wakeFor });
  const wakes: { at: number; for: string }[] = [];

  // Cutovers first: TikTok's time is not ours to move, whatever else is due.
  const announced = s.apps.filter((a) => a.state === 'notice_sent' && a.cutover).sort((a, b) => Date.parse(a.cutover!.at) - Date.parse(b.cutover!.at));
  for (const a of announced) {
    const at = Date.parse(a.cutover!.at);
    if (at <= now) return plan({ kind: 'cutover', appId: a.appId });
    wakes.push({ at, for: `cutover of app ${a.appId}` });
  }

  if (now < deadline) {
    // Reminders go to accounts that have not answered; a late start sends only the latest due one.
    if (s.decision === null) {
      const pending = reminderTimes(s);
      const due = pending.filter((r) => r.at <= now);
      const latest = due.at(-1);
      if (latest) return plan({ kind: 'remind', key: latest.key, offset: latest.offset, handled: due.map((r) => r.key) });
      const next = pending[0];
      if (next) wakes.push({ at: next.at, for: `reminder ${next.offset} before the deadline` });
    }
    wakes.push({ at: deadline, for: 'decision deadline' });
  } else if (!enrolled) {
    if (!FINAL_APP_SETTLED(s)) return plan({ kind: 'settle' });
  } else {
    if (now < provisioning) wakes.push({ at: provisioning, for: 'provisioning date' });
    else if (s.apps.some((a) => a.state === 'legacy')) return plan({ kind: 'provision' });
    if (s.targetCheckedFor !== p.targetCompletionDate && phase !== 'completed') {
      if (target <= now) return plan({ kind: 'target_check' });
      wakes.push({ at: target, for: 'target completion date' });
    }
  }
  wakes.sort((a, b) => a.at - b.at);
  const first = wakes[0];
  return plan(null, first?.at ?? null, first?.for ?? null);
}

/** A not-enrolled account is settled when its apps show it (legacy kept, or opted out). */
function FINAL_APP_SETTLED(s: SanMigrationStatus): boolean {
  if (s.apps.some((a) => a.state === 'notice_sent')) return true;
  return s.finalNote !== undefined;
}

/** What settling a not-enrolled account does to its apps: opted-out apps say so; SAN integrations someone else made are theirs. */
export function settledApps(s: SanMigrationStatus): AppStatus[] {
  if (s.program.mode !== 'opt_out') return s.apps;
  return s.apps.map((a) => (a.state === 'legacy' || a.state === 'needs_app_id' ? { ...a, state: 'opted_out' as const, advice: undefined } : a));
}

export function finalNoteOf(s: SanMigrationStatus): string {
  const p = s.program;
  if (p.mode === 'opt_out')
    return `opted out of program ${p.programId} (revision ${p.revision}) by ${s.decision?.by ?? 'an earlier decision'}: the legacy integration stays untouched, and the account does not get the SAN integration's features until it migrates`;
  return `did not opt in to program ${p.programId} (revision ${p.revision}) by ${p.decisionDeadline}: the legacy integration stays active`;
}

const modeWord = (m: ProgramMode) => (m === 'opt_in' ? 'opt-in' : 'opt-out');
const kindWord = (k: DecisionKind) => (k === 'opt_in' ? 'opt-in' : 'opt-out');

/**
 * Whether a decision is accepted now, and what it records. Refused after the deadline (the
 * message names it), and against the mode unless it changes nothing: an opt-in in an
 * opt-out program only stands when the account has not opted out (and the reverse).
 */
export function decide(s: SanMigrationStatus, kind: DecisionKind, req: DecisionRequest, now: number): { result: DecisionResult } | { problem: string } {
  const p = s.program;
  if (!req.by || !req.by.trim()) return { problem: 'a decision needs --by: who decided (the advertiser contact or the operator recording it)' };
  if (now > deadlineMs(p))
    return {
      problem: `the decision deadline of program ${p.programId} was ${p.decisionDeadline}: ${kindWord(kind)} refused (received ${new Date(now).toISOString()}). ${
        isEnrolled(p.mode, s.decision) ? `The account stays enrolled: its apps are provisioned on ${p.provisioningDate}.` : 'The account keeps its legacy integration.'
      }`,
    };
  const current = s.decision?.kind ?? null;
  const modeKind: DecisionKind = p.mode;
  if (kind !== modeKind) {
    const opposite: DecisionKind = kind === 'opt_in' ? 'opt_out' : 'opt_in';
    if (current === opposite)
      return {
        problem: `program ${p.programId} is in ${modeWord(p.mode)} mode and this account already recorded an ${kindWord(opposite)} (by ${s.decision?.by} at ${s.decision?.at}): an ${kindWord(kind)} would undo it, which the program does not offer`,
      };
  }
  const sentence = kind === 'opt_in' ? p.sentences.optIn : p.sentences.optOut;
  const decision: DecisionRecord = {
    kind,
    by: req.by.trim(),
    at: new Date(now).toISOString(),
    sentence,
    ...(req.message ? { message: req.message } : {}),
    programId: p.programId,
    programRevision: p.revision,
  };
  // Same decision again (a retried command): the first record stands.
  if (current === kind && s.decision) return { result: { decision: s.decision, noop: true } };
  const noop = isEnrolled(p.mode, s.decision) === isEnrolled(p.mode, decision);
  return { result: { decision, noop } };
}

/** Whether TikTok's announced cutover of an app can be followed, and with how much notice. */
export function acceptCutover(s: SanMigrationStatus, ann: CutoverAnnouncement, now: number): { accepted: CutoverAccepted } | { problem: string } {
  const app = s.apps.find((a) => a.appId === ann.appId);
  if (!app) return { problem: `account ${s.accountId} has no app ${ann.appId} (apps: ${s.apps.map((a) => a.appId).join(', ')})` };
  const at = Date.parse(ann.at);
  if (!/[zZ]|[+-]\d\d:?\d\d$/.test(ann.at) || Number.isNaN(at)) return { problem: `cutover time ${JSON.stringify(ann.at)} is not an ISO 8601 time with its zone, e.g. 2024-03-18T09:00:00Z` };
  if (app.state === 'cut_over') return { problem: `app ${app.appId} was cut over at ${app.cutAt}: nothing to announce` };
  if (!HAS_SAN.includes(app.state))
    return {
      problem: `app ${app.appId} has no SAN integration (state ${app.state}): TikTok cannot cut it over${app.state === 'needs_app_id' ? '; record its TikTok App ID first' : app.state === 'legacy' ? '; it is provisioned on the provisioning date, or mark it self-configured' : ''}`,
    };
  const noticeMs = at - now;
  const shortNotice = noticeMs < s.program.noticeDays * DAY_MS;
  return { accepted: { appId: app.appId, at: new Date(at).toISOString(), shortNotice, noticeHours: Math.max(0, Math.round((noticeMs / 3_600_000) * 100) / 100) } };
}

/** An app's status after TikTok's cutover. */
export function cutOver(app: AppStatus, at: string): AppStatus {
  return { ...app, state: 'cut_over', cutAt: at, networkName: SAN_NETWORK_NAME, targetMissed: false, advice: undefined };
}

/** Apps flagged at the target completion date: everything not on SAN yet. */
export function flagTargetMissed(apps: AppStatus[]): AppStatus[] {
  return apps.map((a) => (a.state === 'cut_over' ? a : { ...a, targetMissed: true }));
}
