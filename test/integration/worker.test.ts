import { describe, expect, it } from 'vitest';
import { msToTs } from '@temporalio/common/lib/time';
import { createWorkers } from '../../src/worker';
import { MissingSearchAttributesError, SEARCH_ATTRIBUTE_NAMES } from '../../src/temporal/searchAttributes';
import { testClient, testEnv, uniqueId } from '../helpers/temporal';

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
    const env = { ...testEnv(), TEMPORAL_NAMESPACE: namespace };
    const attempt = createWorkers({ env, roles: ['control'] });
    await expect(attempt).rejects.toBeInstanceOf(MissingSearchAttributesError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`namespace "${namespace}" lacks the search attributes ttsync needs: ${SEARCH_ATTRIBUTE_NAMES.join(', ')}`),
    );
    await client.connection.close();
  });

  it('starts on the dev server, where the search attributes are registered, and drains on shutdown', async () => {
    const running = await createWorkers({ env: testEnv(), roles: ['control'], taskQueues: { control: uniqueId('tq') } });
    expect(running.workers[0]?.getState()).toBe('RUNNING');
    running.shutdown();
    await running.done;
    expect(running.workers[0]?.getState()).toBe('STOPPED');
  });
});
