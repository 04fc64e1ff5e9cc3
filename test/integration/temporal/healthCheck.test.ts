import { describe, expect, it } from 'vitest';
import { healthCheck } from '../../../workflows/index';
import { healthPingSignal, healthReleaseSignal, healthStatusQuery } from '../../../workflows/healthCheck';
import { testClient, uniqueId, withWorkers } from '../../helpers/temporal';

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('healthCheck workflow on the Temporal dev server', () => {
  it('runs its activity, fires its timer, answers the query and obeys signals', async () => {
    const client = await testClient();
    const info = await client.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^1\.29\./); // the real server built from the CLI v1.5.1 module
    await withWorkers(async ({ taskQueue }) => {
      const workflowId = uniqueId('health');
      const handle = await client.workflow.start(healthCheck, {
        taskQueue,
        workflowId,
        args: [{ timer: '300ms', waitForReleaseUpTo: '1m', note: 'test' }],
      });
      const waiting = await waitFor(
        () => handle.query(healthStatusQuery),
        (s) => s.phase === 'awaiting_release',
      );
      expect(waiting.pings).toBe(1);
      expect(waiting.lastPing?.attempt).toBe(1);

      await handle.signal(healthPingSignal);
      await waitFor(() => handle.query(healthStatusQuery), (s) => s.pings === 2);
      await handle.signal(healthReleaseSignal);
      const result = await handle.result();
      expect(result).toMatchObject({ phase: 'done', pings: 2, signalsReceived: 2, released: true, releasedBySignal: true });

      const desc = await handle.describe();
      expect(desc.searchAttributes.Lifecycle).toEqual(['health']);
      const history = await handle.fetchHistory();
      // The timer and both activities really happened on the server.
      const names = (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('Attributes')));
      expect(names.filter((n) => n === 'timerFiredEventAttributes')).toHaveLength(1);
      expect(names.filter((n) => n === 'activityTaskCompletedEventAttributes')).toHaveLength(2);
      expect(names.filter((n) => n === 'workflowExecutionSignaledEventAttributes')).toHaveLength(2);
    });
    await client.connection.close();
  });

  it('finishes on its own when no release signal comes before the deadline', async () => {
    const client = await testClient();
    await withWorkers(async ({ taskQueue }) => {
      const r = await client.workflow.execute(healthCheck, {
        taskQueue,
        workflowId: uniqueId('health-timeout'),
        args: [{ timer: '100ms', waitForReleaseUpTo: '500ms' }],
      });
      expect(r).toMatchObject({ phase: 'done', pings: 1, released: false, releasedBySignal: false });
    });
    await client.connection.close();
  });
});
