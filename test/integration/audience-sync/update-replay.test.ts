import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHistoryFile, replayAll } from '../../../src/temporal/replay';
import { workflowsPath } from '../../../src/worker';

/*
 * The known issue of README "Known issue: an Update accepted beside other commands": a chaos
 * run's history whose replay fails in the TypeScript SDK 1.24 (sdk-core), kept so that the
 * day an SDK upgrade replays it, this test says so and the README and the caller-side
 * mitigation (updateConfig only when the config changed) can be revisited.
 */

const FIXTURE = join(__dirname, '..', '..', 'fixtures', 'chaos', 'audienceSync-update-replay-nde.json');

describe('the updateConfig replay non-determinism of a chaos run (SDK 1.24)', () => {
  it('the saved history still fails replay with the SDK error, and its shape is the one the README describes', async () => {
    const recorded = loadHistoryFile(FIXTURE);
    const events = recorded.history.events ?? [];
    const at = (id: number) => events.find((e) => Number(e.eventId) === id);
    // One workflow task (completed at 83, after a task that timed out on a killed worker's
    // sticky queue) wrote the cycle's upsert and next activity, then accepted and completed
    // an Update whose sequencing event (81) precedes them.
    expect(at(80)?.workflowTaskTimedOutEventAttributes).toBeTruthy();
    expect(at(83)?.workflowTaskCompletedEventAttributes).toBeTruthy();
    expect(at(84)?.upsertWorkflowSearchAttributesEventAttributes).toBeTruthy();
    expect(at(85)?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('buildCustomerFiles');
    const accepted = at(86)?.workflowExecutionUpdateAcceptedEventAttributes;
    expect(accepted?.acceptedRequest?.input?.name).toBe('updateConfig');
    expect(Number(accepted?.acceptedRequestSequencingEventId)).toBe(81);
    expect(at(87)?.workflowExecutionUpdateCompletedEventAttributes).toBeTruthy();

    // Replay hands the workflow the Update and the activity result in one activation, and the
    // SDK accepts the Update before any workflow code runs: the acceptance comes first and
    // does not match event 84. No workflow code can reorder that.
    const [outcome] = await replayAll({ workflowsPath: workflowsPath() }, [recorded]);
    expect(outcome?.ok).toBe(false);
    expect(outcome?.error).toContain('[TMPRL1100] Nondeterminism error: Update machine does not handle this event: HistoryEvent(id: 84, UpsertWorkflowSearchAttributes)');
  });
});
