import { temporal } from '@temporalio/proto';

/*
 * Where in a run's event history a reset may go, read from the history alone. Temporal resets
 * to a WorkflowTaskCompleted event: the new run keeps every event before that workflow task,
 * and the task runs again, so the commands it gave (e.g. scheduling an activity) are given
 * again and everything after it runs again; activities completed before it are not repeated.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const T = temporal.api.enums.v1.EventType;

/** `last-good`: just before the first step that failed; `start`: the run's first workflow task (everything runs again). */
export type ResetTo = 'last-good' | 'start';
export const RESET_TO: readonly ResetTo[] = ['last-good', 'start'];

export interface ResetPoint {
  to: ResetTo;
  /** A WorkflowTaskCompleted event id of the run. */
  eventId: number;
  /** Why this event, in words (the failed activity and its event, or "first workflow task"). */
  why: string;
}

/** What went wrong in a run, as its history shows it. */
export interface RunFailure {
  /** The event that failed (an activity's or child's failure or timeout, or the run's own). */
  eventId: number;
  /** e.g. `activity updateCustomAudience failed: PermissionDenied: …` */
  summary: string;
}

const idOf = (e: HistoryEvent): number => Number(e.eventId ?? 0);

const ACTIVITY_FAILED = new Set<number>([T.EVENT_TYPE_ACTIVITY_TASK_FAILED, T.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT]);
const CHILD_FAILED = new Set<number>([T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED, T.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT]);
const RUN_FAILED = new Set<number>([T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, T.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]);

function failureText(f: temporal.api.failure.v1.IFailure | null | undefined): string {
  if (!f) return 'no failure recorded';
  const type = f.applicationFailureInfo?.type;
  // An activity's failure wraps the application failure that says what happened.
  const inner = f.cause && !type ? failureText(f.cause) : null;
  return inner ?? `${type ? `${type}: ` : ''}${f.message ?? ''}`.trim();
}

/** The first failure in the run: a failed or timed-out activity or child, else the run's own failure; null when nothing failed. */
export function firstFailure(events: readonly HistoryEvent[]): RunFailure | null {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of events) {
    const type = e.eventType ?? 0;
    if (type === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) scheduled.set(idOf(e), e);
    if (ACTIVITY_FAILED.has(type)) {
      const a = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      const name = scheduled.get(Number(a?.scheduledEventId ?? 0))?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
      return { eventId: idOf(e), summary: `activity ${name} ${type === T.EVENT_TYPE_ACTIVITY_TASK_FAILED ? 'failed' : 'timed out'}: ${failureText(a?.failure)}` };
    }
    if (CHILD_FAILED.has(type)) {
      const c = e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes;
      return { eventId: idOf(e), summary: `child workflow ${c?.workflowExecution?.workflowId ?? ''} failed: ${failureText(e.childWorkflowExecutionFailedEventAttributes?.failure)}` };
    }
    if (RUN_FAILED.has(type)) {
      const f = e.workflowExecutionFailedEventAttributes?.failure;
      return { eventId: idOf(e), summary: type === T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED ? `the run failed: ${failureText(f)}` : 'the run timed out' };
    }
  }
  return null;
}

/** The first WorkflowTaskCompleted of the run: resetting there runs the whole run again from its input. */
export function startPoint(events: readonly HistoryEvent[]): ResetPoint | null {
  const first = events.find((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  return first ? { to: 'start', eventId: idOf(first), why: 'the first workflow task: the run starts again from its input' } : null;
}

/**
 * The last good point before `failure`: the workflow task that scheduled the failed activity
 * (or child), so the failed step runs again and nothing before it. A run that failed in its
 * own code after an activity goes back to the task that scheduled the last activity before
 * the failure, so the decision that failed sees a fresh answer; with no activity before it,
 * the first workflow task.
 */
export function lastGoodPoint(events: readonly HistoryEvent[], failure: RunFailure): ResetPoint | null {
  const byId = new Map(events.map((e) => [idOf(e), e]));
  const failed = byId.get(failure.eventId);
  const scheduledId = Number(
    failed?.activityTaskFailedEventAttributes?.scheduledEventId ??
      failed?.activityTaskTimedOutEventAttributes?.scheduledEventId ??
      failed?.childWorkflowExecutionFailedEventAttributes?.initiatedEventId ??
      failed?.childWorkflowExecutionTimedOutEventAttributes?.initiatedEventId ??
      0,
  );
  let cause = scheduledId ? byId.get(scheduledId) : undefined;
  if (!cause)
    cause = [...events].reverse().find((e) => idOf(e) < failure.eventId && (e.eventType === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED || e.eventType === T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED));
  const wftId = Number(cause?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId ?? cause?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowTaskCompletedEventId ?? 0);
  if (!cause || !wftId) {
    const start = startPoint(events);
    return start ? { ...start, to: 'last-good', why: `${start.why} (nothing ran before the failure at event ${failure.eventId})` } : null;
  }
  const name = cause.activityTaskScheduledEventAttributes?.activityType?.name ?? cause.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? 'step';
  return {
    to: 'last-good',
    eventId: wftId,
    why: `the workflow task that scheduled ${name} (event ${idOf(cause)}), before the failure at event ${failure.eventId}: steps completed before it are not repeated`,
  };
}

/** What a run did beside waiting: activities, children, timers that fired, accepted updates. A run that did none of these only waited. */
export function workDone(events: readonly HistoryEvent[]): { activities: number; children: number; updates: number; timersFired: number } {
  const n = (t: number): number => events.filter((e) => e.eventType === t).length;
  return {
    activities: n(T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
    children: n(T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
    updates: n(T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    timersFired: n(T.EVENT_TYPE_TIMER_FIRED),
  };
}

export interface SignalRecord {
  eventId: number;
  name: string;
  input: temporal.api.common.v1.IPayloads | null | undefined;
  header: temporal.api.common.v1.IHeader | null | undefined;
  /** Name and payload bytes, to match a signal with its reapplied copy. */
  key: string;
}

/** The run's signals after event `afterEventId`, in order. */
export function signalsAfter(events: readonly HistoryEvent[], afterEventId: number): SignalRecord[] {
  return events
    .filter((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && idOf(e) > afterEventId)
    .map((e) => {
      const a = e.workflowExecutionSignaledEventAttributes;
      const name = a?.signalName ?? '';
      const data = (a?.input?.payloads ?? []).map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('base64')).join(',');
      return { eventId: idOf(e), name, input: a?.input, header: a?.header, key: `${name}\u0000${data}` };
    });
}

/** The signals of `expected` that `got` lacks, each matched at most once. */
export function missingSignals(expected: readonly SignalRecord[], got: readonly SignalRecord[]): SignalRecord[] {
  const left = new Map<string, number>();
  for (const s of got) left.set(s.key, (left.get(s.key) ?? 0) + 1);
  return expected.filter((s) => {
    const n = left.get(s.key) ?? 0;
    if (n > 0) {
      left.set(s.key, n - 1);
      return false;
    }
    return true;
  });
}
