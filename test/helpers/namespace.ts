import type { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ensureSearchAttributes } from '../../src/temporal/ensureSearchAttributes';
import { uniqueId } from './temporal';

/**
 * A new namespace on the run's server, with ttsync's search attributes: for a worker started
 * the way users start it (`ttsync worker`), which polls the default task queues, so that it
 * never takes tasks of another file's workers.
 */
export async function freshNamespace(client: Client, prefix: string): Promise<string> {
  const namespace = uniqueId(prefix);
  await client.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
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
  await ensureSearchAttributes(client, namespace);
  return namespace;
}
