import { describe, expect, it } from 'vitest';
import { askClosedRun } from '../../../src/audience-sync/closedQuery';

class NotRegistered extends Error {}
const notRegistered = (err: unknown) => err instanceof NotRegistered;

describe('askClosedRun (the last status of a run that ended)', () => {
  it('asks again after a refusal until a worker answers', async () => {
    let calls = 0;
    const r = await askClosedRun(
      async () => {
        calls++;
        if (calls < 3) throw new Error('workflow task failed while the worker restarted');
        return 'synced';
      },
      { deadlineMs: Date.now() + 5_000, pauseMs: 1, notRegistered },
    );
    expect(r).toEqual({ value: 'synced' });
    expect(calls).toBe(3);
  });

  it('stops at once for a run that never had the handler: nothing to show', async () => {
    let calls = 0;
    const r = await askClosedRun(
      async () => {
        calls++;
        throw new NotRegistered('Workflow did not register a handler for audienceSyncStatus');
      },
      { deadlineMs: Date.now() + 5_000, pauseMs: 1, notRegistered },
    );
    expect(r).toEqual({ value: null, unanswered: null });
    expect(calls).toBe(1);
  });

  it('gives up at the deadline and keeps the last reason', async () => {
    let t = 0;
    let calls = 0;
    const r = await askClosedRun(
      async () => {
        calls++;
        t += 400;
        throw new Error(`refused ${calls}`);
      },
      { deadlineMs: 1_000, now: () => t, pauseMs: 1, notRegistered },
    );
    expect(r).toEqual({ value: null, unanswered: 'refused 3' });
  });
});
