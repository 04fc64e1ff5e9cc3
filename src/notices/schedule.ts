import { SearchAttributeKeys } from '../temporal/searchAttributes';
import type { ScheduleSource } from '../temporal/schedules';
import { ScheduleIds, WorkflowIds } from '../temporal/workflowIds';

/*
 * The sweeper's one Schedule per deployment (`ttsync notices schedule`), through the same
 * idempotent apply as every lifecycle's: there is no config, so the set is one empty subject.
 * It starts the sweep itself, not a tick: the sweep writes nothing a single writer owns, and
 * overlap SKIP keeps two sweeps from delivering the same notice at once.
 */
export const noticesSweepSchedules: ScheduleSource<null> = {
  lifecycle: 'notices',
  idPrefix: ScheduleIds.noticesSweep(),
  defaultCadence: '15m',
  load: () => Promise.resolve([null]),
  plan: () => ({
    subject: 'notices',
    scheduleId: ScheduleIds.noticesSweep(),
    workflowType: 'noticesSweep',
    workflowId: WorkflowIds.noticesSweep(),
    input: {},
    typedSearchAttributes: [{ key: SearchAttributeKeys.Lifecycle, value: 'notices' }],
  }),
};
