import type { Client, WorkflowHandle } from '@temporalio/client';
import { healthCheck, healthPingSignal, healthReleaseSignal, healthStatusQuery } from '../workflows';

/**
 * One canonical run per scenario, recorded into test/histories/<name>.json. Each should
 * cover the workflow's branches (timers, signals, activities) so replay catches reordering.
 */
export interface HistoryScenario {
  name: string;
  run(client: Client, taskQueue: string): Promise<WorkflowHandle>;
}

async function until(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('scenario did not reach its state in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'healthCheck-signals',
    async run(client, taskQueue) {
      const h = await client.workflow.start(healthCheck, {
        taskQueue,
        workflowId: 'healthCheck-signals',
        args: [{ timer: '200ms', waitForReleaseUpTo: '1m', note: 'recorded' }],
      });
      await until(async () => (await h.query(healthStatusQuery)).phase === 'awaiting_release');
      await h.signal(healthPingSignal);
      await until(async () => (await h.query(healthStatusQuery)).pings === 2);
      await h.signal(healthReleaseSignal);
      await h.result();
      return h;
    },
  },
  {
    name: 'healthCheck-plain',
    async run(client, taskQueue) {
      const h = await client.workflow.start(healthCheck, { taskQueue, workflowId: 'healthCheck-plain', args: [{ timer: '200ms' }] });
      await h.result();
      return h;
    },
  },
];
