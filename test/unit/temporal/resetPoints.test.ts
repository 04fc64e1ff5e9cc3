import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { firstFailure, lastGoodPoint, missingSignals, signalsAfter, startPoint, workDone } from '../../../src/temporal/resetPoints';

/*
 * Reset points read from a history alone, on hand-made histories whose event ids are chosen
 * here, so each expected id is known without the code under test.
 */

type Event = temporal.api.history.v1.IHistoryEvent;
const T = temporal.api.enums.v1.EventType;
/** Event ids are int64 (Long) in the types; plain numbers here, as Number() reads both. */
const ev = (o: object): Event => o as Event;

const started = (id: number): Event => ev({ eventId: id, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED });
const wftCompleted = (id: number): Event => ev({ eventId: id, eventType: T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED });
const scheduled = (id: number, name: string, wft: number): Event =>
  ev({
  eventId: id,
  eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  activityTaskScheduledEventAttributes: { activityType: { name }, workflowTaskCompletedEventId: wft },
});
const completed = (id: number, sched: number): Event => ev({ eventId: id, eventType: T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, activityTaskCompletedEventAttributes: { scheduledEventId: sched } });
const failed = (id: number, sched: number, type: string, message: string): Event =>
  ev({
  eventId: id,
  eventType: T.EVENT_TYPE_ACTIVITY_TASK_FAILED,
  activityTaskFailedEventAttributes: { scheduledEventId: sched, failure: { message: 'Activity task failed', cause: { message, applicationFailureInfo: { type } } } },
});
const signaled = (id: number, name: string, data: string): Event =>
  ev({
  eventId: id,
  eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  workflowExecutionSignaledEventAttributes: { signalName: name, input: { payloads: [{ data: Buffer.from(data) }] } },
});

// inspect (5) and upload (9) completed; two edits scheduled by the task at 12, the second failed at 17.
const CYCLE: Event[] = [
  started(1),
  wftCompleted(4),
  scheduled(5, 'inspectSnapshot', 4),
  completed(7, 5),
  wftCompleted(8),
  scheduled(9, 'uploadCustomerFiles', 8),
  completed(11, 9),
  wftCompleted(12),
  scheduled(13, 'updateCustomAudience', 12),
  completed(15, 13),
  wftCompleted(16),
  signaled(17, 'syncNow', '{}'),
  scheduled(18, 'updateCustomAudience', 16),
  failed(20, 18, 'PermissionDenied', 'code 40001: No permission'),
  wftCompleted(23),
];

describe('reset points', () => {
  it('last-good is the workflow task that scheduled the failed activity; start is the first task', () => {
    const failure = firstFailure(CYCLE)!;
    expect(failure).toEqual({ eventId: 20, summary: 'activity updateCustomAudience failed: PermissionDenied: code 40001: No permission' });
    expect(lastGoodPoint(CYCLE, failure)).toMatchObject({ to: 'last-good', eventId: 16 });
    expect(startPoint(CYCLE)).toMatchObject({ to: 'start', eventId: 4 });
  });

  it('a run that failed in its own code goes back to the task that scheduled the last activity before the failure', () => {
    const events: Event[] = [
      ...CYCLE.slice(0, 7),
      wftCompleted(12),
      ev({ eventId: 13, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, workflowExecutionFailedEventAttributes: { failure: { message: 'no audience', applicationFailureInfo: { type: 'AudienceNotFound' } } } }),
    ];
    const failure = firstFailure(events)!;
    expect(failure).toEqual({ eventId: 13, summary: 'the run failed: AudienceNotFound: no audience' });
    expect(lastGoodPoint(events, failure)).toMatchObject({ eventId: 8 });
  });

  it('a run that failed before any activity goes back to its start; a run without a completed task has no point', () => {
    const events: Event[] = [started(1), wftCompleted(4), ev({ eventId: 5, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, workflowExecutionFailedEventAttributes: { failure: { message: 'bad' } } })];
    expect(lastGoodPoint(events, firstFailure(events)!)).toMatchObject({ to: 'last-good', eventId: 4 });
    expect(startPoint([started(1)])).toBeNull();
    expect(firstFailure(CYCLE.slice(0, 11))).toBeNull();
  });

  it('counts what a run did beside waiting', () => {
    expect(workDone(CYCLE)).toEqual({ activities: 4, children: 0, updates: 0, timersFired: 0 });
    expect(workDone([started(1), wftCompleted(4), signaled(5, 'pause', '')])).toEqual({ activities: 0, children: 0, updates: 0, timersFired: 0 });
  });

  it('matches signals by name and payload, each copy once', () => {
    const expected = signalsAfter([signaled(5, 'addChangeBatch', 'a'), signaled(6, 'addChangeBatch', 'a'), signaled(7, 'pause', '')], 0);
    const got = signalsAfter([signaled(30, 'addChangeBatch', 'a'), signaled(31, 'syncNow', 'a')], 0);
    expect(missingSignals(expected, got).map((s) => [s.eventId, s.name])).toEqual([
      [6, 'addChangeBatch'],
      [7, 'pause'],
    ]);
    expect(signalsAfter(CYCLE, 17)).toEqual([]);
    expect(signalsAfter(CYCLE, 16).map((s) => s.name)).toEqual(['syncNow']);
  });
});
