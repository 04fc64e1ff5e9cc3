import { describe, expect, it } from 'vitest';
import { msToTs } from '@temporalio/common/lib/time';
import { createWorkers, defaultWorkflowBundlePath, workflowSource } from '../../../src/worker';
import { healthCheck } from '../../../workflows/index';
import { MissingSearchAttributesError, SEARCH_ATTRIBUTE_NAMES } from '../../../src/temporal/searchAttributes';
import { testClient, testTemporal, uniqueId, withWorkers } from '../../helpers/temporal';

describe('worker start-up', () => {
  it('refuses to start on a namespace that lacks the ttsync search attributes, naming them', async () => {
    const client = await testClient();
    const namespace = uniqueId('bare-ns');
    await client.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // A new namespace reaches the frontend's cache after a moment.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await client.connection.workflowService.describeNamespace({ namespace });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const attempt = createWorkers({ temporal: { ...testTemporal(), namespace }, roles: ['control'] });
    await expect(attempt).rejects.toBeInstanceOf(MissingSearchAttributesError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`namespace "${namespace}" lacks the search attributes ttsync needs: ${SEARCH_ATTRIBUTE_NAMES.join(', ')}`),
    );
    await client.connection.close();
  });

  it('starts on the dev server, where the search attributes are registered, and drains on shutdown', async () => {
    const running = await createWorkers({ temporal: testTemporal(), roles: ['control'], taskQueues: { control: uniqueId('tq') } });
    expect(running.workers[0]?.getState()).toBe('RUNNING');
    running.shutdown();
    await running.done;
    expect(running.workers[0]?.getState()).toBe('STOPPED');
  });

  it('runs workflows from the prebuilt production bundle (NODE_ENV=production)', async () => {
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(workflowSource({})).toEqual({ workflowBundle: { codePath: defaultWorkflowBundlePath() } });
    } finally {
      process.env.NODE_ENV = saved;
    }
    expect(() => workflowSource({ workflowBundlePath: '/nope/bundle.js' })).toThrow(/workflow bundle \/nope\/bundle\.js is missing/);
    const client = await testClient();
    await withWorkers(
      async ({ taskQueue }) => {
        const r = await client.workflow.execute(healthCheck, { taskQueue, workflowId: uniqueId('bundle'), args: [{ timer: '10ms' }] });
        expect(r.phase).toBe('done');
      },
      { workflowBundlePath: defaultWorkflowBundlePath() },
    );
    await client.connection.close();
  });
});
