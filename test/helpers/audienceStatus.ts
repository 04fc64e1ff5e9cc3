import type { WorkflowHandle } from '@temporalio/client';
import { audienceSyncStatusQuery, type AudienceSyncStatus } from '../../src/audience-sync/messages';

/** Polls the audienceSyncStatus query until `done` holds (a handle without a run id follows continue-as-new). */
export async function waitForStatus(h: WorkflowHandle, done: (s: AudienceSyncStatus) => boolean, timeoutMs = 60_000): Promise<AudienceSyncStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: AudienceSyncStatus | undefined;
  for (;;) {
    try {
      last = await h.query(audienceSyncStatusQuery);
      if (done(last)) return last;
    } catch (err) {
      // A query can land between a run's end and its continue-as-new successor's first task.
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`status did not reach the expected state; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Cycle `n` has ended: at least n cycles counted and none running. */
export const cycleDone =
  (n: number) =>
  (s: AudienceSyncStatus): boolean =>
    s.cycles >= n && s.currentRunId === null;
